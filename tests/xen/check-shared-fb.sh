#!/bin/sh
# SPDX-License-Identifier: MIT
# check-shared-fb: two connectors of one guest showing one framebuffer, each
# its own part of it, as modetest sets them up with two pipes
# (-s A@CRTC1:640x480 -s B@CRTC2:800x600: one 1440x600 framebuffer, the
# second CRTC at x 640). Linux's xen-drm-front then sends SET_CONFIG with
# the framebuffer's size (1440x600) and the CRTC's position in it, not the
# mode's size (xen_drm_front_kms.c), so the rectangle it names is larger
# than the connector. Passes when both modesets succeed, no request is
# refused, and each connector shows its part of the framebuffer: the
# screenshot of each is the size of its mode, and they start in different
# colour bars of modetest's pattern.
. /usr/lib/dmab-xen/lib.sh
dmab_start || finish
guest_create sfb 'set -- $(xen-frames ids); sleep 20 | modetest -M xendrm-du -s $1@$2:640x480 -s $4@$5:800x600' \
	"vdispl = [ 'backend=0,be-alloc=0,connectors=sfb-0:640x480;sfb-1:800x600' ]" ||
	{ dmab_stop; finish; }
domid=$guest_domid
guest_wait_connected sfb "$domid" 90
shown() { [ "$(conn_stat sfb-1 errors)" != "" ] && grep -q 'setting mode' "$(guest_log sfb)"; }
wait_for 90 "modetest to set the modes" shown
sleep 3
for id in sfb-0 sfb-1; do
	echo "$id: $(conn_stats "$id")"
	[ "$(conn_stat "$id" errors)" = 0 ] || fail "dmabridged refused requests on $id"
	if dmabridgectl screenshot "$id" "$ART/$id.png"; then
		xen-frames check "$ART/$id.png" 0 0 >"$RUN/$id.check"
		cat "$RUN/$id.check"
	else
		fail "no screenshot of $id: it shows nothing"
	fi
done
grep -q '640x480' "$RUN/sfb-0.check" 2>/dev/null || fail "sfb-0 does not show 640x480"
grep -q '800x600' "$RUN/sfb-1.check" 2>/dev/null || fail "sfb-1 does not show 800x600"
# modetest fills the shared framebuffer with vertical colour bars across
# its width; sfb-1 shows it from x 640, in another bar than sfb-0 starts
# with. xen-frames check names the top-left pixel where it is not black
# (its own frame 0 is black there).
corner() { sed -n 's/.*first at (0, 0): \(#[0-9a-f]*\).*/\1/p' "$RUN/$1.check" 2>/dev/null; }
c0=$(corner sfb-0) c1=$(corner sfb-1)
note "top-left pixels: sfb-0 ${c0:-black}, sfb-1 ${c1:-black}"
[ -n "$c0" ] && [ -n "$c1" ] && [ "$c0" != "$c1" ] ||
	fail "sfb-1 does not show the framebuffer from x 640 (top-left ${c1:-black}," \
		"sfb-0's ${c0:-black})"
guest_wait_exit sfb 60
guest_destroy sfb
guest_show sfb
grep 'failed to set mode' "$(guest_log sfb)" && fail "modetest could not set the modes (above)"
guest_klog_clean sfb
echo "--- dmabridged's warnings"
grep -E ' (warn|error) ' "$RUN/dmabridged.log"
dmab_stop
finish
