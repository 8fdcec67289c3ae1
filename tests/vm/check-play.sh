#!/bin/sh
# SPDX-License-Identifier: MIT
# In the VM: dmabridged on the simulator with a headless screen, one guest
# (dmabridge-play) showing its pattern for a few seconds. Passes when the
# guest's frames reach the screen and its framebuffers reach dmabridged as
# dma-bufs (zero-copy, what /dev/dma_heap/system and /dev/udmabuf give the
# simulator); the screenshot of the screen comes back to the host
# ($DMAB_VM_ARTIFACTS).
set -u
dir=$(mktemp -d /tmp/dmab-play-XXXXXX)
export DMABRIDGE_SIM_SOCKET=$dir/sim.sock
export DMABRIDGE_SOCKET=$dir/control.sock
seconds=${PLAY_SECONDS:-5}

"$DMABRIDGED" >"$dir/dmabridged.log" 2>&1 &
server=$!
up=no
for _ in $(seq 200); do
	"$DMABRIDGECTL" status >/dev/null 2>&1 && { up=yes; break; }
	sleep 0.1
done
fail=0
if [ "$up" = yes ]; then
	dmabridge-play --name vm-play --create play0:640x480 >"$dir/play.log" 2>&1 &
	play=$!
	sleep "$seconds"
	echo "--- dmabridgectl status"
	"$DMABRIDGECTL" status | tee "$dir/status" || fail=1
	echo "--- dmabridgectl stats"
	"$DMABRIDGECTL" stats | tee "$dir/stats" || fail=1
	"$DMABRIDGECTL" screenshot "${DMAB_VM_ARTIFACTS:-$dir}/screen.png" || fail=1
	awk '$2 == "play0" { seen = 1; if ($3 > 0) shown = 1 } END { exit !shown }' \
		"$dir/stats" || { echo "FAIL: no frame of the guest reached the screen"; fail=1; }
	grep -q zero-copy "$dir/status" ||
		{ echo "FAIL: the guest's buffers did not reach dmabridged as dma-bufs"; fail=1; }
	kill -INT "$play" 2>/dev/null
	wait "$play"
	echo "--- dmabridge-play (exit status $?)"
	cat "$dir/play.log"
else
	echo "FAIL: dmabridged did not answer in 20 s"
	fail=1
fi
kill -TERM "$server" 2>/dev/null
wait "$server"
status=$?
echo "--- dmabridged (exit status $status)"
cat "$dir/dmabridged.log"
[ "$status" -eq 0 ] || fail=1
rm -rf "$dir"
exit "$fail"
