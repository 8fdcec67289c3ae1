#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run the VM tier's checks in one boot, and report one check as a test.

usage: vm-test.py --manifest FILE --state DIR --check NAME
       vm-test.py --manifest FILE --state DIR --summary

Every test of meson's `vm` suite runs this with its own check name. The
first to take the lock on the state directory builds (or finds) the kernel,
packs an initramfs with busybox, the project's programs and their libraries,
boots it in QEMU (TCG), runs every check of the manifest there and writes
all results into the state directory; the others wait on the lock and read
their result. Results hold for one `meson test` run (the parent process:
meson) and one set of inputs (kernel, packed programs, scripts, manifest),
so a run boots once and a rebuilt program boots again.

The check's own exit status decides: 0 passes, 77 skips, anything else
fails; a check the VM never finished (hang, panic, boot failure) fails and
says why. Without QEMU, busybox, cpio or the kernel source every test skips
(exit 77) and says what is missing.

Environment:
  DMAB_VM_CHECKS   space-separated shell patterns: boot with only the checks
                   that match (the others then skip), e.g. for one check by hand
  DMAB_VM_REUSE=1  reuse the last results whatever run made them, as long as
                   the inputs are the same (to read a check's log again)
  DMAB_VM_MEMORY   the VM's memory in MiB (2048)
  DMAB_VM_APPEND   more kernel command line
"""
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import tier  # noqa: E402


class VmRun(tier.Run):
    def go(self, tools):
        start = time.monotonic()
        missing = [k for k in ('qemu', 'busybox', 'cpio', 'ldd') if not tools[k]]
        if missing:
            names = {'qemu': 'qemu-system-x86_64 (qemu-system-x86)',
                     'busybox': 'busybox (busybox-static)', 'cpio': 'cpio', 'ldd': 'ldd'}
            self.finish_all('skip', 'missing: ' + ', '.join(names[k] for k in missing)
                            + ' (scripts/install-deps)')
            return
        bzimage, verdict = self.kernel([os.path.join(HERE, 'build-kernel'),
                                        self.manifest['kernel_config']], 'bzImage')
        if verdict:
            self.finish_all(*verdict)
            return
        try:
            cpio = self.pack(tools)
        except (RuntimeError, OSError, tier.subprocess.CalledProcessError) as e:
            self.finish_all('fail', f'cannot pack the initramfs: {e}')
            return
        self.log(f'initramfs: {self.info["initramfs_mib"]} MiB, '
                 f'{len(self.manifest["bins"])} programs, {self.info["libraries"]} libraries')
        nonce = tier.new_nonce()
        # vkms with its overlay planes: a display with more planes than one.
        append = (f'console=ttyS0 loglevel=2 panic=-1 mitigations=off '
                  f'vkms.enable_overlay=1 dmab.nonce={nonce}')
        if os.environ.get('DMAB_VM_APPEND'):
            append += ' ' + os.environ['DMAB_VM_APPEND']
        raw = os.path.join(self.state, 'serial1.raw')
        cmd = [tools['qemu'], '-M', 'q35', '-m', os.environ.get('DMAB_VM_MEMORY', '2048'),
               '-smp', '2', '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
               '-monitor', 'none', '-serial', 'stdio', '-serial', f'file:{raw}',
               '-kernel', bzimage, '-initrd', cpio, '-append', append]
        self.boot(cmd, raw, nonce)

    def pack(self, tools):
        fs = tier.Initramfs(os.path.join(self.state, 'initramfs'),
                            lambda path: tier.host_libraries(tools['ldd'], path))
        fs.busybox(tools['busybox'], os.path.join(HERE, 'vm-run.sh'))
        tier.write_checks(fs, self.checks)
        for name, host in sorted(self.manifest['bins'].items()):
            fs.program(host, '/usr/bin/' + name)
        # Another program's pieces, where it looks for them: modules it
        # loads (with their libraries), its data (files or whole trees).
        for (path,) in self.manifest['more'].get('lib', []):
            fs.program(path, path)
        for (path,) in self.manifest['more'].get('data', []):
            if os.path.isdir(path):
                shutil.copytree(path, fs.path(path), symlinks=True, dirs_exist_ok=True)
            else:
                fs.put(path, path)
        for target, path in self.manifest['more'].get('symlink', []):
            fs.symlink(target, path)
        cpio = fs.pack(tools['cpio'], os.path.join(self.state, 'initramfs.cpio'))
        self.info['initramfs_mib'] = round(os.path.getsize(cpio) / 2**20, 1)
        self.info['libraries'] = len(fs.placed)
        return cpio


class VmTier(tier.Tier):
    name = 'VM'
    env = 'DMAB_VM'
    run_class = VmRun

    def tools(self):
        return {
            'qemu': shutil.which('qemu-system-x86_64'),
            'busybox': shutil.which('busybox', path='/bin:/usr/bin:/sbin:/usr/sbin'),
            'cpio': shutil.which('cpio'),
            'ldd': shutil.which('ldd'),
        }

    def fingerprint_files(self, manifest):
        return [__file__, tier.__file__, os.path.join(HERE, 'vm-run.sh'),
                os.path.join(HERE, 'build-kernel')]


if __name__ == '__main__':
    sys.exit(tier.main(VmTier(), __doc__))
