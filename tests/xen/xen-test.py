#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run the Xen tier's checks in one boot of Xen, and report one check as a test.

usage: xen-test.py --manifest FILE --state DIR --check NAME
       xen-test.py --manifest FILE --state DIR --summary

Every test of meson's `xen` suite (x86_64) or `xen-arm64` suite runs this
with its own check name; the machinery is the VM tier's (tests/vm/tier.py):
the first test boots, the others wait and read their result. A boot is
Xen 4.17 from Debian's xen-hypervisor-4.17 package (unpacked into the cache
by fetch-debs, never installed) under QEMU (TCG), with a dom0 on the tier's
Linux 6.1 kernel running xenstored, xen-init-dom0, xenconsoled and the
checks (tests/vm/vm-run.sh with dom0-setup.sh); each check starts
dmabridged --hypervisor xen and makes its guests with xl: PV (or PVH)
domains on the same kernel, with xen-drm-front, and an initramfs of their
own (guest-run.sh) that runs the command dom0 put in their XenStore
directory. dom0's records come out on the second serial port (x86_64) or on
Xen's console (arm64, whose machine has one UART).

The check's own exit status decides: 0 passes, 77 skips, anything else
fails. Without QEMU, busybox, cpio, the Xen tools (xen-utils-4.17), modetest
(libdrm-tests) or the kernel source every test skips (exit 77) and says what
is missing.

Environment:
  DMAB_XEN_CHECKS   space-separated shell patterns: boot with only the checks
                    that match (the others then skip)
  DMAB_XEN_REUSE=1  reuse the last results whatever run made them, as long as
                    the inputs are the same
  DMAB_XEN_MEMORY   the machine's memory in MiB (2048)
  DMAB_XEN_APPEND   more dom0 kernel command line
"""
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VM = os.path.join(os.path.dirname(HERE), 'vm')
sys.path.insert(0, VM)
sys.dont_write_bytecode = True
import tier  # noqa: E402

XEN_BIN = '/usr/lib/xen-4.17/bin'
# dom0's Xen programs, by their name in the machine.
XEN_TOOLS = {
    'xl': XEN_BIN + '/xl',
    'xenstored': XEN_BIN + '/xenstored',
    'xenconsoled': XEN_BIN + '/xenconsoled',
    'xen-init-dom0': XEN_BIN + '/xen-init-dom0',
    'xenstore': '/usr/bin/xenstore',
}
# xenstore is one program that acts by the name it is called by.
XENSTORE_NAMES = ('read', 'write', 'rm', 'ls', 'list', 'exists', 'watch', 'chmod')


class XenRun(tier.Run):
    def go(self, tools):
        start = time.monotonic()
        arch = self.tier.arch
        missing = [what for k, what in self.tier.needs() if not tools.get(k)]
        if missing:
            self.finish_all('skip', 'missing: ' + ', '.join(missing)
                            + ' (scripts/install-deps)')
            return
        kernel, verdict = self.kernel(os.path.join(VM, 'build-kernel'),
                                      self.manifest['kernel_config'], 'bzImage')
        if verdict:
            self.finish_all(*verdict)
            return
        xen_dir, verdict = self.build('xen', [os.path.join(HERE, 'fetch-debs'), 'amd64',
                                              'xen-hypervisor-4.17-amd64'], 'xen-fetch.log')
        if verdict:
            self.finish_all(*verdict)
            return
        xen = os.path.join(xen_dir, 'boot', 'xen-4.17-amd64')
        try:
            guest = self.pack_guest(tools)
            dom0 = self.pack_dom0(tools, kernel, guest)
        except (RuntimeError, OSError, tier.subprocess.CalledProcessError) as e:
            self.finish_all('fail', f'cannot pack the initramfs: {e}')
            return
        self.log(f'initramfs: dom0 {self.info["dom0_mib"]} MiB, guest '
                 f'{self.info["guest_mib"]} MiB, {self.info["libraries"]} libraries')
        nonce = tier.new_nonce()
        raw = os.path.join(self.state, 'serial1.raw')
        append = (f'console=hvc0 loglevel=2 mitigations=off dmab.nonce={nonce} '
                  f'dmab.records=/dev/ttyS1')
        if os.environ.get('DMAB_XEN_APPEND'):
            append += ' ' + os.environ['DMAB_XEN_APPEND']
        # QEMU's multiboot loader: modules are "file arguments", comma-separated.
        cmd = [tools['qemu'], '-M', 'q35', '-cpu', 'qemu64,+svm,+npt',
               '-m', os.environ.get('DMAB_XEN_MEMORY', '2048'), '-smp', '2',
               '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
               '-monitor', 'none', '-serial', 'stdio', '-serial', f'file:{raw}',
               '-kernel', xen,
               '-append', 'dom0_mem=1024M,max:1024M console=com1 serial_tx_buffer=1M '
                          'loglvl=all guest_loglvl=all',
               '-initrd', f'{kernel} {append},{dom0}']
        self.boot(cmd, raw, nonce)

    def resolve(self, tools):
        return lambda path: tier.host_libraries(tools['ldd'], path)

    def libgcc(self, fs, tools):
        """glibc loads libgcc_s when a thread is cancelled or exits (xl,
        dmabridged): ldd does not name it."""
        real = os.path.realpath(tools['libgcc_s'])
        fs.put(real, real, 0o755)

    def pack_guest(self, tools):
        fs = tier.Initramfs(os.path.join(self.state, 'guest'), self.resolve(tools))
        fs.busybox(tools['busybox'], os.path.join(HERE, 'guest-run.sh'))
        for row in self.manifest['more'].get('guest-bin', []):
            fs.program(row[1], '/usr/bin/' + row[0])
        fs.program(tools['xenstore'], '/usr/bin/xenstore')
        self.libgcc(fs, tools)
        for n in XENSTORE_NAMES:
            fs.symlink('xenstore', f'/usr/bin/xenstore-{n}')
        out = fs.pack(tools['cpio'], os.path.join(self.state, 'guest.cpio'))
        self.info['guest_mib'] = round(os.path.getsize(out) / 2**20, 1)
        return out

    def pack_dom0(self, tools, kernel, guest):
        fs = tier.Initramfs(os.path.join(self.state, 'dom0'), self.resolve(tools))
        fs.busybox(tools['busybox'], os.path.join(VM, 'vm-run.sh'))
        fs.put(os.path.join(HERE, 'dom0-setup.sh'), '/etc/vm-setup', 0o644)
        tier.write_checks(fs, self.checks)
        for name, host in sorted(self.manifest['bins'].items()):
            fs.program(host, '/usr/bin/' + name)
        for name in XEN_TOOLS:
            fs.program(tools[name], '/usr/bin/' + name)
        for n in XENSTORE_NAMES:
            fs.symlink('xenstore', f'/usr/bin/xenstore-{n}')
        self.libgcc(fs, tools)
        for row in self.manifest['more'].get('script', []):
            fs.put(row[1], row[0], 0o755)
        fs.put(kernel, '/boot/guest/kernel', 0o644)
        fs.put(guest, '/boot/guest/initramfs.cpio', 0o644)
        fs.write('/etc/xen/xl.conf', '# defaults\n')
        fs.symlink('../run', '/var/run')
        out = fs.pack(tools['cpio'], os.path.join(self.state, 'dom0.cpio'))
        self.info['dom0_mib'] = round(os.path.getsize(out) / 2**20, 1)
        self.info['libraries'] = len(fs.placed)
        return out


class XenTier(tier.Tier):
    name = 'Xen'
    env = 'DMAB_XEN'
    run_class = XenRun
    arch = 'x86_64'

    def tools(self):
        t = {
            'qemu': shutil.which('qemu-system-x86_64'),
            'busybox': shutil.which('busybox', path='/bin:/usr/bin:/sbin:/usr/sbin'),
            'cpio': shutil.which('cpio'),
            'ldd': shutil.which('ldd'),
            'dpkg-deb': shutil.which('dpkg-deb'),
            'apt-get': shutil.which('apt-get'),
            'libgcc_s': next((p for p in ('/usr/lib/x86_64-linux-gnu/libgcc_s.so.1',
                                          '/lib/x86_64-linux-gnu/libgcc_s.so.1')
                              if os.path.exists(p)), None),
        }
        for name, path in XEN_TOOLS.items():
            t[name] = path if os.access(path, os.X_OK) else None
        return t

    def needs(self):
        return [('qemu', 'qemu-system-x86_64 (qemu-system-x86)'),
                ('busybox', 'busybox (busybox-static)'), ('cpio', 'cpio'), ('ldd', 'ldd'),
                ('dpkg-deb', 'dpkg-deb'), ('apt-get', 'apt-get (for xen-hypervisor-4.17)'),
                ('libgcc_s', 'libgcc_s.so.1 (libgcc-s1)')] + \
            [(name, f'{path} (xen-utils-4.17)') for name, path in XEN_TOOLS.items()]

    def fingerprint_files(self, manifest):
        return [__file__, tier.__file__, os.path.join(VM, 'vm-run.sh'),
                os.path.join(VM, 'build-kernel'), os.path.join(HERE, 'fetch-debs'),
                os.path.join(HERE, 'guest-run.sh'), os.path.join(HERE, 'dom0-setup.sh')]


if __name__ == '__main__':
    sys.exit(tier.main(XenTier(), __doc__))
