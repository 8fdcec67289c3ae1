#!/bin/sh
# SPDX-License-Identifier: MIT
# check-frames NAME CONNECTORS BE_ALLOC TYPE IMPORT
#
# A guest (xl type TYPE: pv or pvh) with one vdispl device of CONNECTORS
# (xl's "id0:640x480;id1:1366x768") and be-alloc=BE_ALLOC draws known frames
# with xen-frames: frame 0 with SET_CRTC, the others with page flips. For
# each, dom0 takes a screenshot of every connector (dmabridgectl screenshot
# <unique-id>) and checks it pixel for pixel against the frame and against
# the checksum the guest read back from its buffer. Then: every buffer of
# the guest reached dmabridged as IMPORT (copy, zero-copy or be-alloc, from
# `dmabridgectl --json stats`), octets copied only on the copy path, no
# request refused, and the guest's kernel logged no display error.
#
# BOOT_TRIES=N: make the guest up to N times until it boots (PVH guests
# under TCG triple-fault early in some boots); skipped when none does.
# SCREENSHOTS=0: the frames are shown and acknowledged but not compared
# (for buffers dmabridged cannot read: see check zero-copy-screenshot).
. /usr/lib/dmab-xen/lib.sh
name=$1 connectors=$2 be_alloc=$3 type=$4 import=$5
frames=${FRAMES:-4}
tries=${BOOT_TRIES:-1}
shots=${SCREENSHOTS:-1}

ids=$(echo "$connectors" | tr ';' '\n' | cut -d: -f1)
count=$(echo "$ids" | wc -l)

booted() { grep -q '@DMABG begin' "$(guest_log "$name")" 2>/dev/null; }

dmab_start || finish
try=1
while :; do
	guest_create "$name" "xen-frames draw --frames $frames --timeout 20" "type = \"$type\"" \
		"vdispl = [ 'backend=0,be-alloc=$be_alloc,connectors=$connectors' ]" || {
		dmab_stop
		finish
	}
	domid=$guest_domid
	[ "$tries" -gt 1 ] || break
	limit=120
	while [ "$limit" -gt 0 ] && ! booted && guest_exists "$name"; do
		sleep 1
		limit=$((limit - 1))
	done
	booted && break
	note "boot $try of $tries of the $type guest failed: $(xl list "$name" 2>&1 | tail -n 1)"
	guest_show "$name"
	guest_destroy "$name"
	if [ "$try" -ge "$tries" ]; then
		dmab_stop
		echo "SKIP: the $type guest did not boot in $tries tries (under TCG, PVH" \
			"guests triple-fault early in some boots)"
		exit 77
	fi
	try=$((try + 1))
done

if guest_wait_connected "$name" "$domid" 60; then
	note "connected: backend state $(be_state "$domid"), frontend state $(fe_state "$domid")"
fi

k=0
while [ "$k" -lt "$frames" ] && [ "$failed" -eq 0 ]; do
	shown_is_k() { guest_read "$domid" dmab-frames/shown | grep -q "^$k "; }
	wait_for 60 "the guest to show frame $k" shown_is_k || break
	set -- $(guest_read "$domid" dmab-frames/shown)
	shift
	i=0
	for id in $ids; do
		[ "$shots" = 1 ] || break
		png=$ART/frame$k-$id.png
		if dmabridgectl screenshot "$id" "$png"; then
			xen-frames check "$png" "$k" "$i" "$1" || fail "frame $k of $id"
		else
			fail "screenshot of connector $id"
		fi
		shift
		i=$((i + 1))
	done
	[ "$k" -eq $((frames - 1)) ] && {
		echo "--- dmabridgectl status (last frame on screen)"
		dmabridgectl status
		echo "--- dmabridgectl stats"
		dmabridgectl stats
		for id in $ids; do
			stats=$(conn_stats "$id")
			echo "$id: $stats"
			n=$(conn_stat "$id" "$import")
			total=$(($(conn_stat "$id" copy) + $(conn_stat "$id" zero-copy) + \
				$(conn_stat "$id" be-alloc)))
			[ "${n:-0}" -gt 0 ] && [ "$n" -eq "$total" ] ||
				fail "$id: buffers are not all $import"
			copied=$(conn_stat "$id" bytes_copied)
			if [ "$import" = copy ]; then
				[ "${copied:-0}" -gt 0 ] || fail "$id: copy path, but no octet copied"
			else
				[ "${copied:-1}" -eq 0 ] || fail "$id: $import, but $copied octets copied"
			fi
			[ "$(conn_stat "$id" errors)" = 0 ] || fail "$id: requests refused"
		done
	}
	xenstore-write "/local/domain/$domid/data/dmab-frames/ack" "$k"
	k=$((k + 1))
done

guest_wait_exit "$name" 60
[ "$guest_status" = 0 ] || fail "xen-frames in the guest: exit status $guest_status"
if [ "$import" = copy ]; then
	# The copy path because the host refused zero copy, and said why.
	grep -q 'EXP_FROM_REFS: Invalid argument' "$RUN/dmabridged.log" ||
		fail "dmabridged did not log the refused EXP_FROM_REFS that made it copy"
fi
[ "$be_alloc" = 1 ] && trouble=$(dom0_grant_trouble) && fail "$trouble"
guest_destroy "$name"
guest_klog_clean "$name"
guest_show "$name"
dmab_stop
finish
