#!/bin/sh
# SPDX-License-Identifier: MIT
# In the VM: Debian's Weston on vkms (DRM backend, GL renderer on Mesa's
# software rasterizer), dmabridged's wayland output in a fullscreen window
# of it, and one guest (dmabridge-play) whose framebuffers are dma-heap
# dma-bufs. Passes when the guest's frames reach the compositor as they
# are: the connector shown "direct" (a linux-dmabuf wl_buffer) and no
# octet copied for the screen once the compositor imported them; the
# guest never waits for a flip. Skips when Weston's renderer dies of the
# dma-bufs it imported (what Mesa's llvmpipe does in this VM: see
# docs/wayland.md), as no compositor then shows them. Weston's screenshot of it comes back to the
# host ($DMAB_VM_ARTIFACTS). Skips (77) when Weston cannot start here.
set -u
dir=$(mktemp -d /tmp/dmab-weston-XXXXXX)
chmod 700 "$dir"
export XDG_RUNTIME_DIR=$dir
export DMABRIDGE_SIM_SOCKET=$dir/sim.sock
export DMABRIDGE_SOCKET=$dir/control.sock
seconds=${PLAY_SECONDS:-8}

# The vkms card, by its driver's name (card numbers follow probe order).
card=
for d in /sys/kernel/debug/dri/[0-9]*; do
	grep -q '^vkms ' "$d/name" 2>/dev/null && card=card${d##*/}
done
[ -n "$card" ] || { echo "no vkms card: skipped"; exit 77; }

# No seat daemon here: Weston's own launcher, as root, on a VT of its own.
# Mesa's software rasterizer for the GL renderer: softpipe unless told
# otherwise (WESTON_GALLIUM=llvmpipe).
GALLIUM_DRIVER=${WESTON_GALLIUM:-softpipe} weston --backend=drm-backend.so --drm-device="$card" --tty=2 --continue-without-input \
	--idle-time=0 --socket=wl-vm --debug >"$dir/weston.log" 2>&1 &
weston=$!
weston_died=no
up=no
for _ in $(seq 600); do
	[ -S "$dir/wl-vm" ] && { up=yes; break; }
	kill -0 "$weston" 2>/dev/null || break
	sleep 0.1
done
if [ "$up" != yes ]; then
	echo "--- weston did not start: skipped"
	cat "$dir/weston.log"
	kill -9 "$weston" 2>/dev/null
	exit 77
fi
sleep 3
grep -i -E "dmabuf|renderer|EGL|output" "$dir/weston.log" | head -20

cat >"$dir/dmabridged.ini" <<INI
[server]
output = wayland
[wayland]
display = wl-vm
[window.main]
width = 1024
height = 768
fullscreen = yes
[connector.play0]
screen = main
x = 0
y = 0
INI
"$DMABRIDGED" -c "$dir/dmabridged.ini" -v >"$dir/dmabridged.log" 2>&1 &
server=$!
fail=0
ok=no
for _ in $(seq 200); do
	"$DMABRIDGECTL" status 2>/dev/null | grep -q "screen main" && { ok=yes; break; }
	sleep 0.1
done
if [ "$ok" = yes ]; then
	dmabridge-play --name vm-weston --create play0:640x480 >"$dir/play.log" 2>&1 &
	play=$!
	# The frames before the compositor's answer to an import are copied:
	# from then on, none.
	sleep "$seconds"
	"$DMABRIDGECTL" --json status | tr ',' '\n' | grep '"copied_bytes"' >"$dir/copied.1"
	sleep 3
	echo "--- dmabridgectl status"
	"$DMABRIDGECTL" status | tee "$dir/status" || fail=1
	echo "--- dmabridgectl status --json (screens)"
	"$DMABRIDGECTL" --json status | tr ',' '\n' | grep -E '"(copied_bytes|frames|discarded|display|import)"' | tee "$dir/json"
	echo "--- dmabridgectl stats"
	"$DMABRIDGECTL" stats | tee "$dir/stats" || fail=1
	if command -v weston-screenshooter >/dev/null; then
		(cd "$dir" && WAYLAND_DISPLAY=wl-vm timeout 30 weston-screenshooter) &&
			cp "$dir"/wayland-screenshot-*.png "${DMAB_VM_ARTIFACTS:-$dir}/weston.png" 2>/dev/null
	fi
	grep -q zero-copy "$dir/status" ||
		{ echo "FAIL: the guest's buffers did not reach dmabridged as dma-bufs"; fail=1; }
	awk '$2 == "play0" { if ($3 > 0) shown = 1 } END { exit !shown }' "$dir/stats" ||
		{ echo "FAIL: no frame of the guest completed"; fail=1; }
	if kill -0 "$weston" 2>/dev/null; then
		grep -q '"display":"direct"' "$dir/json" ||
			{ echo "FAIL: the compositor did not take the guest's dma-buf"; fail=1; }
		grep '"copied_bytes"' "$dir/json" | cmp -s - "$dir/copied.1" ||
			{ echo "FAIL: octets were still copied for the screen in the last 3 s"; fail=1; }
	else
		# Its renderer, not dmabridged (it dies in Mesa's driver, sometimes
		# before dmabridged heard its answer): say so, and what the kernel saw.
		echo "--- weston died (renderer: ${WESTON_GALLIUM:-softpipe})"
		dmesg | grep -i -E "segfault|traps:" | tail -5
		weston_died=yes
	fi
	kill -INT "$play" 2>/dev/null
	wait "$play"
	echo "--- dmabridge-play (exit status $?)"
	cat "$dir/play.log"
	# The compositor's end never holds a guest: no flip waited for its timeout.
	grep -q ", 0 flip timeouts" "$dir/play.log" ||
		{ echo "FAIL: the guest's flips timed out"; fail=1; }
else
	echo "FAIL: dmabridged showed no screen in weston in 20 s"
	fail=1
fi
kill -TERM "$server" 2>/dev/null
wait "$server"
echo "--- dmabridged (exit status $?)"
cat "$dir/dmabridged.log" | tail -80
kill -TERM "$weston" 2>/dev/null
wait "$weston"
echo "--- weston (exit status $?)"
tail -60 "$dir/weston.log"
rm -rf "$dir"
if [ "$fail" = 0 ] && [ "$weston_died" = yes ]; then
	echo "weston's renderer cannot read the dma-bufs it imports here: not verified (skip)"
	exit 77
fi
exit $fail
