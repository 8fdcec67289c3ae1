#!/bin/sh
# SPDX-License-Identifier: MIT
# A Xen tier guest's first program after busybox init (its inittab runs this
# once as sysinit). dom0 creates the domain paused, writes the command to run
# into the guest's XenStore directory (data/dmab-cmd) and unpauses it. The
# command's output goes to the guest's console (hvc0), which xenconsoled in
# dom0 logs to a file; after it, the guest's kernel log and the command's
# exit status, between markers dom0 reads:
#   @DMABG begin
#   ... the command's output ...
#   @DMABG klog
#   ... dmesg ...
#   @DMABG exit <status>
# then the guest powers off (on_poweroff="destroy" in its xl configuration).
/bin/busybox --install -s
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /tmp /run
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=0755 run /run
export HOME=/root

cmd=$(xenstore-read data/dmab-cmd 2>&1) || cmd="echo 'no command in data/dmab-cmd: $cmd'; exit 1"
echo "@DMABG begin $(uname -r) $(cut -d' ' -f1 /proc/uptime)"
(cd /tmp && exec sh -c "$cmd") </dev/null 2>&1
status=$?
echo "@DMABG klog"
dmesg
echo "@DMABG exit $status"
poweroff -f
