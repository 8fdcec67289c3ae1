#!/bin/sh
# SPDX-License-Identifier: MIT
# check-drm IMPORT: dmabridged shows a Xen guest on dom0's own display, vkms
# (the drm output, not headless). The guest (xen-drm-front, 640x480) draws
# known frames with xen-frames; for each, dom0 checks the connector's
# screenshot pixel for pixel and, through vkms's CRC of what the CRTC
# scans out (debugfs), that the display shows exactly that frame at its
# place on black: whether dmabridged put it on a plane or composed it.
# IMPORT is how its buffers must arrive: on x86 PV by the copy path
# (EXP_FROM_REFS is refused), into a buffer the display scans out; on arm64
# zero copy, which vkms cannot scan out (it cannot vmap gntdev's dma-buf):
# composed from the guest's grants mapped read-only, nothing copied per
# frame but the composition itself.
. /usr/lib/dmab-xen/lib.sh
import=${1:-copy}
frames=3
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# vkms by the name its debugfs directory gives (a minor number per card).
card=
for d in /sys/kernel/debug/dri/[0-9]*; do
	grep -q '^vkms ' "$d/name" 2>/dev/null && card=card${d##*/}
done
[ -n "$card" ] || { echo "SKIP: no vkms card in dom0"; exit 77; }
crc_dir=/sys/kernel/debug/dri/${card#card}/crtc-0/crc
cat >"$RUN/drm.ini" <<INI
[server]
output = drm
[drm]
device = /dev/dri/$card
[connector.d]
unique-id = d-0
screen = Virtual-1
x = 96
y = 64
INI
DMAB_SCREEN= dmab_start -c "$RUN/drm.ini" || finish
screen=$(dmabridgectl --json status | tr -d '\n' | grep -o '"name":"Virtual-1"[^}]*')
width=$(echo "$screen" | sed -n 's/.*"width":\([0-9]*\).*/\1/p')
height=$(echo "$screen" | sed -n 's/.*"height":\([0-9]*\).*/\1/p')
size=${width:+${height:+${width}x$height}}
note "screen Virtual-1 ${size:-?}"
[ -n "$size" ] || fail "no screen Virtual-1 in dmabridgectl status"

# display_shows WANT: vkms's CRC of the CRTC is WANT for 3 frames in a row
# within 20 s (opening crc/data starts vkms's CRC of every frame).
display_shows() {
	echo auto >"$crc_dir/control" || return 1
	# Each read is one line and its terminating NUL.
	timeout 20 cat "$crc_dir/data" | tr -d '\0' | tee "$RUN/crc.txt" | awk -v want="$1" '
		{ got = $2; n = (got == want) ? n + 1 : 0; if (n >= 3) { ok = 1; exit } }
		END { print "display CRC " got " (" NR " frames), expected " want; exit !ok }'
}

guest_create d "xen-frames draw --frames $frames --timeout 30" \
	"vdispl = [ 'backend=0,be-alloc=0,connectors=d-0:640x480' ]" || { dmab_stop; finish; }
domid=$guest_domid
guest_wait_connected d "$domid" 90
k=0
while [ "$k" -lt "$frames" ] && [ "$failed" -eq 0 ] && [ -n "$size" ]; do
	shown_is_k() { guest_read "$domid" dmab-frames/shown | grep -q "^$k "; }
	wait_for 60 "the guest to show frame $k" shown_is_k || break
	set -- $(guest_read "$domid" dmab-frames/shown)
	png=$ART/drm-frame$k.png
	if dmabridgectl screenshot d-0 "$png"; then
		xen-frames check "$png" "$k" 0 "$2" || fail "frame $k of d-0"
	else
		fail "screenshot of connector d-0"
	fi
	want=$(xen-frames display-crc "$k" 0 96 64 640x480 "$size")
	display_shows "$want" || {
		echo "--- the first CRC lines read:"
		head -n 3 "$RUN/crc.txt"
		fail "the display does not show frame $k"
	}
	# The last frame on screen: how the display shows it, what it cost.
	[ "$k" -eq $((frames - 1)) ] && {
		display=$(dmabridgectl --json status | tr -d '\n' |
			grep -o '"unique_id":"d-0"[^}]*"display":"[^"]*"' |
			sed 's/.*"display":"\([^"]*\)"/\1/')
		note "d-0 on the display: ${display:-?}"
		case "$display" in
		"" | "not shown"*) fail "the guest's connector is not on the display: ${display:-no status}" ;;
		esac
		copied=$(conn_stat d-0 bytes_copied)
		note "d-0: ${copied:-?} octets copied, $(conn_stat d-0 frames) frames"
		n=$(conn_stat d-0 "$import")
		[ "${n:-0}" -gt 0 ] || fail "d-0: no buffer arrived as $import"
		if [ "$import" = copy ]; then
			[ "${copied:-0}" -gt 0 ] || fail "d-0: the copy path, but no octet copied"
		else
			[ "${copied:-1}" -eq 0 ] || fail "d-0: $import, but $copied octets copied"
		fi
		[ "$(conn_stat d-0 errors)" = 0 ] || fail "d-0: requests refused"
	}
	xenstore-write "/local/domain/$domid/data/dmab-frames/ack" "$k"
	k=$((k + 1))
done
guest_wait_exit d 60
[ "$guest_status" = 0 ] || fail "xen-frames in the guest: exit status $guest_status"
guest_destroy d
guest_klog_clean d
guest_show d
dmab_stop
finish
