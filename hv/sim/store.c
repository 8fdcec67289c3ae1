// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/sim/store.h"

#define PRIV_DOMID 0
#define DOMID_COUNT (UINT16_MAX + 1)

/* Internal access bit on top of read/write: may set permissions. */
#define PERM_OWNER 8u
#define PERM_ALL (DMAB_SIM_STORE_PERM_BOTH | PERM_OWNER)

static const struct dmab_sim_store_limits default_limits = {
	.max_nodes = 1000,
	.max_watches = 128,
	.max_transactions = 10,
	.max_tx_nodes = 1024,
	.max_perms = 5,
};

/* Which watches an event on a path reaches, as in xenstored. */
enum match {
	MATCH_EXACT,            /* watches on exactly the path */
	MATCH_SUBTREE,          /* watches on the path or any ancestor */
};

/*
 * A node lives in one table: the store's, or a transaction's, where it is
 * that transaction's copy of a node of the store (or a record that the
 * node is absent in its view).
 */
struct node {
	struct node *hnext;
	char *path;
	char *value;            /* len bytes and a NUL; NULL when len is 0 */
	size_t len;
	struct dmab_sim_store_perm *perms;
	unsigned int nperms;
	char **children;
	unsigned int nchildren, cap;
	uint64_t gen;           /* bumped by every change in the store */

	/* Transaction copies only. */
	struct node *tx_next;   /* in first-access order */
	uint64_t base_gen;      /* the store's gen at first access, 0: absent */
	bool absent, modified, fire;
	enum match match;
};

struct table {
	struct node **slots;
	size_t size;            /* a power of two */
	size_t count;
};

struct tx {
	struct tx *next;
	uint32_t id;
	uint16_t domid;
	struct table nodes;
	struct node *first, **tail;
	unsigned int count;
	long own_delta;         /* nodes owned by domid created minus removed */
	bool failed;
};

struct watch {
	struct watch *next;
	uint16_t domid;
	void *conn;
	char *path;             /* canonical */
	char *token;
	size_t prefix_len;      /* stripped from event paths of relative watches */
	uint64_t serial;
};

struct event {
	struct event *next;
	uint64_t serial;        /* of the watch */
	void *conn;
	char *token;            /* points into path[] */
	char path[];
};

struct domain_acc {
	uint32_t nodes, watches, txs;
};

struct dmab_sim_store {
	struct dmab_sim_store_limits limits;
	dmab_sim_store_fire_fn fire;
	void *user;

	struct table nodes;
	uint64_t generation;
	struct domain_acc *acc; /* indexed by domid */

	struct tx *txs;
	uint32_t last_tx;

	struct watch *watches;
	uint64_t last_serial;

	struct event *ev_head, **ev_tail;
	bool flushing;
};

/* What an operation sees: the store, or a transaction's view of it. */
struct view {
	struct dmab_sim_store *store;
	struct tx *tx;
	uint16_t caller;
};

static bool privileged(uint16_t domid)
{
	return domid == PRIV_DOMID;
}

/* ---- tables ---- */

static size_t hash_path(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

static int table_init(struct table *t, size_t size)
{
	t->slots = calloc(size, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->size = size;
	t->count = 0;
	return 0;
}

static void table_grow(struct table *t)
{
	size_t size = t->size * 2;
	struct node **slots = calloc(size, sizeof(*slots));

	/* Best effort: a full table only gets slower. */
	if (!slots)
		return;
	for (size_t i = 0; i < t->size; i++) {
		struct node *n = t->slots[i], *next;

		for (; n; n = next) {
			size_t h = hash_path(n->path) & (size - 1);

			next = n->hnext;
			n->hnext = slots[h];
			slots[h] = n;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->size = size;
}

static struct node *table_find(const struct table *t, const char *path)
{
	struct node *n = t->slots[hash_path(path) & (t->size - 1)];

	while (n && strcmp(n->path, path) != 0)
		n = n->hnext;
	return n;
}

static void table_insert(struct table *t, struct node *n)
{
	size_t h;

	if (t->count >= t->size)
		table_grow(t);
	h = hash_path(n->path) & (t->size - 1);
	n->hnext = t->slots[h];
	t->slots[h] = n;
	t->count++;
}

static void table_remove(struct table *t, struct node *n)
{
	struct node **link = &t->slots[hash_path(n->path) & (t->size - 1)];

	while (*link && *link != n)
		link = &(*link)->hnext;
	if (*link) {
		*link = n->hnext;
		t->count--;
	}
}

/* ---- nodes ---- */

static void node_clear_data(struct node *n)
{
	for (unsigned int i = 0; i < n->nchildren; i++)
		free(n->children[i]);
	free(n->children);
	free(n->value);
	free(n->perms);
	n->children = NULL;
	n->nchildren = n->cap = 0;
	n->value = NULL;
	n->len = 0;
	n->perms = NULL;
	n->nperms = 0;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	node_clear_data(n);
	free(n->path);
	free(n);
}

static void table_finish(struct table *t)
{
	for (size_t i = 0; i < t->size; i++) {
		struct node *n = t->slots[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			node_free(n);
		}
	}
	free(t->slots);
}

static struct node *node_new(const char *path, size_t len)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->path = malloc(len + 1);
	if (!n->path) {
		free(n);
		return NULL;
	}
	memcpy(n->path, path, len);
	n->path[len] = '\0';
	return n;
}

static int node_set_value(struct node *n, const void *value, size_t len)
{
	char *copy = NULL;

	if (len) {
		copy = malloc(len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, value, len);
		copy[len] = '\0';
	}
	free(n->value);
	n->value = copy;
	n->len = len;
	return 0;
}

static struct dmab_sim_store_perm *perms_dup(
		const struct dmab_sim_store_perm *perms, unsigned int count)
{
	struct dmab_sim_store_perm *copy = malloc(count * sizeof(*copy));

	if (copy)
		memcpy(copy, perms, count * sizeof(*copy));
	return copy;
}

static int children_reserve(struct node *n, unsigned int extra)
{
	unsigned int cap;
	char **children;

	if (n->nchildren + extra <= n->cap)
		return 0;
	cap = n->cap ? n->cap * 2 : 4;
	if (cap < n->nchildren + extra)
		cap = n->nchildren + extra;
	children = realloc(n->children, cap * sizeof(*children));
	if (!children)
		return -ENOMEM;
	n->children = children;
	n->cap = cap;
	return 0;
}

/* Takes name; room was reserved. */
static void children_add(struct node *n, char *name)
{
	n->children[n->nchildren++] = name;
}

static void children_remove(struct node *n, const char *name)
{
	for (unsigned int i = 0; i < n->nchildren; i++) {
		if (strcmp(n->children[i], name) == 0) {
			free(n->children[i]);
			memmove(&n->children[i], &n->children[i + 1],
				(n->nchildren - i - 1) * sizeof(*n->children));
			n->nchildren--;
			return;
		}
	}
}

static int node_copy_data(struct node *dst, const struct node *src)
{
	if (node_set_value(dst, src->value, src->len) < 0)
		goto err;
	dst->perms = perms_dup(src->perms, src->nperms);
	if (!dst->perms)
		goto err;
	dst->nperms = src->nperms;
	if (children_reserve(dst, src->nchildren) < 0)
		goto err;
	for (unsigned int i = 0; i < src->nchildren; i++) {
		char *name = strdup(src->children[i]);

		if (!name)
			goto err;
		children_add(dst, name);
	}
	return 0;

err:
	node_clear_data(dst);
	return -ENOMEM;
}

static void node_swap_data(struct node *a, struct node *b)
{
	struct node t = *a;

	a->value = b->value;
	a->len = b->len;
	a->perms = b->perms;
	a->nperms = b->nperms;
	a->children = b->children;
	a->nchildren = b->nchildren;
	a->cap = b->cap;
	b->value = t.value;
	b->len = t.len;
	b->perms = t.perms;
	b->nperms = t.nperms;
	b->children = t.children;
	b->nchildren = t.nchildren;
	b->cap = t.cap;
}

static uint16_t node_owner(const struct node *n)
{
	return n->perms[0].domid;
}

static const char *base_name(const char *path)
{
	return strrchr(path, '/') + 1;
}

/* Turn a path into its parent's, in place; "/" and "@special" give "/". */
static void to_parent(char *path)
{
	char *slash = strrchr(path + 1, '/');

	if (slash)
		*slash = '\0';
	else
		strcpy(path, "/");
}

/* ---- paths and permissions ---- */

static bool valid_chars(const char *path)
{
	return strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"abcdefghijklmnopqrstuvwxyz"
			"0123456789-/_@") == strlen(path);
}

/* *out: the absolute path, malloc'd. */
static int canonicalize(uint16_t caller, const char *path, bool allow_special,
		char **out)
{
	static const char local[] = "/local/domain/";
	unsigned int domid;
	size_t len, size;
	int off = 0;
	char *name;

	if (!path || !*path || !valid_chars(path) ||
	    (path[0] == '@' && !allow_special))
		return -EINVAL;
	len = strlen(path);
	if (len > DMAB_SIM_STORE_PATH_MAX)
		return -EINVAL;

	if (path[0] != '/' && path[0] != '@') {
		size = sizeof(local) + 6 + len;
		name = malloc(size);
		if (!name)
			return -ENOMEM;
		snprintf(name, size, "%s%u/%s", local, (unsigned int)caller, path);
	} else {
		name = strdup(path);
		if (!name)
			return -ENOMEM;
	}
	len = strlen(name);

	/*
	 * xenstored bounds a guest's paths below its home directory by
	 * XENSTORE_REL_PATH_MAX; the wire bounds all of them.
	 */
	if (sscanf(name, "/local/domain/%5u/%n", &domid, &off) != 1)
		off = 0;
	if ((len > 1 && name[len - 1] == '/') || strstr(name, "//") ||
	    len > DMAB_SIM_STORE_PATH_MAX ||
	    (!privileged(caller) && len - (size_t)off >= DMAB_SIM_STORE_REL_PATH_MAX)) {
		free(name);
		return -EINVAL;
	}
	*out = name;
	return 0;
}

static unsigned int perm_for(uint16_t domid,
		const struct dmab_sim_store_perm *perms, unsigned int count)
{
	if (privileged(domid) || perms[0].domid == domid ||
	    perms[0].domid == DMAB_SIM_STORE_DOMID_ANY)
		return PERM_ALL;
	for (unsigned int i = 1; i < count; i++) {
		if (perms[i].domid == domid ||
		    perms[i].domid == DMAB_SIM_STORE_DOMID_ANY)
			return perms[i].perm;
	}
	return perms[0].perm;
}

static unsigned int node_perm_for(uint16_t domid, const struct node *n)
{
	return perm_for(domid, n->perms, n->nperms);
}

/* ---- views ---- */

static struct tx *find_tx(struct dmab_sim_store *s, uint32_t id)
{
	struct tx *t = s->txs;

	while (t && t->id != id)
		t = t->next;
	return t;
}

static int view_init(struct view *v, struct dmab_sim_store *s,
		uint16_t caller, uint32_t tx)
{
	v->store = s;
	v->caller = caller;
	v->tx = NULL;
	if (tx == DMAB_SIM_STORE_NO_TX)
		return 0;
	v->tx = find_tx(s, tx);
	/* Another domain's transaction is as unknown as a stale one. */
	if (!v->tx || v->tx->domid != caller)
		return -ENOENT;
	return 0;
}

/*
 * *out: the node as the view sees it, or NULL if absent. The first time a
 * transaction looks at a path it copies the node (or records its absence)
 * with the store's generation, which its commit checks.
 */
static int view_get(struct view *v, const char *path, struct node **out)
{
	struct dmab_sim_store *s = v->store;
	struct tx *t = v->tx;
	struct node *e, *n;

	if (!t) {
		*out = table_find(&s->nodes, path);
		return 0;
	}

	e = table_find(&t->nodes, path);
	if (!e) {
		if (!privileged(t->domid) && t->count >= s->limits.max_tx_nodes) {
			/* As xenstored: the operation fails and so will the commit. */
			t->failed = true;
			return -ENOSPC;
		}
		e = node_new(path, strlen(path));
		if (!e)
			return -ENOMEM;
		n = table_find(&s->nodes, path);
		if (n) {
			if (node_copy_data(e, n) < 0) {
				node_free(e);
				return -ENOMEM;
			}
			e->base_gen = n->gen;
		} else {
			e->absent = true;
		}
		table_insert(&t->nodes, e);
		*t->tail = e;
		t->tail = &e->tx_next;
		t->count++;
	}
	*out = e->absent ? NULL : e;
	return 0;
}

static void mark_changed(struct view *v, struct node *n)
{
	if (v->tx)
		n->modified = true;
	else
		n->gen = ++v->store->generation;
}

static void account(struct view *v, uint16_t owner, int delta)
{
	if (!v->tx)
		v->store->acc[owner].nodes += delta;
	else if (owner == v->tx->domid)
		v->tx->own_delta += delta;
}

/*
 * The node at path with access perm for the caller. Failures say -ENOENT
 * only if the caller has some of perm on the nearest existing ancestor:
 * what is below a node one may not access is not told.
 */
static int get_checked(struct view *v, const char *path, unsigned int perm,
		struct node **out)
{
	char buf[DMAB_SIM_STORE_PATH_MAX + 1];
	struct node *n, *anc = NULL;
	int ret;

	ret = view_get(v, path, &n);
	if (ret < 0)
		return ret;
	if (n) {
		if ((node_perm_for(v->caller, n) & perm) != perm)
			return -EACCES;
		*out = n;
		return 0;
	}

	strcpy(buf, path);
	do {
		to_parent(buf);
		ret = view_get(v, buf, &anc);
		if (ret < 0)
			return ret;
	} while (!anc && strcmp(buf, "/") != 0);

	if (!anc || !(node_perm_for(v->caller, anc) & perm))
		return -EACCES;
	return -ENOENT;
}

/* ---- watch events ---- */

static bool is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (strncmp(child, parent, len) != 0)
		return false;
	/* As xenstored: a one-character parent ("/") matches any extension. */
	return len <= 1 || child[len] == '/' || child[len] == '\0';
}

static void queue_event(struct dmab_sim_store *s, const struct watch *w,
		const char *path)
{
	size_t plen = strlen(path) + 1, tlen = strlen(w->token) + 1;
	struct event *e = malloc(sizeof(*e) + plen + tlen);

	/* Out of memory: the event is lost, as xenstored drops what it cannot queue. */
	if (!e)
		return;
	e->next = NULL;
	e->serial = w->serial;
	e->conn = w->conn;
	memcpy(e->path, path, plen);
	e->token = e->path + plen;
	memcpy(e->token, w->token, tlen);
	*s->ev_tail = e;
	s->ev_tail = &e->next;
}

static void purge_events(struct dmab_sim_store *s, uint64_t serial)
{
	struct event **link = &s->ev_head;

	while (*link) {
		struct event *e = *link;

		if (e->serial == serial) {
			*link = e->next;
			free(e);
		} else {
			link = &e->next;
		}
	}
	s->ev_tail = link;
}

/* Deliver queued events; events queued meanwhile are delivered by the outer call. */
static void flush(struct dmab_sim_store *s)
{
	struct event *e;

	if (s->flushing)
		return;
	s->flushing = true;
	while ((e = s->ev_head)) {
		s->ev_head = e->next;
		if (!s->ev_head)
			s->ev_tail = &s->ev_head;
		s->fire(s->user, e->conn, e->path, e->token);
		free(e);
	}
	s->flushing = false;
}

/*
 * xenstored's rule: the watcher may read the changed node or its parent
 * (the parent's listing shows the node come and go), or could read the
 * node before a permission change or removal.
 */
static bool watch_permitted(struct dmab_sim_store *s, uint16_t domid,
		const char *path, const struct node *node,
		const struct dmab_sim_store_perm *old, unsigned int nold)
{
	char buf[DMAB_SIM_STORE_PATH_MAX + 1];
	const struct node *parent;

	if (old && (perm_for(domid, old, nold) & DMAB_SIM_STORE_PERM_READ))
		return true;
	if (!node)
		node = table_find(&s->nodes, path);
	if (!node)
		return false;
	if (node_perm_for(domid, node) & DMAB_SIM_STORE_PERM_READ)
		return true;
	strcpy(buf, node->path);
	to_parent(buf);
	parent = table_find(&s->nodes, buf);
	return parent && (node_perm_for(domid, parent) & DMAB_SIM_STORE_PERM_READ);
}

/* node: the changed node as it is now, or NULL (looked up; absent if removed). */
static void fire_watches(struct dmab_sim_store *s, const char *path,
		const struct node *node, enum match match,
		const struct dmab_sim_store_perm *old, unsigned int nold)
{
	for (struct watch *w = s->watches; w; w = w->next) {
		bool hit = match == MATCH_EXACT ? strcmp(path, w->path) == 0 :
			is_child(path, w->path);

		if (hit && watch_permitted(s, w->domid, path, node, old, nold))
			queue_event(s, w, path + w->prefix_len);
	}
}

/* In a transaction, remember to fire when (if) it commits. */
static void notify(struct view *v, struct node *n, enum match match,
		const struct dmab_sim_store_perm *old, unsigned int nold)
{
	if (!v->tx) {
		fire_watches(v->store, n->path, n, match, old, nold);
		return;
	}
	if (!n->fire || match == MATCH_SUBTREE)
		n->match = match;
	n->fire = true;
}

/* ---- changing the tree ---- */

/* Put a prepared new node into the view; returns the node as the view holds it. */
static struct node *link_new(struct view *v, struct node *n)
{
	struct node *e;

	account(v, node_owner(n), 1);
	if (!v->tx) {
		n->gen = ++v->store->generation;
		table_insert(&v->store->nodes, n);
		return n;
	}
	/* view_get() recorded the path as absent when it was looked up. */
	e = table_find(&v->tx->nodes, n->path);
	node_swap_data(e, n);
	e->absent = false;
	e->modified = true;
	node_free(n);
	return e;
}

static void unlink_node(struct view *v, struct node *n)
{
	account(v, node_owner(n), -1);
	if (!v->tx) {
		table_remove(&v->store->nodes, n);
		node_free(n);
		return;
	}
	node_clear_data(n);
	n->absent = true;
	n->modified = true;
}

/*
 * Create the absent node path and its absent ancestors, as xenstored's
 * construct_node(): they inherit the permissions of the nearest existing
 * ancestor, and an unprivileged caller owns them. All or nothing.
 */
static int create(struct view *v, const char *path, const void *value,
		size_t len, struct node **out)
{
	struct dmab_sim_store *s = v->store;
	char buf[DMAB_SIM_STORE_PATH_MAX + 1];
	struct node **fresh = NULL, *anc = NULL;
	size_t *ends = NULL, depth = 0;
	unsigned int k = 0;
	char *top_name = NULL;
	int ret;

	for (const char *p = path; *p; p++)
		depth += *p == '/';
	ends = calloc(depth, sizeof(*ends));
	fresh = calloc(depth, sizeof(*fresh));
	if (!ends || !fresh) {
		ret = -ENOMEM;
		goto out;
	}

	/* Walk up to the nearest existing node; "/" always exists. */
	strcpy(buf, path);
	while (!anc) {
		ends[k++] = strlen(buf);
		to_parent(buf);
		ret = view_get(v, buf, &anc);
		if (ret < 0)
			goto out;
	}

	if (!privileged(v->caller)) {
		long owned = (long)s->acc[v->caller].nodes +
			(v->tx ? v->tx->own_delta : 0);

		if (owned + (long)k > (long)s->limits.max_nodes) {
			ret = -ENOSPC;
			goto out;
		}
	}

	/* Prepare everything first, so that linking cannot fail. */
	ret = -ENOMEM;
	for (unsigned int i = 0; i < k; i++) {
		struct node *n = node_new(path, ends[i]);

		if (!n)
			goto out;
		fresh[i] = n;
		n->perms = perms_dup(anc->perms, anc->nperms);
		if (!n->perms)
			goto out;
		n->nperms = anc->nperms;
		if (!privileged(v->caller))
			n->perms[0].domid = v->caller;
		if (i == 0) {
			if (node_set_value(n, value, len) < 0)
				goto out;
		} else {
			char *name = strdup(base_name(fresh[i - 1]->path));

			if (!name || children_reserve(n, 1) < 0) {
				free(name);
				goto out;
			}
			children_add(n, name);
		}
	}
	top_name = strdup(base_name(fresh[k - 1]->path));
	if (!top_name || children_reserve(anc, 1) < 0)
		goto out;

	children_add(anc, top_name);
	top_name = NULL;
	mark_changed(v, anc);
	for (unsigned int i = k; i-- > 0;) {
		struct node *n = link_new(v, fresh[i]);

		fresh[i] = NULL;
		if (i == 0)
			*out = n;
	}
	ret = 0;

out:
	free(top_name);
	for (unsigned int i = 0; fresh && i < k; i++)
		node_free(fresh[i]);
	free(fresh);
	free(ends);
	return ret;
}

struct walk_frame {
	struct node *node;
	unsigned int next;
};

static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
	void *p;
	size_t n;

	if (need <= *cap)
		return 0;
	n = *cap ? *cap * 2 : 16;
	p = realloc(*array, n * elem);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = n;
	return 0;
}

/* *order: root and everything below, each node after its children. */
static int collect_subtree(struct view *v, struct node *root,
		struct node ***order, size_t *count)
{
	char buf[DMAB_SIM_STORE_PATH_MAX + 1];
	struct walk_frame *stack = NULL;
	size_t depth = 0, stack_cap = 0, order_cap = 0;
	struct node **list = NULL;
	int ret = 0;

	*count = 0;
	if (grow((void **)&stack, &stack_cap, 1, sizeof(*stack)) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	stack[depth++] = (struct walk_frame){ root, 0 };
	while (depth) {
		struct walk_frame *f = &stack[depth - 1];
		struct node *child;

		if (f->next == f->node->nchildren) {
			if (grow((void **)&list, &order_cap, *count + 1, sizeof(*list)) < 0) {
				ret = -ENOMEM;
				goto out;
			}
			list[(*count)++] = f->node;
			depth--;
			continue;
		}
		snprintf(buf, sizeof(buf), "%s/%s",
			strcmp(f->node->path, "/") ? f->node->path : "",
			f->node->children[f->next++]);
		ret = view_get(v, buf, &child);
		if (ret < 0)
			goto out;
		if (!child)
			continue;
		if (grow((void **)&stack, &stack_cap, depth + 1, sizeof(*stack)) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		stack[depth++] = (struct walk_frame){ child, 0 };
	}

out:
	free(stack);
	if (ret < 0) {
		free(list);
		list = NULL;
		*count = 0;
	}
	*order = list;
	return ret;
}

static int remove_subtree(struct view *v, struct node *root)
{
	char buf[DMAB_SIM_STORE_PATH_MAX + 1];
	struct node **order, *parent;
	size_t count;
	int ret;

	strcpy(buf, root->path);
	to_parent(buf);
	ret = view_get(v, buf, &parent);
	if (ret < 0)
		return ret;
	if (!parent)
		return -EINVAL;
	ret = collect_subtree(v, root, &order, &count);
	if (ret < 0)
		return ret;

	/*
	 * Fire while the nodes are still there to check permissions against:
	 * the removed node's watchers and its ancestors' with its path, each
	 * watcher of a node inside with that node's path.
	 */
	for (size_t i = 0; i < count; i++)
		notify(v, order[i], order[i] == root ? MATCH_SUBTREE : MATCH_EXACT,
			NULL, 0);

	children_remove(parent, base_name(root->path));
	mark_changed(v, parent);
	for (size_t i = 0; i < count; i++)
		unlink_node(v, order[i]);
	free(order);
	return 0;
}

/* ---- lifetime ---- */

static int add_initial(struct dmab_sim_store *s, const char *path,
		const struct dmab_sim_store_perm *perms, unsigned int count)
{
	struct node *n = node_new(path, strlen(path));

	if (!n)
		return -ENOMEM;
	n->perms = perms_dup(perms, count);
	if (!n->perms) {
		node_free(n);
		return -ENOMEM;
	}
	n->nperms = count;
	n->gen = ++s->generation;
	table_insert(&s->nodes, n);
	s->acc[perms[0].domid].nodes++;
	return 0;
}

struct dmab_sim_store *dmab_sim_store_create(
		const struct dmab_sim_store_limits *limits,
		dmab_sim_store_fire_fn fire, void *user)
{
	static const struct dmab_sim_store_perm dom0_only[] = {
		{ PRIV_DOMID, DMAB_SIM_STORE_PERM_NONE },
	};
	static const struct dmab_sim_store_perm readable[] = {
		{ PRIV_DOMID, DMAB_SIM_STORE_PERM_NONE },
		{ DMAB_SIM_STORE_DOMID_ANY, DMAB_SIM_STORE_PERM_READ },
	};
	struct dmab_sim_store *s;

	if (!fire)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fire = fire;
	s->user = user;
	s->ev_tail = &s->ev_head;
	s->limits = default_limits;
	if (limits) {
		if (limits->max_nodes)
			s->limits.max_nodes = limits->max_nodes;
		if (limits->max_watches)
			s->limits.max_watches = limits->max_watches;
		if (limits->max_transactions)
			s->limits.max_transactions = limits->max_transactions;
		if (limits->max_tx_nodes)
			s->limits.max_tx_nodes = limits->max_tx_nodes;
		if (limits->max_perms)
			s->limits.max_perms = limits->max_perms;
	}

	s->acc = calloc(DOMID_COUNT, sizeof(*s->acc));
	if (!s->acc)
		goto err_store;
	if (table_init(&s->nodes, 256) < 0)
		goto err_acc;
	/* As xenstored sets up: guests may watch domains go, not come. */
	if (add_initial(s, "/", dom0_only, 1) < 0 ||
	    add_initial(s, "@introduceDomain", dom0_only, 1) < 0 ||
	    add_initial(s, "@releaseDomain", readable, 2) < 0)
		goto err_nodes;
	return s;

err_nodes:
	table_finish(&s->nodes);
err_acc:
	free(s->acc);
err_store:
	free(s);
	return NULL;
}

static void tx_free(struct tx *t)
{
	table_finish(&t->nodes);
	free(t);
}

static void remove_watch(struct dmab_sim_store *s, struct watch **link)
{
	struct watch *w = *link;

	*link = w->next;
	purge_events(s, w->serial);
	s->acc[w->domid].watches--;
	free(w->path);
	free(w->token);
	free(w);
}

void dmab_sim_store_destroy(struct dmab_sim_store *store)
{
	struct event *e, *next;

	if (!store)
		return;
	while (store->watches)
		remove_watch(store, &store->watches);
	while (store->txs) {
		struct tx *t = store->txs;

		store->txs = t->next;
		tx_free(t);
	}
	for (e = store->ev_head; e; e = next) {
		next = e->next;
		free(e);
	}
	table_finish(&store->nodes);
	free(store->acc);
	free(store);
}

/* ---- operations ---- */

int dmab_sim_store_read(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path, char **value, size_t *len)
{
	struct view v;
	struct node *n;
	char *name, *copy;
	int ret;

	ret = view_init(&v, store, caller, tx);
	if (ret < 0)
		return ret;
	ret = canonicalize(caller, path, false, &name);
	if (ret < 0)
		return ret;
	ret = get_checked(&v, name, DMAB_SIM_STORE_PERM_READ, &n);
	if (ret < 0)
		goto out;
	copy = malloc(n->len + 1);
	if (!copy) {
		ret = -ENOMEM;
		goto out;
	}
	if (n->len)
		memcpy(copy, n->value, n->len);
	copy[n->len] = '\0';
	*value = copy;
	if (len)
		*len = n->len;

out:
	free(name);
	return ret;
}

int dmab_sim_store_write(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path, const void *value, size_t len)
{
	struct view v;
	struct node *n;
	char *name;
	int ret;

	if (!value && len)
		return -EINVAL;
	ret = view_init(&v, store, caller, tx);
	if (ret < 0)
		return ret;
	ret = canonicalize(caller, path, false, &name);
	if (ret < 0)
		return ret;
	if (len > DMAB_SIM_STORE_VALUE_MAX) {
		ret = -E2BIG;
		goto out;
	}

	ret = get_checked(&v, name, DMAB_SIM_STORE_PERM_WRITE, &n);
	if (ret == 0) {
		ret = node_set_value(n, value, len);
		if (ret < 0)
			goto out;
		mark_changed(&v, n);
	} else if (ret == -ENOENT) {
		ret = create(&v, name, value, len, &n);
		if (ret < 0)
			goto out;
	} else {
		goto out;
	}
	notify(&v, n, MATCH_SUBTREE, NULL, 0);

out:
	free(name);
	flush(store);
	return ret;
}

int dmab_sim_store_mkdir(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path)
{
	struct view v;
	struct node *n;
	char *name;
	int ret;

	ret = view_init(&v, store, caller, tx);
	if (ret < 0)
		return ret;
	ret = canonicalize(caller, path, false, &name);
	if (ret < 0)
		return ret;
	ret = get_checked(&v, name, DMAB_SIM_STORE_PERM_WRITE, &n);
	if (ret == -ENOENT) {
		ret = create(&v, name, NULL, 0, &n);
		if (ret == 0)
			notify(&v, n, MATCH_SUBTREE, NULL, 0);
	}
	free(name);
	flush(store);
	return ret;
}

int dmab_sim_store_rm(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path)
{
	char buf[DMAB_SIM_STORE_PATH_MAX + 1];
	struct view v;
	struct node *n, *parent;
	char *name;
	int ret;

	ret = view_init(&v, store, caller, tx);
	if (ret < 0)
		return ret;
	ret = canonicalize(caller, path, false, &name);
	if (ret < 0)
		return ret;
	ret = get_checked(&v, name, DMAB_SIM_STORE_PERM_WRITE, &n);
	if (ret == -ENOENT) {
		/* Already gone is fine, but only if the parent is there. */
		strcpy(buf, name);
		to_parent(buf);
		ret = view_get(&v, buf, &parent);
		if (ret == 0 && !parent)
			ret = -ENOENT;
	} else if (ret == 0) {
		ret = strcmp(name, "/") == 0 ? -EINVAL : remove_subtree(&v, n);
	}
	free(name);
	flush(store);
	return ret;
}

int dmab_sim_store_directory(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path, char ***names,
		unsigned int *count)
{
	struct view v;
	struct node *n;
	size_t size;
	char **list, *p;
	char *name;
	int ret;

	ret = view_init(&v, store, caller, tx);
	if (ret < 0)
		return ret;
	ret = canonicalize(caller, path, false, &name);
	if (ret < 0)
		return ret;
	ret = get_checked(&v, name, DMAB_SIM_STORE_PERM_READ, &n);
	if (ret < 0)
		goto out;

	size = (n->nchildren + 1) * sizeof(char *);
	for (unsigned int i = 0; i < n->nchildren; i++)
		size += strlen(n->children[i]) + 1;
	list = malloc(size);
	if (!list) {
		ret = -ENOMEM;
		goto out;
	}
	p = (char *)(list + n->nchildren + 1);
	for (unsigned int i = 0; i < n->nchildren; i++) {
		size_t l = strlen(n->children[i]) + 1;

		memcpy(p, n->children[i], l);
		list[i] = p;
		p += l;
	}
	list[n->nchildren] = NULL;
	*names = list;
	*count = n->nchildren;

out:
	free(name);
	return ret;
}

int dmab_sim_store_get_perms(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path, struct dmab_sim_store_perm **perms,
		unsigned int *count)
{
	struct dmab_sim_store_perm *copy;
	struct view v;
	struct node *n;
	char *name;
	int ret;

	ret = view_init(&v, store, caller, tx);
	if (ret < 0)
		return ret;
	ret = canonicalize(caller, path, true, &name);
	if (ret < 0)
		return ret;
	ret = get_checked(&v, name, DMAB_SIM_STORE_PERM_READ, &n);
	if (ret < 0)
		goto out;
	copy = perms_dup(n->perms, n->nperms);
	if (!copy) {
		ret = -ENOMEM;
		goto out;
	}
	*perms = copy;
	*count = n->nperms;

out:
	free(name);
	return ret;
}

int dmab_sim_store_set_perms(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, const char *path,
		const struct dmab_sim_store_perm *perms, unsigned int count)
{
	struct dmab_sim_store_perm *copy, *old;
	unsigned int nold;
	struct view v;
	struct node *n;
	char *name;
	int ret;

	ret = view_init(&v, store, caller, tx);
	if (ret < 0)
		return ret;
	if (!perms || count == 0)
		return -EINVAL;
	if (!privileged(caller) && count > store->limits.max_perms)
		return -ENOSPC;
	for (unsigned int i = 0; i < count; i++) {
		if (perms[i].perm > DMAB_SIM_STORE_PERM_BOTH)
			return -EINVAL;
	}
	ret = canonicalize(caller, path, true, &name);
	if (ret < 0)
		return ret;
	ret = get_checked(&v, name, DMAB_SIM_STORE_PERM_WRITE | PERM_OWNER, &n);
	if (ret < 0)
		goto out;
	if (!privileged(caller) && perms[0].domid != node_owner(n)) {
		ret = -EPERM;
		goto out;
	}
	copy = perms_dup(perms, count);
	if (!copy) {
		ret = -ENOMEM;
		goto out;
	}

	old = n->perms;
	nold = n->nperms;
	account(&v, node_owner(n), -1);
	n->perms = copy;
	n->nperms = count;
	account(&v, node_owner(n), 1);
	mark_changed(&v, n);
	/* Who could read it before hears that it can no longer. */
	notify(&v, n, MATCH_SUBTREE, old, nold);
	free(old);

out:
	free(name);
	flush(store);
	return ret;
}

/* ---- watches ---- */

int dmab_sim_store_watch(struct dmab_sim_store *store, uint16_t caller,
		void *conn, const char *path, const char *token)
{
	struct watch *w, **link;
	char *name;
	int ret;

	if (!token)
		return -EINVAL;
	ret = canonicalize(caller, path, true, &name);
	if (ret < 0)
		return ret;
	for (link = &store->watches; *link; link = &(*link)->next) {
		w = *link;
		if (w->domid == caller && w->conn == conn &&
		    strcmp(w->path, name) == 0 && strcmp(w->token, token) == 0) {
			ret = -EEXIST;
			goto err_name;
		}
	}
	if (!privileged(caller) &&
	    store->acc[caller].watches >= store->limits.max_watches) {
		ret = -ENOSPC;
		goto err_name;
	}

	ret = -ENOMEM;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto err_name;
	w->token = strdup(token);
	if (!w->token)
		goto err_watch;
	w->domid = caller;
	w->conn = conn;
	w->path = name;
	if (path[0] != '/' && path[0] != '@')
		w->prefix_len = strlen(name) - strlen(path);
	w->serial = ++store->last_serial;
	*link = w;
	store->acc[caller].watches++;

	/* Fire once right away, as xenstored does. */
	queue_event(store, w, path);
	flush(store);
	return 0;

err_watch:
	free(w);
err_name:
	free(name);
	return ret;
}

int dmab_sim_store_unwatch(struct dmab_sim_store *store, uint16_t caller,
		void *conn, const char *path, const char *token)
{
	struct watch **link;
	char *name;
	int ret;

	if (!token)
		return -EINVAL;
	ret = canonicalize(caller, path, true, &name);
	if (ret < 0)
		return ret;
	ret = -ENOENT;
	for (link = &store->watches; *link; link = &(*link)->next) {
		struct watch *w = *link;

		if (w->domid == caller && w->conn == conn &&
		    strcmp(w->path, name) == 0 && strcmp(w->token, token) == 0) {
			remove_watch(store, link);
			ret = 0;
			break;
		}
	}
	free(name);
	return ret;
}

void dmab_sim_store_unwatch_conn(struct dmab_sim_store *store, void *conn)
{
	struct watch **link = &store->watches;

	while (*link) {
		if ((*link)->conn == conn)
			remove_watch(store, link);
		else
			link = &(*link)->next;
	}
}

static void fire_special(struct dmab_sim_store *s, const char *path)
{
	fire_watches(s, path, NULL, MATCH_EXACT, NULL, 0);
	flush(s);
}

void dmab_sim_store_domain_introduced(struct dmab_sim_store *store,
		uint16_t domid)
{
	/* xenstored never announces the privileged domain. */
	if (!privileged(domid))
		fire_special(store, "@introduceDomain");
}

void dmab_sim_store_domain_released(struct dmab_sim_store *store,
		uint16_t domid)
{
	fire_special(store, "@releaseDomain");
}

/* ---- transactions ---- */

int dmab_sim_store_tx_start(struct dmab_sim_store *store, uint16_t caller,
		uint32_t *tx)
{
	struct tx *t;

	if (!tx)
		return -EINVAL;
	if (!privileged(caller) &&
	    store->acc[caller].txs >= store->limits.max_transactions)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (table_init(&t->nodes, 16) < 0) {
		free(t);
		return -ENOMEM;
	}
	t->tail = &t->first;
	t->domid = caller;
	do {
		t->id = ++store->last_tx;
	} while (t->id == DMAB_SIM_STORE_NO_TX || find_tx(store, t->id));
	t->next = store->txs;
	store->txs = t;
	store->acc[caller].txs++;
	*tx = t->id;
	return 0;
}

static bool tx_conflicts(struct dmab_sim_store *s, const struct tx *t)
{
	for (const struct node *e = t->first; e; e = e->tx_next) {
		const struct node *n = table_find(&s->nodes, e->path);

		if ((n ? n->gen : 0) != e->base_gen)
			return true;
	}
	return false;
}

/* Move every change of t into the store and fire; cannot fail. */
static void tx_apply(struct dmab_sim_store *s, struct tx *t)
{
	struct node *e, *next;

	for (e = t->first; e; e = next) {
		bool fire = e->fire, had_old;
		enum match match = e->match;
		struct node *n, *now;

		next = e->tx_next;
		if (!e->modified)
			continue;
		n = table_find(&s->nodes, e->path);
		had_old = n != NULL;
		if (e->absent) {
			/* e keeps the old data for the permission check. */
			if (n) {
				table_remove(&s->nodes, n);
				s->acc[node_owner(n)].nodes--;
				node_swap_data(e, n);
				node_free(n);
			}
			now = NULL;
		} else if (n) {
			s->acc[node_owner(n)].nodes--;
			s->acc[node_owner(e)].nodes++;
			node_swap_data(n, e);
			n->gen = ++s->generation;
			now = n;
		} else {
			/* A new node: the copy itself moves into the store. */
			table_remove(&t->nodes, e);
			e->tx_next = NULL;
			e->modified = e->fire = false;
			e->gen = ++s->generation;
			table_insert(&s->nodes, e);
			s->acc[node_owner(e)].nodes++;
			now = e;
		}
		if (fire)
			fire_watches(s, now ? now->path : e->path, now, match,
				had_old ? e->perms : NULL, had_old ? e->nperms : 0);
	}
}

int dmab_sim_store_tx_end(struct dmab_sim_store *store, uint16_t caller,
		uint32_t tx, bool commit)
{
	struct tx **link, *t;
	int ret = 0;

	for (link = &store->txs; *link; link = &(*link)->next) {
		if ((*link)->id == tx && (*link)->domid == caller)
			break;
	}
	t = *link;
	if (tx == DMAB_SIM_STORE_NO_TX || !t)
		return -ENOENT;
	*link = t->next;
	store->acc[caller].txs--;

	if (commit) {
		if (t->failed)
			ret = -ENOMEM;
		else if (!privileged(caller) && t->own_delta > 0 &&
			 (long)store->acc[caller].nodes + t->own_delta >
			 (long)store->limits.max_nodes)
			ret = -ENOSPC;
		else if (tx_conflicts(store, t))
			ret = -EAGAIN;
		else
			tx_apply(store, t);
	}
	tx_free(t);
	flush(store);
	return ret;
}

void dmab_sim_store_release_domain(struct dmab_sim_store *store,
		uint16_t domid)
{
	struct watch **wl = &store->watches;
	struct tx **tl = &store->txs;

	while (*wl) {
		if ((*wl)->domid == domid)
			remove_watch(store, wl);
		else
			wl = &(*wl)->next;
	}
	while (*tl) {
		struct tx *t = *tl;

		if (t->domid == domid) {
			*tl = t->next;
			store->acc[domid].txs--;
			tx_free(t);
		} else {
			tl = &t->next;
		}
	}
}

unsigned int dmab_sim_store_nodes_owned(const struct dmab_sim_store *store,
		uint16_t domid)
{
	return store->acc[domid].nodes;
}
