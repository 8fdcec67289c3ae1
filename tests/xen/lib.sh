# SPDX-License-Identifier: MIT
# What the Xen tier's checks share, in dom0: dmabridged, guests made with
# xl, their consoles, XenStore, and dmabridgectl's answers. Sourced by each
# check; a check fails when anything called fail().
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
GUEST_KERNEL=/boot/guest/kernel
GUEST_INITRD=/boot/guest/initramfs.cpio
GUEST_LOGS=/var/log/xen/console
# x86 guests are PV unless a check says otherwise; arm64 has one kind (pvh).
case "$(uname -m)" in
x86_64) GUEST_TYPE=pv ;;
*) GUEST_TYPE=pvh ;;
esac
ART=${DMAB_VM_ARTIFACTS:-/tmp}
RUN=/run/dmab-check
mkdir -p "$RUN"
failed=0
dmab_pid=

fail() { echo "FAIL: $*"; failed=1; }
note() { echo "# $*"; }

# finish: the check's exit status (after the caller's cleanup).
finish() {
	[ "$failed" -eq 0 ] && echo "PASS" || echo "FAILED"
	exit "$failed"
}

# wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds; fails the check
# (saying WHAT) if it does not within SECONDS.
wait_for() {
	local limit=$1 what=$2 tries=0
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		tries=$((tries + 1))
		if [ "$tries" -gt $((limit * 5)) ]; then
			fail "$what: not within $limit s"
			return 1
		fi
		sleep 0.2
	done
}

# ---- dmabridged ----

# dmab_start [dmabridged options]: in the background, on Xen, headless
# (DMAB_SCREEN, main=2048x1080@60 by default; empty: no headless screen,
# for a configuration that names the outputs).
dmab_start() {
	set -- ${DMAB_SCREEN-main=2048x1080@60} "$@"
	[ -n "${DMAB_SCREEN-x}" ] && set -- --screen "$@"
	"$DMABRIDGED" --hypervisor xen --control-socket "$XDG_RUNTIME_DIR/dmabridge.sock" \
		"$@" >"$RUN/dmabridged.log" 2>&1 &
	dmab_pid=$!
	wait_for 30 "dmabridged to answer dmabridgectl" dmabridgectl status || {
		cat "$RUN/dmabridged.log"
		return 1
	}
	note "dmabridged $dmab_pid up"
}

# running PID: alive and not yet a zombie.
running() { [ -d "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

# dmab_stop: SIGTERM, its exit status must be 0; prints its log. One that
# does not stop within 30 s fails the check, says where it waits, and is
# killed, so that the next check still runs.
dmab_stop() {
	[ -n "$dmab_pid" ] || return 0
	kill -TERM "$dmab_pid" 2>/dev/null
	local n=0
	while running "$dmab_pid" && [ "$n" -lt 150 ]; do
		sleep 0.2
		n=$((n + 1))
	done
	if running "$dmab_pid"; then
		fail "dmabridged did not stop within 30 s of SIGTERM"
		for t in /proc/"$dmab_pid"/task/*; do
			echo "    thread ${t##*/}: $(cat "$t/comm") waits in $(cat "$t/wchan")"
		done
		kill -KILL "$dmab_pid"
	fi
	wait "$dmab_pid"
	local status=$?
	echo "--- dmabridged (exit status $status)"
	cat "$RUN/dmabridged.log"
	[ "$status" -eq 0 ] || fail "dmabridged exited with status $status"
	dmab_pid=
}

# dmab_snapshot FILE: dmabridged's descriptors (number and target) and its
# mappings of files and devices (address range and path), to compare with
# cmp; then in FILE.anon the number of anonymous mappings, which the
# allocator may keep.
dmab_snapshot() {
	for f in /proc/"$dmab_pid"/fd/*; do
		echo "fd ${f##*/} $(readlink "$f")"
	done | sort >"$1"
	awk '$6 != "" && $6 !~ /^\[/ { print "map", $1, $2, $6, $7 }' \
		/proc/"$dmab_pid"/maps >>"$1"
	awk '$6 == "" { n++ } END { print n + 0 }' /proc/"$dmab_pid"/maps >"$1.anon"
}

dmab_alive() {
	[ -n "$dmab_pid" ] && kill -0 "$dmab_pid" 2>/dev/null
}

# conn_stats UNIQUE_ID: that connector's object of `dmabridgectl --json stats`.
conn_stats() {
	dmabridgectl --json stats | sed 's/{"connector"/\n{"connector"/g' |
		grep "\"unique_id\":\"$1\""
}

# conn_stat UNIQUE_ID KEY: one number of it (frames, fps, bytes_copied,
# errors, zero-copy, copy, be-alloc, ...).
conn_stat() {
	conn_stats "$1" | grep -o "\"$2\":[0-9.]*" | head -n 1 | cut -d: -f2
}

# ---- guests ----

# guest_create NAME COMMAND [XL LINE]...: a domain running COMMAND (sh -c)
# in its initramfs; sets guest_domid. Created paused, so the command is in
# XenStore before the guest looks for it. GUEST_MEMORY: its MiB (160).
guest_create() {
	local name=$1 cmd=$2 cfg=/run/xen-cfg/$1.cfg
	shift 2
	{
		echo "name = \"$name\""
		echo "type = \"$GUEST_TYPE\""
		echo "kernel = \"$GUEST_KERNEL\""
		echo "ramdisk = \"$GUEST_INITRD\""
		echo "extra = \"console=hvc0 loglevel=4 mitigations=off\""
		echo "memory = ${GUEST_MEMORY:-160}"
		echo "vcpus = 1"
		echo "on_poweroff = \"destroy\""
		echo "on_reboot = \"destroy\""
		echo "on_crash = \"preserve\""
		for line in "$@"; do echo "$line"; done
	} >"$cfg"
	rm -f "$GUEST_LOGS/guest-$name.log"
	guest_domid=
	if ! xl create -p "$cfg" >"$RUN/xl-$name.log" 2>&1; then
		cat "$RUN/xl-$name.log"
		fail "xl create $name"
		return 1
	fi
	guest_domid=$(xl domid "$name")
	xenstore-write "/local/domain/$guest_domid/data/dmab-cmd" "$cmd"
	xl unpause "$name"
	note "guest $name: domain $guest_domid: $cmd"
}

guest_log() { echo "$GUEST_LOGS/guest-$1.log"; }

guest_exists() { xl domid "$1" >/dev/null 2>&1; }
guest_gone() { ! guest_exists "$1"; }

guest_exited() { grep -q '@DMABG exit' "$(guest_log "$1")" 2>/dev/null; }

# guest_wait_exit NAME SECONDS: until the guest's command ended; sets
# guest_status (its exit status, or "none").
guest_wait_exit() {
	guest_status=none
	wait_for "$2" "guest $1 to finish its command" guest_exited "$1" || return 1
	guest_status=$(sed -n 's/.*@DMABG exit \([0-9]*\).*/\1/p' "$(guest_log "$1")" | head -n 1)
}

# guest_show NAME: its console, as xenconsoled logged it.
guest_show() {
	echo "--- console of guest $1 ($(guest_log "$1"))"
	cat "$(guest_log "$1")" 2>/dev/null
	cp "$(guest_log "$1")" "$ART/guest-$1.log" 2>/dev/null
}

# guest_destroy NAME: gone, whatever state it is in.
guest_destroy() {
	guest_exists "$1" || return 0
	xl destroy "$1" >/dev/null 2>&1
	wait_for 30 "guest $1 to be destroyed" guest_gone "$1"
}

# guest_klog NAME: the guest's kernel log, as it dumped it after its command.
guest_klog() {
	sed -n '/@DMABG klog/,/@DMABG exit/p' "$(guest_log "$1")" 2>/dev/null
}

# Lines of a kernel log that say the display (or the kernel) went wrong:
# DRM_ERROR ("*ERROR*", which is how xen-drm-front reports a request the
# backend refused and "Frame done timed-out"), BUG, WARNING, oopses.
KLOG_ERRORS='\*ERROR\*|timed-out|BUG|WARNING|Call Trace|Oops|Bad page|Bad rss'

# guest_klog_clean NAME: fails the check with the lines that match.
guest_klog_clean() {
	local bad
	bad=$(guest_klog "$1" | grep -E "$KLOG_ERRORS")
	[ -z "$bad" ] && return 0
	echo "$bad"
	fail "the kernel of guest $1 logged errors (above)"
}

# The vdispl device's xenbus states: backend (dom0's node) and frontend.
be_state() { xenstore-read "/local/domain/0/backend/vdispl/$1/0/state" 2>/dev/null; }
fe_state() { xenstore-read "/local/domain/$1/device/vdispl/0/state" 2>/dev/null; }
connected() { [ "$(be_state "$1")" = 4 ] && [ "$(fe_state "$1")" = 4 ]; }

# guest_wait_connected NAME DOMID SECONDS
guest_wait_connected() {
	wait_for "$3" "guest $1 (domain $2) to connect (XenbusState 4 on both sides)" \
		connected "$2" && return 0
	echo "# vdispl states of domain $2: backend $(be_state "$2"), frontend $(fe_state "$2")"
	return 1
}

# dom0_grant_trouble: why dmabridged could not grant a backend-allocated
# buffer, where dom0's kernel said so: a PV dom0 maps the dma-buf for
# IMP_TO_REFS through swiotlb-xen, which bounces what is not contiguous in
# machine memory and cannot bounce more than 256 KiB (docs/xen.md).
dom0_grant_trouble() {
	grep -q 'granting a host buffer' "$RUN/dmabridged.log" 2>/dev/null || return 1
	echo "dmabridged: $(grep -m 1 'granting a host buffer' "$RUN/dmabridged.log" | cut -c 10-);" \
		"dom0's kernel: $(dmesg | grep -m 1 'swiotlb buffer is full' || echo 'no swiotlb message')"
}

# The guest's word to dom0 in XenStore (xen-frames).
guest_read() { xenstore-read "/local/domain/$1/data/$2" 2>/dev/null; }
