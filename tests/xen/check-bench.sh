#!/bin/sh
# SPDX-License-Identifier: MIT
# check-bench SECONDS: the benchmark's runner (bench --attach) measures
# dmabridged in dom0 for SECONDS while a guest flips through xen-drm-front
# (libdrm's modetest -v, as fast as its flip events come): server CPU per
# flip against the floor of what it did (a memcpy of the octets copied per
# frame on x86, a flip's wake-ups where the guest's buffers are zero copy),
# and what it added to the flips. Under TCG the figures are ratios only;
# the check fails on an error (no frame presented, the runner failing),
# never on a figure.
. /usr/lib/dmab-xen/lib.sh
seconds=${1:-5}
dmab_start || finish
guest_create bench "set -- \$(xen-frames ids); sleep $((seconds + 120)) | modetest -M xendrm-du -s \$1@\$2:\$3 -v" \
	"vdispl = [ 'backend=0,be-alloc=0,connectors=bench-0:640x480' ]" || { dmab_stop; finish; }
guest_wait_connected bench "$guest_domid" 90
frames=0
for _ in $(seq 600); do
	frames=$(conn_stat bench-0 frames)
	[ "${frames:-0}" -ge 20 ] && break
	sleep 0.2
done
if [ "${frames:-0}" -ge 20 ]; then
	bench --attach "$dmab_pid" --socket "$XDG_RUNTIME_DIR/dmabridge.sock" --seconds "$seconds" ||
		fail "bench --attach: exit status $?"
else
	fail "the guest's flips did not get going (${frames:-0} frames)"
fi
guest_destroy bench
guest_show bench
dmab_stop
finish
