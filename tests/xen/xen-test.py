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

Environment (for the arm64 tier DMAB_XEN_CHECKS and DMAB_XEN_REUSE are
DMAB_XEN_ARM64_CHECKS and DMAB_XEN_ARM64_REUSE):
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
# dom0's Xen programs, by their name in the machine (paths of xen-utils-4.17).
XEN_TOOLS = {
    'xl': XEN_BIN + '/xl',
    'xenstored': XEN_BIN + '/xenstored',
    'xenconsoled': XEN_BIN + '/xenconsoled',
    'xen-init-dom0': XEN_BIN + '/xen-init-dom0',
    'xenstore': '/usr/bin/xenstore',
}
# xenstore is one program that acts by the name it is called by.
XENSTORE_NAMES = ('read', 'write', 'rm', 'ls', 'list', 'exists', 'watch', 'chmod')

# The arm64 tier's Debian packages (fetch-debs): Xen, dom0's and the guests'
# programs with their libraries, and the sysroot of the cross build.
ARM64_PACKAGES = """
    xen-hypervisor-4.17-arm64 xen-utils-4.17 xenstore-utils busybox-static libdrm-tests
    libc6 libc6-dev linux-libc-dev libgcc-s1 libcrypt1
    libxen-dev libxenmisc4.17 libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
    libxenstore4 libxentoollog1 libxentoolcore1 libxendevicemodel1 libxenhypfs1
    libyajl2 libfdt1 zlib1g zlib1g-dev liblzma5 libzstd1 libbz2-1.0 liblzo2-2 libuuid1
    libncurses6 libtinfo6 libdrm-dev libdrm2 libpng-dev libpng16-16 libjson-c-dev libjson-c5
    libpixman-1-dev libpixman-1-0 libwayland-dev libwayland-server0 libwayland-client0
    libffi8 libffi-dev libinih-dev libinih1 libcmocka-dev libcmocka0
    libliftoff-dev libliftoff0 libudev-dev libudev1
""".split()


def sysroot_libraries(readelf, sysroot):
    """A resolver for Initramfs: the libraries an arm64 program needs, found
    in the sysroot by their DT_NEEDED names (ldd cannot run them here), all
    placed in /usr/lib/aarch64-linux-gnu (/lib is a link to /usr/lib)."""
    dirs = [os.path.join(sysroot, d) for d in ('lib/aarch64-linux-gnu',
                                                'usr/lib/aarch64-linux-gnu', 'lib', 'usr/lib')]

    def needed(path):
        p = tier.subprocess.run([readelf, '-d', '-l', '-W', path], stdout=tier.subprocess.PIPE,
                                stderr=tier.subprocess.STDOUT, text=True)
        names = tier.re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', p.stdout)
        interp = tier.re.search(r'Requesting program interpreter: ([^\]]+)\]', p.stdout)
        return names, interp.group(1) if interp else None

    def resolve(path):
        libs = []
        seen = set()
        todo = [path]
        while todo:
            names, interp = needed(todo.pop())
            if interp and interp not in seen:
                seen.add(interp)
                libs.append((os.path.join(sysroot, interp.lstrip('/')),
                             '/usr/lib/' + os.path.basename(interp)))
            for name in names:
                if name in seen:
                    continue
                seen.add(name)
                host = next((os.path.join(d, name) for d in dirs
                             if os.path.exists(os.path.join(d, name))), None)
                if not host:
                    raise RuntimeError(f'{path} needs {name}, which is not in {sysroot} '
                                       f'(tests/xen/xen-test.py: ARM64_PACKAGES)')
                libs.append((host, '/usr/lib/aarch64-linux-gnu/' + name))
                todo.append(host)
        return libs
    return resolve


class XenRun(tier.Run):
    def go(self, tools):
        missing = [what for k, what in self.tier.needs() if not tools.get(k)]
        if missing:
            self.finish_all('skip', 'missing: ' + ', '.join(missing)
                            + ' (scripts/install-deps)')
            return
        if self.tier.arch == 'arm64':
            self.go_arm64(tools)
        else:
            self.go_x86_64(tools)

    def go_x86_64(self, tools):
        self.programs = {name: host for name, host in self.manifest['bins'].items()}
        self.guest_programs = {row[0]: row[1]
                               for row in self.manifest['more'].get('guest-bin', [])}
        self.resolver = lambda path: tier.host_libraries(tools['ldd'], path)
        kernel, verdict = self.kernel([os.path.join(VM, 'build-kernel'),
                                       self.manifest['kernel_config']], 'bzImage')
        if verdict:
            self.finish_all(*verdict)
            return
        xen_dir, verdict = self.build('xen', [os.path.join(HERE, 'fetch-debs'), 'amd64',
                                              'xen-hypervisor-4.17-amd64'], 'xen-fetch.log')
        if verdict:
            self.finish_all(*verdict)
            return
        xen = os.path.join(xen_dir, 'boot', 'xen-4.17-amd64')
        dom0 = self.pack(tools, kernel)
        if not dom0:
            return
        nonce = tier.new_nonce()
        raw = os.path.join(self.state, 'serial1.raw')
        # vkms with its overlay planes: dom0's own display (check drm-output).
        append = (f'console=hvc0 loglevel=2 mitigations=off dmab.nonce={nonce} '
                  f'dmab.records=/dev/ttyS1 vkms.enable_overlay=1')
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

    def pack(self, tools, kernel):
        """dom0's initramfs (with the guests'), or None when it cannot be made."""
        try:
            guest = self.pack_guest(tools)
            dom0 = self.pack_dom0(tools, kernel, guest)
        except (RuntimeError, OSError, tier.subprocess.CalledProcessError) as e:
            self.finish_all('fail', f'cannot pack the initramfs: {e}')
            return None
        self.log(f'initramfs: dom0 {self.info["dom0_mib"]} MiB, guest '
                 f'{self.info["guest_mib"]} MiB, {self.info["libraries"]} libraries')
        return dom0

    def go_arm64(self, tools):
        sysroot, verdict = self.build('debs', [os.path.join(HERE, 'fetch-debs'), 'arm64']
                                      + ARM64_PACKAGES, 'debs-fetch.log')
        if verdict:
            self.finish_all(*verdict)
            return
        kernel, verdict = self.kernel(
            [os.path.join(VM, 'build-kernel'), '--arch', 'arm64']
            + [row[0] for row in self.manifest['more'].get('kernel-fragment', [])], 'Image')
        if verdict:
            self.finish_all(*verdict)
            return
        build, verdict = self.build('cross', [os.path.join(HERE, 'cross-build'), sysroot,
                                              self.tier.source, self.tier.cross_dir],
                                    'cross-build.log')
        if verdict:
            self.finish_all(*verdict)
            return
        self.programs = {row[0]: os.path.join(build, row[1])
                         for row in self.manifest['more'].get('cross-bin', [])}
        self.guest_programs = {}
        for row in self.manifest['more'].get('cross-guest-bin', []):
            self.guest_programs[row[0]] = os.path.join(build, row[1])
        self.guest_programs['modetest'] = os.path.join(sysroot, 'usr/bin/modetest')
        self.resolver = sysroot_libraries(tools['readelf'], sysroot)
        tools = dict(tools)
        tools['busybox'] = os.path.join(sysroot, 'bin/busybox')
        tools['libgcc_s'] = os.path.join(sysroot, 'lib/aarch64-linux-gnu/libgcc_s.so.1')
        for name, path in XEN_TOOLS.items():
            tools[name] = os.path.join(sysroot, path.lstrip('/'))
        dom0 = self.pack(tools, kernel)
        if not dom0:
            return
        nonce = tier.new_nonce()
        console = os.path.join(self.state, 'console.log')
        # One UART, Xen's: the records share it with everything else.
        append = (f'console=hvc0 loglevel=2 dmab.nonce={nonce} dmab.records=/dev/hvc0 '
                  f'vkms.enable_overlay=1')
        if os.environ.get('DMAB_XEN_APPEND'):
            append += ' ' + os.environ['DMAB_XEN_APPEND']
        cmd = [tools['qemu'], '-machine', 'virt,virtualization=on,gic-version=3',
               '-cpu', 'cortex-a57', '-smp', '2',
               '-m', os.environ.get('DMAB_XEN_MEMORY', '2048'),
               '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
               '-monitor', 'none', '-serial', 'stdio',
               '-kernel', os.path.join(sysroot, 'boot/xen-4.17-arm64'),
               '-append', 'dom0_mem=1024M console=dtuart sync_console '
                          'loglvl=all guest_loglvl=all',
               '-device', 'guest-loader,addr=0x49000000,kernel=' + kernel
               + ',bootargs=' + append.replace(',', ',,'),
               '-device', f'guest-loader,addr=0x4d000000,initrd={dom0}']
        self.boot(cmd, console, nonce, console)

    def libgcc(self, fs, tools):
        """glibc loads libgcc_s when a thread is cancelled or exits (xl,
        dmabridged): ldd does not name it."""
        real = os.path.realpath(tools['libgcc_s'])
        if self.tier.arch == 'arm64':
            fs.put(real, '/usr/lib/aarch64-linux-gnu/libgcc_s.so.1', 0o755)
        else:
            fs.put(real, real, 0o755)

    def pack_guest(self, tools):
        fs = tier.Initramfs(os.path.join(self.state, 'guest'), self.resolver)
        fs.busybox(tools['busybox'], os.path.join(HERE, 'guest-run.sh'))
        # Not as sysinit: busybox init acts on a shutdown request (xl
        # shutdown: the guest kernel runs poweroff, which signals init) only
        # in its main loop, which it enters when sysinit is over.
        fs.write('/etc/inittab', '::once:/etc/vm-run\n')
        for name, host in sorted(self.guest_programs.items()):
            fs.program(host, '/usr/bin/' + name)
        fs.program(tools['xenstore'], '/usr/bin/xenstore')
        self.libgcc(fs, tools)
        for n in XENSTORE_NAMES:
            fs.symlink('xenstore', f'/usr/bin/xenstore-{n}')
        out = fs.pack(tools['cpio'], os.path.join(self.state, 'guest.cpio'))
        self.info['guest_mib'] = round(os.path.getsize(out) / 2**20, 1)
        return out

    def pack_dom0(self, tools, kernel, guest):
        fs = tier.Initramfs(os.path.join(self.state, 'dom0'), self.resolver)
        fs.busybox(tools['busybox'], os.path.join(VM, 'vm-run.sh'))
        fs.put(os.path.join(HERE, 'dom0-setup.sh'), '/etc/vm-setup', 0o644)
        tier.write_checks(fs, self.checks)
        for name, host in sorted(self.programs.items()):
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

    def configure(self, manifest):
        """arch x86_64|arm64; for arm64 the source tree and the cross build's
        directory."""
        for row in manifest['more'].get('arch', []):
            self.arch = row[0]
        for row in manifest['more'].get('cross', []):
            self.source, self.cross_dir = row[0], row[1]
        if self.arch == 'arm64':
            self.env = 'DMAB_XEN_ARM64'

    def tools(self):
        if self.arch == 'arm64':
            return {
                'qemu': shutil.which('qemu-system-aarch64'),
                'cpio': shutil.which('cpio'),
                'readelf': shutil.which('aarch64-linux-gnu-readelf'),
                'gcc': shutil.which('aarch64-linux-gnu-gcc'),
                'dpkg-deb': shutil.which('dpkg-deb'),
                'apt-get': shutil.which('apt-get'),
                'meson': shutil.which('meson'),
            }
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
        if self.arch == 'arm64':
            return [('qemu', 'qemu-system-aarch64 (qemu-system-arm)'), ('cpio', 'cpio'),
                    ('readelf', 'aarch64-linux-gnu-readelf (binutils-aarch64-linux-gnu)'),
                    ('gcc', 'aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu)'),
                    ('dpkg-deb', 'dpkg-deb'), ('apt-get', 'apt-get'), ('meson', 'meson')]
        return [('qemu', 'qemu-system-x86_64 (qemu-system-x86)'),
                ('busybox', 'busybox (busybox-static)'), ('cpio', 'cpio'), ('ldd', 'ldd'),
                ('dpkg-deb', 'dpkg-deb'), ('apt-get', 'apt-get (for xen-hypervisor-4.17)'),
                ('libgcc_s', 'libgcc_s.so.1 (libgcc-s1)')] + \
            [(name, f'{path} (xen-utils-4.17)') for name, path in XEN_TOOLS.items()]

    def fingerprint_files(self, manifest):
        return [__file__, tier.__file__, os.path.join(VM, 'vm-run.sh'),
                os.path.join(VM, 'build-kernel'), os.path.join(HERE, 'fetch-debs'),
                os.path.join(HERE, 'cross-build'), os.path.join(HERE, 'guest-run.sh'),
                os.path.join(HERE, 'dom0-setup.sh')]


if __name__ == '__main__':
    sys.exit(tier.main(XenTier(), __doc__))
