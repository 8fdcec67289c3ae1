# SPDX-License-Identifier: MIT
# dom0 of the Xen tier: sourced by tests/vm/vm-run.sh (as /etc/vm-setup)
# after its mounts and before the checks. Starts what xl and the guests'
# consoles need, in the order Xen's own init scripts use: xenfs, xenstored,
# xen-init-dom0 (dom0's nodes), xenconsoled (guest consoles, each logged to
# /var/log/xen/console/guest-<name>.log).
mkdir -p /proc/xen /var/lib/xen /var/lib/xenstored /var/log/xen/console /run/xen \
	/run/xen-cfg /etc/xen
mount -t xenfs xenfs /proc/xen
echo "Xen: $(cat /sys/hypervisor/version/major 2>/dev/null).$(cat \
	/sys/hypervisor/version/minor 2>/dev/null), dom0 capabilities: $(cat /proc/xen/capabilities)"
xenstored --pid-file=/run/xenstored.pid || echo "xenstored: exit status $?"
xen-init-dom0 || echo "xen-init-dom0: exit status $?"
xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xenconsoled.pid ||
	echo "xenconsoled: exit status $?"
xl info | grep -E '^(xen_version|xen_commandline|total_memory|free_memory|nr_cpus)' || true
