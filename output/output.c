// SPDX-License-Identifier: MIT
/* The output layer's root: backends, their screens, and the views. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "output/output-impl.h"

struct dmab_output *dmab_output_create(struct wl_event_loop *loop)
{
	struct dmab_output *output = calloc(1, sizeof(*output));
	if (!output)
		return NULL;
	output->loop = loop;
	output->allocator = &dmab_system_allocator;
	wl_list_init(&output->backends);
	wl_list_init(&output->screens);
	wl_list_init(&output->views);
	wl_signal_init(&output->events.new_screen);
	output->limbo_timer = wl_event_loop_add_timer(loop, dmab_view_limbo_tick, output);
	if (!output->limbo_timer) {
		free(output);
		return NULL;
	}
	return output;
}

void dmab_output_destroy(struct dmab_output *output)
{
	if (!output)
		return;
	while (!wl_list_empty(&output->backends)) {
		struct dmab_backend *backend = wl_container_of(output->backends.next, backend, link);
		wl_list_remove(&backend->link);
		wl_list_init(&backend->link);
		backend->impl->destroy(backend);
	}
	while (!wl_list_empty(&output->views)) {
		struct dmab_view *view = wl_container_of(output->views.next, view, link);
		dmab_view_destroy(view);
	}
	wl_event_source_remove(output->limbo_timer);
	free(output);
}

int dmab_output_add_backend(struct dmab_output *output, struct dmab_backend *backend)
{
	backend->output = output;
	wl_list_insert(output->backends.prev, &backend->link);
	int ret = backend->impl->start(backend);
	if (ret) {
		dmab_log_errno(DMAB_LOG_ERROR, ret, "output %s", backend->name);
		wl_list_remove(&backend->link);
		wl_list_init(&backend->link);
		backend->impl->destroy(backend);
	}
	return ret;
}

struct dmab_screen *dmab_output_find_screen(struct dmab_output *output, const char *name)
{
	struct dmab_screen *screen;
	wl_list_for_each(screen, &output->screens, link) {
		if (!strcmp(screen->name, name))
			return screen;
	}
	return NULL;
}

const char *dmab_output_backend_type(struct dmab_output *output, size_t index)
{
	struct dmab_backend *backend;
	wl_list_for_each(backend, &output->backends, link) {
		if (index-- == 0)
			return backend->impl->type;
	}
	return NULL;
}

const char *dmab_screen_type(const struct dmab_screen *screen)
{
	return screen->backend->impl->type;
}

struct dmab_screen *dmab_output_first_screen(struct dmab_output *output)
{
	if (wl_list_empty(&output->screens))
		return NULL;
	struct dmab_screen *screen = wl_container_of(output->screens.next, screen, link);
	return screen;
}

struct emit_guard {
	struct wl_listener destroy;
	bool destroyed;
};

static void handle_guard_destroy(struct wl_listener *listener, void *data)
{
	struct emit_guard *guard = wl_container_of(listener, guard, destroy);
	wl_list_remove(&guard->destroy.link);
	guard->destroyed = true;
}

bool dmab_signal_emit_guarded(struct wl_signal *signal, struct wl_signal *destroy, void *data)
{
	/*
	 * libwayland unlinks its markers from the list head after the last
	 * listener returned: if one freed the object, the head would be freed
	 * memory. The listeners hang on a head on this stack meanwhile.
	 */
	struct emit_guard guard = { .destroy.notify = handle_guard_destroy };
	wl_signal_add(destroy, &guard.destroy);
	struct wl_signal local;
	wl_signal_init(&local);
	wl_list_insert_list(&local.listener_list, &signal->listener_list);
	wl_list_init(&signal->listener_list);
	wl_signal_emit_mutable(&local, data);
	if (guard.destroyed) {
		/* Listeners left on what is gone: unlinked, so removing them is harmless. */
		while (!wl_list_empty(&local.listener_list)) {
			struct wl_list *link = local.listener_list.next;
			wl_list_remove(link);
			wl_list_init(link);
		}
		return true;
	}
	wl_list_remove(&guard.destroy.link);
	/* Before those added meanwhile, which went onto signal itself. */
	wl_list_insert_list(&signal->listener_list, &local.listener_list);
	return false;
}

void dmab_backend_init(struct dmab_backend *backend, const struct dmab_backend_impl *impl,
		const char *name)
{
	memset(backend, 0, sizeof(*backend));
	backend->impl = impl;
	backend->name = strdup(name);
	wl_list_init(&backend->link);
}

void dmab_backend_finish(struct dmab_backend *backend)
{
	wl_list_remove(&backend->link);
	wl_list_init(&backend->link);
	free(backend->name);
	backend->name = NULL;
}
