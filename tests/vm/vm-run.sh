#!/bin/sh
# SPDX-License-Identifier: MIT
# The VM's first program after busybox init (its inittab runs this once as
# sysinit): mounts what the checks need, runs /etc/vm-setup if the tier has
# one (the Xen tier starts its daemons there), runs every check of
# /etc/vm-checks in turn and reports each on the second serial port, then
# reboots (QEMU runs with -no-reboot, so that ends the VM).
#
# /etc/vm-checks: one check per line, "<name> TAB <seconds> TAB <command>".
#
# Records on /dev/ttyS1 (nothing else writes there, so kernel messages on the
# console never mix with them; dmab.records= on the kernel command line names
# another port, such as a hypervisor's console where there is no second
# one), one per line, each opened with the boot's nonce from the kernel
# command line (dmab.nonce=):
#   @DMABVM <nonce> hello <kernel release> <uptime>
#   @DMABVM <nonce> data boot klog <base64>      the boot's kernel log
#   @DMABVM <nonce> begin <check> <uptime>
#   @DMABVM <nonce> data <check> <part> <base64>  part: out, klog, file:<name>
#   @DMABVM <nonce> end <check> <status> <seconds> <timed out: 0|1>
#   @DMABVM <nonce> done
# Closing a tty waits until its output is sent, so each record written with
# its own redirection is on the wire before the next step.
/bin/busybox --install -s
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /tmp /run /root
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=0755 run /run
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p -m 0700 /run/user/0
mkdir -p /run/vm

nonce=$(sed -n 's/.*dmab\.nonce=\([^ ]*\).*/\1/p' /proc/cmdline)
res=$(sed -n 's/.*dmab\.records=\([^ ]*\).*/\1/p' /proc/cmdline)
res=${res:-/dev/ttyS1}
case "$res" in
/dev/ttyS*) stty -F "$res" 115200 raw -echo 2>/dev/null ;;
esac

# The kernel gives init 1024 descriptors, 4096 at most; dmabridged raises
# its own limit to the most it may have, as a server under systemd has
# 524288 (its default), so give the checks what such a system gives.
ulimit -Hn 524288
ulimit -Sn 1024
export HOME=/root
export XDG_RUNTIME_DIR=/run/user/0
export DMABRIDGED=/usr/bin/dmabridged
export DMABRIDGECTL=/usr/bin/dmabridgectl
export DMABRIDGE_PLAY=/usr/bin/dmabridge-play

uptime_s() { cut -d' ' -f1 /proc/uptime; }
emit() { echo "@DMABVM $nonce $*" >"$res"; }
# ship <check> <part> <file>: the file in base64, one record per line.
ship() {
	[ -s "$3" ] || return 0
	base64 "$3" | sed "s/^/@DMABVM $nonce data $1 $2 /" >"$res"
}
say() { echo "dmabridge-vm $nonce: $*" >/dev/console; }

# Every process but init, this script, the kernel's threads (children of
# kthreadd, pid 2) and what /etc/vm-setup started: what a check left behind
# must not run into the next one.
keep=" "
kill_leftovers() {
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		case "$pid" in 1 | 2 | $$) continue ;; esac
		case "$keep" in *" $pid "*) continue ;; esac
		read -r _ _ _ ppid _ <"$d/stat" 2>/dev/null || continue
		[ "$ppid" = 2 ] || kill -9 "$pid" 2>/dev/null
	done
}

if [ -f /etc/vm-setup ]; then
	. /etc/vm-setup >/run/vm/setup.log 2>&1
	for d in /proc/[0-9]*; do keep="$keep${d#/proc/} "; done
fi

emit hello "$(uname -r)" "$(uptime_s)"
dmesg -c >/run/vm/boot.klog
ship boot klog /run/vm/boot.klog
ship boot out /run/vm/setup.log
say "booted $(uname -r) in $(uptime_s) s"

tab=$(printf '\t')
while IFS="$tab" read -r name limit cmd; do
	[ -n "$name" ] || continue
	emit begin "$name" "$(uptime_s)"
	say "begin $name"
	art=/run/vm/artifacts/$name
	mkdir -p "$art" "/tmp/vm-$name"
	start=$(uptime_s)
	(cd "/tmp/vm-$name" && export DMAB_VM_ARTIFACTS="$art" &&
		exec timeout -s TERM -k 10 "$limit" sh -c "$cmd") </dev/null >/run/vm/out 2>&1
	status=$?
	end=$(uptime_s)
	kill_leftovers
	seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
	timed_out=$(awk -v s="$seconds" -v l="$limit" 'BEGIN { print (s >= l) ? 1 : 0 }')
	dmesg -c >/run/vm/klog
	ship "$name" out /run/vm/out
	ship "$name" klog /run/vm/klog
	for f in "$art"/*; do
		[ -f "$f" ] && ship "$name" "file:${f##*/}" "$f"
	done
	emit end "$name" "$status" "$seconds" "$timed_out"
	say "end $name status $status in $seconds s"
	rm -rf "$art" "/tmp/vm-$name" /run/vm/out /run/vm/klog
done </etc/vm-checks

emit done
say "done"
reboot -f
