#!/bin/sh
# SPDX-License-Identifier: MIT
# check-teardown shutdown|destroy: a guest that goes away while it flips
# (`xl shutdown`: the guest powers off; `xl destroy`: it is killed) leaves
# nothing behind in dmabridged, and another guest does not notice.
#
# Guest B flips (modetest -v) throughout. With B alone, dmabridged's
# descriptors (/proc/<pid>/fd) and mappings (/proc/<pid>/maps) are the
# baseline and B's rate (dmabridgectl stats) is measured. Then guest A
# flips too, and A's buffers must show in dmabridged's descriptors or
# mappings (so that the comparison can see them); then A goes. Passes when
# A's domain is gone, no node of A is left under
# /local/domain/0/backend/vdispl, dmabridged's descriptors and file
# mappings are the baseline again, and B still flips at its rate (at least
# 3/4 of what it had alone).
. /usr/lib/dmab-xen/lib.sh
mode=$1
flip='set -- $(xen-frames ids); sleep 900 | modetest -M xendrm-du -s $1@$2:$3 -v'

# rate UNIQUE_ID: frames per second over 3 s, from the frame counter.
rate() {
	local a b
	a=$(conn_stat "$1" frames)
	sleep 3
	b=$(conn_stat "$1" frames)
	echo $(((${b:-0} - ${a:-0}) / 3))
}

flipping() { [ "$(conn_stat "$1" frames)" -gt 30 ] 2>/dev/null; }

dmab_start || finish
vd() { echo "vdispl = [ 'backend=0,be-alloc=0,connectors=$1:640x480' ]"; }
guest_create tdb "$flip" "$(vd tdb-0)" || { dmab_stop; finish; }
b=$guest_domid
guest_wait_connected tdb "$b" 90
wait_for 90 "guest B to flip" flipping tdb-0
sleep 2
dmab_snapshot "$RUN/base"
rate_alone=$(rate tdb-0)
note "guest B (domain $b) alone: $rate_alone frames/s; dmabridged:" \
	"$(grep -c '^fd' "$RUN/base") descriptors, $(grep -c '^map' "$RUN/base") file" \
	"mappings, $(cat "$RUN/base.anon") anonymous"

guest_create tda "$flip" "$(vd tda-0)" || { guest_destroy tdb; dmab_stop; finish; }
a=$guest_domid
guest_wait_connected tda "$a" 90
wait_for 90 "guest A to flip" flipping tda-0
dmab_snapshot "$RUN/with-a"
note "with guest A (domain $a) flipping too: B at $(rate tdb-0) frames/s, A at" \
	"$(rate tda-0); dmabridged: $(grep -c '^fd' "$RUN/with-a") descriptors," \
	"$(grep -c '^map' "$RUN/with-a") file mappings, $(cat "$RUN/with-a.anon") anonymous"
cmp -s "$RUN/base" "$RUN/with-a" &&
	fail "guest A's buffers do not show in dmabridged's descriptors or mappings"

note "xl $mode tda"
xl "$mode" tda || fail "xl $mode tda: exit status $?"
if ! wait_for 120 "guest A's domain to go after xl $mode" guest_gone tda; then
	echo "--- xl list"
	xl list
	echo "--- xl's processes"
	ps | grep '[x]l '
	echo "--- xl's log of guest A"
	cat /var/log/xen/xl-tda.log 2>/dev/null
	echo "--- dmabridged's threads"
	for t in /proc/"$dmab_pid"/task/*; do
		echo "    ${t##*/} $(cut -d' ' -f3 "$t/stat") $(cat "$t/wchan")"
	done
	guest_show tda
fi
note "waiting for guest A's backend nodes to go"
a_nodes() { xenstore-ls /local/domain/0/backend/vdispl 2>/dev/null | grep -q "^$a ="; }
wait_for 30 "guest A's nodes to leave /local/domain/0/backend/vdispl" eval '! a_nodes'
released() {
	dmab_snapshot "$RUN/after"
	cmp -s "$RUN/base" "$RUN/after"
}
note "waiting for dmabridged to release what guest A held"
if ! wait_for 30 "dmabridged to release what guest A held" released; then
	echo "--- what differs from the baseline (- baseline, + now)"
	diff "$RUN/base" "$RUN/after"
fi
note "after: dmabridged: $(grep -c '^fd' "$RUN/after") descriptors," \
	"$(grep -c '^map' "$RUN/after") file mappings, $(cat "$RUN/after.anon") anonymous"
echo "--- /local/domain/0/backend/vdispl"
xenstore-ls /local/domain/0/backend/vdispl
dmabridgectl status | grep -q "domain tda" && fail "dmabridgectl status still shows guest A"
rate_after=$(rate tdb-0)
note "guest B after A went: $rate_after frames/s (alone before: $rate_alone)"
[ $((rate_after * 4)) -ge $((rate_alone * 3)) ] ||
	fail "guest B's rate fell from $rate_alone to $rate_after frames/s"
[ "$(conn_stat tdb-0 errors)" = 0 ] || fail "dmabridged refused requests of guest B"
guest_destroy tdb
guest_show tda
guest_show tdb
dmab_stop
finish
