#!/bin/sh
# SPDX-License-Identifier: MIT
# check-modetest SECONDS: libdrm's modetest (a client nobody here wrote)
# flips pages as fast as the guest gets its flip events (-v), for SECONDS,
# through xen-drm-front and dmabridged. It prints its rate every 60 flips;
# the check passes with at least two such lines, none below 2 Hz, no
# "Frame done timed-out" nor refused request in the guest's kernel log, and
# no error in dmabridged's statistics.
#
# The rate is the guest's as much as dmabridged's: under TCG the guest runs
# several times slower than real time, the more so on a busy host (about
# 59 Hz on a quiet one, 9 to 17 Hz while another QEMU or a kernel build
# runs beside it), so the check does not hold it to the screen's 60 Hz. A
# frontend that stalls waits out its 3.1 s frame-done timeout for every
# frame: 60 flips then take over three minutes (0.3 Hz), far below 2 Hz.
. /usr/lib/dmab-xen/lib.sh
seconds=${1:-10}
dmab_start || finish
# modetest -v stops at input on stdin: a pipe that stays empty until sleep ends.
guest_create mt "set -- \$(xen-frames ids); sleep $seconds | modetest -M xendrm-du -s \$1@\$2:\$3 -v" \
	"vdispl = [ 'backend=0,be-alloc=0,connectors=mt-0:640x480' ]" || { dmab_stop; finish; }
domid=$guest_domid
guest_wait_connected mt "$domid" 90
stats=
for _ in $(seq $((seconds * 5 + 300))); do
	s=$(conn_stats mt-0) && stats=$s
	guest_exited mt && break
	sleep 0.2
done
guest_wait_exit mt 30
guest_destroy mt
guest_show mt
echo "--- the last statistics of the connector: $stats"
rates=$(grep -o 'freq: [0-9.]*' "$(guest_log mt)" | cut -d' ' -f2)
echo "modetest's rates (Hz): $(echo $rates)"
[ "$(echo "$rates" | grep -c .)" -ge 2 ] || fail "fewer than two rate lines from modetest"
slow=$(echo "$rates" | awk '$1 < 2')
[ -z "$slow" ] || fail "flips slower than 2 Hz (stalls): $(echo $slow)"
[ "$(echo "$stats" | grep -o '"errors":[0-9]*' | cut -d: -f2)" = 0 ] ||
	fail "dmabridged refused requests"
[ "$guest_status" = 0 ] || fail "modetest: exit status $guest_status"
guest_klog_clean mt
dmab_stop
finish
