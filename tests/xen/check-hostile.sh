#!/bin/sh
# SPDX-License-Identifier: MIT
# check-hostile PROGRAM: tests/integration's test-hostile-PROGRAM as
# user-space frontends in a real domU, against dmabridged in dom0, beside a
# well-behaved guest.
#
# dmabridged starts with the hostile programs' base configuration
# (evil-relay base-config); the good guest, a domain of its own, flips known
# frames through Linux's xen-drm-front (xen-frames loop on connector
# good0). The hostile domain has four vdispl devices (EVIL_XEN_DEVICES in
# tests/integration/evil.h: be-alloc 0 and 1, one and two connectors); its
# command unbinds the kernel's xen-drm-front from them and runs the program
# with DMAB_EVIL_XEN=1: each hostile guest is a process of that domain, and
# every check the program makes of dmabridged (its log, status, statistics,
# descriptors, screenshots, the good guest's frames and screen) goes
# through evil-relay, which serves the domain's XenStore requests here.
#
# Passes when the program passed (exit status 0), and then, with the
# hostile domain gone: no backend node of it is left, every one of its
# devices was removed (dmabridged's log), dmabridged holds exactly the
# descriptors and file mappings it held before it came, the good guest
# still flips and shows its frame pixel for pixel, stops cleanly and its
# kernel logged no display error, and dmabridged stops with status 0.
. /usr/lib/dmab-xen/lib.sh
prog=$1
conf=$RUN/hostile.conf

flipping() { [ "$(conn_stat good0 frames)" -gt 30 ] 2>/dev/null; }

# good_screen: hold the good guest between frames, compare its connector.
good_screen() {
	local held k crc
	xenstore-write "/local/domain/$good/data/dmab-frames/hold" 1
	held_now() { guest_read "$good" dmab-frames/held >/dev/null; }
	if wait_for 10 "the good guest to hold still" held_now; then
		set -- $(guest_read "$good" dmab-frames/held)
		k=$1 crc=$2
		if dmabridgectl screenshot good0 "$ART/good-$prog.png"; then
			xen-frames check "$ART/good-$prog.png" "$k" 0 "$crc" ||
				fail "the good guest's frame $k is not on its connector"
		else
			fail "screenshot of good0"
		fi
	fi
	xenstore-rm "/local/domain/$good/data/dmab-frames/hold"
}

evil-relay base-config >"$conf"
DMAB_SCREEN= dmab_start --log-level debug --config "$conf" || finish

guest_create good "xen-frames loop --timeout 30" \
	"vdispl = [ 'backend=0,be-alloc=0,connectors=good0:160x100' ]" || { dmab_stop; finish; }
good=$guest_domid
guest_wait_connected good "$good" 90
wait_for 90 "the good guest to flip" flipping || { guest_destroy good; guest_show good; dmab_stop; finish; }
sleep 1
dmab_snapshot "$RUN/base"
note "good guest (domain $good) flipping; dmabridged: $(grep -c '^fd' "$RUN/base")" \
	"descriptors, $(grep -c '^map' "$RUN/base") file mappings"

one="evil0:320x200" two="evil0:320x200;evil1:320x200"
dev() { echo "'backend=0,be-alloc=$1,connectors=$2'"; }
# The kernel's frontend lets go of the devices (Closing, then Closed), and
# gntalloc may share the 61 MiB of test-hostile-fairness (its limit is 1024
# pages by default). The programs' timing limits are four times looser
# (DMAB_EVIL_SLACK): under QEMU's emulation dom0's two vCPUs and the two
# guests' share two host cores, and each look at dmabridged is a XenStore
# round trip; the host tier holds dmabridged to the limits themselves.
cmd="for d in /sys/bus/xen/drivers/vdispl/vdispl-*; do"
cmd="$cmd echo \${d##*/} >/sys/bus/xen/drivers/vdispl/unbind || exit 1; done;"
cmd="$cmd echo 65536 >/sys/module/xen_gntalloc/parameters/limit || exit 1;"
cmd="$cmd DMAB_EVIL_XEN=1 DMAB_EVIL_SLACK=4 exec test-hostile-$prog"
GUEST_MEMORY=400 guest_create evil "$cmd" \
	"vdispl = [ $(dev 0 "$one"), $(dev 0 "$two"), $(dev 1 "$one"), $(dev 1 "$two") ]" || {
	guest_destroy good
	dmab_stop
	finish
}
evil=$guest_domid
evil-relay serve "$evil" "$good" "$dmab_pid" "$XDG_RUNTIME_DIR/dmabridge.sock" \
	"$RUN/dmabridged.log" "$conf" >"$RUN/relay.log" 2>&1 &
relay=$!

guest_wait_exit evil 900
note "test-hostile-$prog in domain $evil: exit status $guest_status"
[ "$guest_status" = 0 ] || fail "test-hostile-$prog failed in domain $evil (its console below)"
guest_show evil
wait_for 60 "the hostile domain to go" guest_gone evil || guest_destroy evil
wait "$relay"
echo "--- evil-relay"
cat "$RUN/relay.log"

evil_nodes() { xenstore-ls /local/domain/0/backend/vdispl 2>/dev/null | grep -q "^$evil ="; }
wait_for 30 "the hostile domain's nodes to leave /local/domain/0/backend/vdispl" \
	eval '! evil_nodes'
for devid in 0 1 2 3; do
	removed() { grep -q "dom$evil/vdispl$devid: device removed" "$RUN/dmabridged.log"; }
	wait_for 10 "the log to say dom$evil/vdispl$devid was removed" removed
done
released() {
	dmab_snapshot "$RUN/after"
	cmp -s "$RUN/base" "$RUN/after"
}
if ! wait_for 30 "dmabridged to release what the hostile domain held" released; then
	echo "--- what differs from before it came (- before, + now)"
	diff "$RUN/base" "$RUN/after"
fi
dmab_alive || fail "dmabridged died"

a=$(conn_stat good0 frames)
sleep 2
b=$(conn_stat good0 frames)
note "the good guest afterwards: $((${b:-0} - ${a:-0})) frames in 2 s, longest wait for a" \
	"flip event $(guest_read "$good" dmab-frames/max-wait-ms) ms"
[ "${b:-0}" -gt "${a:-0}" ] || fail "the good guest no longer flips"
good_screen
xenstore-write "/local/domain/$good/data/dmab-frames/stop" 1
guest_wait_exit good 60
[ "$guest_status" = 0 ] || fail "the good guest's xen-frames: exit status $guest_status"
guest_klog_clean good
guest_destroy good
guest_show good
dmab_stop
finish
