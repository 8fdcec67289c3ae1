#!/bin/sh
# SPDX-License-Identifier: MIT
# check-be-alloc-pv: the documented failure of backend-allocated buffers
# with an x86 PV guest, kept as a check that names it.
#
# With be-alloc=1, dmabridged allocates the buffers and grants them to the
# guest; Linux's xen-drm-front (xen_drm_front_gem.c) maps the ballooned
# pages that hold those grants into the guest program with
# vm_map_pages(). In a PV guest that mapping is broken: the program dies
# with SIGBUS at its first write into the buffer, and the guest's kernel
# logs "BUG: Bad rss-counter state" and "BUG: Bad page state ... nonzero
# mapcount". It happens the same with another backend (xen-troops'
# displ_be): the fault is in the guest's driver, not in dmabridged, which
# answers every request of the guest correctly.
#
# The check passes while exactly that happens (the guest program killed by
# SIGBUS, the guest kernel's "Bad page state" or "Bad rss-counter state", and
# no request refused by dmabridged: no *ERROR* of xen-drm-front, no error in
# dmabridged's statistics). It fails when anything else happens, including
# the frames arriving: then the limitation is gone, and docs/xen.md and this
# check are to be changed.
. /usr/lib/dmab-xen/lib.sh
dmab_start || finish
guest_create bepv 'xen-frames draw --frames 2 --timeout 20' \
	"vdispl = [ 'backend=0,be-alloc=1,connectors=bepv-0:640x480' ]" || { dmab_stop; finish; }
domid=$guest_domid
guest_wait_connected bepv "$domid" 90
stats=
for _ in $(seq 300); do
	s=$(conn_stats bepv-0) && stats=$s
	guest_exited bepv && break
	# The guest may draw: then dom0 acknowledges, as check-frames does.
	shown=$(guest_read "$domid" dmab-frames/shown) &&
		xenstore-write "/local/domain/$domid/data/dmab-frames/ack" "${shown%% *}"
	sleep 0.2
done
guest_wait_exit bepv 60
guest_destroy bepv
guest_show bepv
echo "--- the last statistics of the connector: $stats"
klog=$(guest_klog bepv)
# Once per kind, with how often (one line per page).
symptom=$(echo "$klog" | grep -E 'Bad page state|Bad rss-counter state' |
	sed 's/pfn:[0-9a-f]*/pfn:.../' | sort | uniq -c)
refused=$(echo "$klog" | grep -F '*ERROR*')
errors=$(echo "$stats" | grep -o '"errors":[0-9]*' | cut -d: -f2)
# The buffers live for a moment only (the program dies at its first
# write): that dmabridged granted them shows as requests answered, none
# refused, and no failed grant in its log.
requests=$(echo "$stats" | grep -o '"requests":[0-9]*' | cut -d: -f2)
granted=$(grep -c 'granting a host buffer' "$RUN/dmabridged.log")
echo "--- verdict"
if [ "$guest_status" = 0 ]; then
	fail "the guest drew its frames with be-alloc=1: the documented PV be-alloc failure" \
		"is gone; update docs/xen.md and this check (check-be-alloc-pv.sh)"
elif [ "$guest_status" = 135 ] && [ -n "$symptom" ] && [ -z "$refused" ] &&
		[ "${errors:-0}" = 0 ] && [ "${requests:-0}" -gt 0 ] && [ "$granted" = 0 ]; then
	echo "expected failure, as documented: x86 PV guest with be-alloc=1:" \
		"xen-frames killed by SIGBUS (exit status 135), the guest kernel logged:"
	echo "$symptom" | sed 's/^/    /'
	echo "while dmabridged answered its ${requests} requests and refused none" \
		"(statistics: ${errors:-no} errors)"
elif trouble=$(dom0_grant_trouble); then
	fail "dom0 could not grant the buffers, so the guest's failure could not show:" \
		"$trouble"
else
	fail "not the documented PV be-alloc failure: guest exit status $guest_status" \
		"(SIGBUS is 135), guest kernel: '${symptom:-no Bad page/rss state}'," \
		"xen-drm-front errors: '${refused:-none}', dmabridged errors: ${errors:-?}" \
		"of ${requests:-?} requests"
fi
dmab_stop
finish
