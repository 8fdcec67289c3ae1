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
import argparse
import base64
import binascii
import fcntl
import fnmatch
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FORMAT = 1
BOOT_TIMEOUT = 300      # QEMU start to the first record of the VM
CHECK_GRACE = 120       # beyond a check's own limit, for its records to come out
EXIT_TIMEOUT = 60       # the last record to QEMU's exit
SKIP = 77


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted(f'signal {signum}')


def read_manifest(path):
    m = {'bins': {}, 'checks': [], 'kernel_config': None}
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            kind, *rest = line.split('\t')
            if kind == 'bin':
                m['bins'][rest[0]] = rest[1]
            elif kind == 'check':
                m['checks'].append({'name': rest[0], 'timeout': int(rest[1]),
                                    'command': rest[2]})
            elif kind == 'kernel-config':
                m['kernel_config'] = rest[0]
    return m


def selected(manifest):
    patterns = os.environ.get('DMAB_VM_CHECKS', '').split()
    if not patterns:
        return manifest['checks']
    return [c for c in manifest['checks']
            if any(fnmatch.fnmatchcase(c['name'], p) for p in patterns)]


def run_id():
    """The `meson test` run this process belongs to: its parent and the
    parent's start time (a pid alone may be reused)."""
    if os.environ.get('DMAB_VM_RUN_ID'):
        return os.environ['DMAB_VM_RUN_ID']
    ppid = os.getppid()
    try:
        with open(f'/proc/{ppid}/stat') as f:
            start = f.read().rsplit(')', 1)[1].split()[19]
    except OSError:
        start = '?'
    return f'{ppid}:{start}'


def fingerprint(manifest_path, manifest, tools):
    """What the results depend on. Programs by size and modification time:
    hashing them all for every test would cost more than it saves."""
    h = hashlib.sha256()
    h.update(f'format {FORMAT}\n'.encode())
    files = [manifest_path, __file__, os.path.join(HERE, 'vm-run.sh'),
             os.path.join(HERE, 'build-kernel')]
    if manifest['kernel_config']:
        files.append(manifest['kernel_config'])
    for p in files:
        with open(p, 'rb') as f:
            h.update(p.encode() + b'\0' + f.read())
    for p in list(manifest['bins'].values()) + [t for t in tools.values() if t]:
        try:
            st = os.stat(p)
            h.update(f'{p} {st.st_size} {st.st_mtime_ns}\n'.encode())
        except OSError:
            h.update(f'{p} missing\n'.encode())
    for k in ('DMAB_VM_CHECKS', 'DMAB_VM_MEMORY', 'DMAB_VM_APPEND', 'DMAB_LINUX_SOURCE'):
        h.update(f'{k}={os.environ.get(k, "")}\n'.encode())
    return h.hexdigest()


def find_tools():
    return {
        'qemu': shutil.which('qemu-system-x86_64'),
        'busybox': shutil.which('busybox', path='/bin:/usr/bin:/sbin:/usr/sbin'),
        'cpio': shutil.which('cpio'),
        'ldd': shutil.which('ldd'),
    }


class Run:
    """One boot: its log (shown in every test's output), its results."""

    def __init__(self, state, manifest, checks):
        self.state = state
        self.manifest = manifest
        self.checks = checks
        self.log_path = os.path.join(state, 'run.log')
        self.log_file = open(self.log_path, 'w')
        self.info = {}
        self.results = {}

    def log(self, msg):
        line = f'[{time.strftime("%H:%M:%S")}] {msg}'
        self.log_file.write(line + '\n')
        self.log_file.flush()
        print(line, flush=True)

    def finish_all(self, status, reason):
        for c in self.checks:
            if c['name'] not in self.results:
                self.results[c['name']] = {'status': status, 'reason': reason}

    # --- the kernel
    def kernel(self):
        cmd = [os.path.join(HERE, 'build-kernel')]
        if self.manifest['kernel_config']:
            cmd.append(self.manifest['kernel_config'])
        start = time.monotonic()
        with open(os.path.join(self.state, 'kernel-build.log'), 'w') as err:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        with open(os.path.join(self.state, 'kernel-build.log')) as f:
            messages = f.read().strip()
        if messages:
            self.log(messages.replace('\n', '\n    '))
        if p.returncode == SKIP:
            last = messages.splitlines()[-1] if messages else 'build-kernel skipped'
            return None, ('skip', last)
        if p.returncode != 0:
            return None, ('fail', 'the kernel did not build (kernel-build.log)')
        kdir = p.stdout.strip().splitlines()[-1]
        self.info['kernel'] = kdir
        self.info['kernel_seconds'] = round(time.monotonic() - start, 1)
        return os.path.join(kdir, 'bzImage'), None

    # --- the initramfs
    def libraries(self, ldd, path):
        """(host path, path in the VM) of every library path needs."""
        p = subprocess.run([ldd, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if 'not a dynamic executable' in p.stdout or 'statically linked' in p.stdout:
            return []
        if p.returncode != 0:
            raise RuntimeError(f'ldd {path}: {p.stdout.strip()}')
        libs = []
        for line in p.stdout.splitlines():
            line = line.strip()
            if 'not found' in line:
                raise RuntimeError(f'{path}: {line}')
            m = re.match(r'(\S+) => (/\S+) \(', line) or re.match(r'(/\S+) \(', line)
            if not m:
                continue
            host = m.group(m.lastindex)
            if m.lastindex == 1:
                # The dynamic loader, where binaries look for it.
                libs.append((host, host))
                continue
            real_dir = os.path.realpath(os.path.dirname(host))
            if real_dir.startswith(('/usr/lib', '/lib')):
                vm = os.path.join(real_dir, os.path.basename(host))
            else:
                # Built here (libdmabridge-client): on the default path.
                vm = os.path.join('/usr/lib', os.path.basename(host))
            libs.append((host, vm))
        return libs

    def pack(self, tools):
        root = os.path.join(self.state, 'initramfs')
        shutil.rmtree(root, ignore_errors=True)
        for d in ('bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/lib', 'lib64', 'etc',
                  'proc', 'sys', 'dev', 'tmp', 'run', 'root'):
            os.makedirs(os.path.join(root, d), exist_ok=True)

        def put(host, vm, mode=None):
            dest = os.path.join(root, vm.lstrip('/'))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(host, dest)
            os.chmod(dest, mode if mode is not None else os.stat(host).st_mode & 0o777)

        put(tools['busybox'], '/bin/busybox', 0o755)
        os.symlink('busybox', os.path.join(root, 'bin/sh'))
        os.symlink('bin/busybox', os.path.join(root, 'init'))
        put(os.path.join(HERE, 'vm-run.sh'), '/etc/vm-run', 0o755)
        with open(os.path.join(root, 'etc/inittab'), 'w') as f:
            f.write('::sysinit:/etc/vm-run\n::wait:/bin/busybox reboot -f\n')
        with open(os.path.join(root, 'etc/passwd'), 'w') as f:
            f.write('root:x:0:0:root:/root:/bin/sh\n')
        with open(os.path.join(root, 'etc/group'), 'w') as f:
            f.write('root:x:0:\n')
        with open(os.path.join(root, 'etc/vm-checks'), 'w') as f:
            for c in self.checks:
                f.write(f'{c["name"]}\t{c["timeout"]}\t{c["command"]}\n')

        placed = {}
        for name, host in sorted(self.manifest['bins'].items()):
            if not os.path.exists(host):
                raise RuntimeError(f'{host} is not built')
            put(host, '/usr/bin/' + name)
            for lib_host, lib_vm in self.libraries(tools['ldd'], host):
                if placed.setdefault(lib_vm, lib_host) == lib_host and \
                        not os.path.exists(os.path.join(root, lib_vm.lstrip('/'))):
                    put(os.path.realpath(lib_host), lib_vm, 0o755)
        os.symlink('usr/lib', os.path.join(root, 'lib'))

        cpio = os.path.join(self.state, 'initramfs.cpio')
        names = subprocess.run(['find', '.', '-mindepth', '1'], cwd=root, check=True,
                               stdout=subprocess.PIPE).stdout
        with open(cpio, 'wb') as out:
            subprocess.run([tools['cpio'], '--quiet', '-o', '-H', 'newc', '--owner=0:0'],
                           cwd=root, input=names, stdout=out, check=True)
        shutil.rmtree(root)
        self.info['initramfs_mib'] = round(os.path.getsize(cpio) / 2**20, 1)
        self.info['libraries'] = len(placed)
        return cpio

    # --- the boot
    def boot(self, tools, bzimage, cpio):
        nonce = secrets.token_hex(6)
        raw = os.path.join(self.state, 'serial1.raw')
        console_path = os.path.join(self.state, 'console.log')
        open(raw, 'wb').close()
        # vkms with its overlay planes: a display with more planes than one.
        append = (f'console=ttyS0 loglevel=2 panic=-1 mitigations=off '
                  f'vkms.enable_overlay=1 dmab.nonce={nonce}')
        if os.environ.get('DMAB_VM_APPEND'):
            append += ' ' + os.environ['DMAB_VM_APPEND']
        cmd = [tools['qemu'], '-M', 'q35', '-m', os.environ.get('DMAB_VM_MEMORY', '2048'),
               '-smp', '2', '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
               '-monitor', 'none', '-serial', 'stdio', '-serial', f'file:{raw}',
               '-kernel', bzimage, '-initrd', cpio, '-append', append]
        self.log('boot: ' + ' '.join(cmd))
        self.info['qemu'] = ' '.join(cmd)

        console = open(console_path, 'wb')
        started = time.monotonic()
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)

        def pump():
            for chunk in iter(lambda: qemu.stdout.read1(65536), b''):
                console.write(chunk)
                console.flush()
        reader = threading.Thread(target=pump, daemon=True)
        reader.start()

        prefix = f'@DMABVM {nonce} '
        pending = b''
        offset = 0
        current = None            # the check running in the VM
        deadline = started + BOOT_TIMEOUT
        waiting_for = 'the VM to boot'
        parts = {}                # check -> part -> [base64 lines]
        by_name = {c['name']: c for c in self.checks}
        done = False
        stop_reason = None
        try:
            while True:
                with open(raw, 'rb') as f:
                    f.seek(offset)
                    data = f.read()
                offset += len(data)
                pending += data
                *lines, pending = pending.split(b'\n')
                for bline in lines:
                    line = bline.decode('ascii', 'replace').strip('\r')
                    if not line.startswith(prefix):
                        continue
                    kind, _, rest = line[len(prefix):].partition(' ')
                    now = time.monotonic()
                    if kind == 'hello':
                        self.info['boot_seconds'] = round(now - started, 1)
                        self.log(f'VM up in {now - started:.1f} s: {rest}')
                        deadline = now + CHECK_GRACE
                        waiting_for = 'the first check'
                    elif kind == 'begin':
                        name = rest.split()[0]
                        if 'first_check_seconds' not in self.info:
                            self.info['first_check_seconds'] = round(now - started, 1)
                        current = name
                        limit = by_name[name]['timeout'] if name in by_name else 0
                        deadline = now + limit + CHECK_GRACE
                        waiting_for = f'check {name} (limit {limit} s in the VM)'
                    elif kind == 'data':
                        check, part, b64 = (rest.split(' ', 2) + ['', ''])[:3]
                        parts.setdefault(check, {}).setdefault(part, []).append(b64)
                    elif kind == 'end':
                        name, status, seconds, timed_out = rest.split()[:4]
                        self.record(name, int(status), float(seconds), timed_out == '1',
                                    parts.pop(name, {}))
                        r = self.results[name]
                        self.log(f'{name}: {r["status"]} in {seconds} s'
                                 + (f' ({r["reason"]})' if r.get('reason') else ''))
                        current = None
                        deadline = now + CHECK_GRACE
                        waiting_for = 'the next check'
                    elif kind == 'done':
                        done = True
                        deadline = now + EXIT_TIMEOUT
                        waiting_for = 'QEMU to exit'
                if qemu.poll() is not None:
                    if not done:
                        stop_reason = (f'the VM ended (QEMU exit status {qemu.returncode}) '
                                       f'while waiting for {waiting_for}')
                    break
                if time.monotonic() > deadline:
                    stop_reason = (f'no word from the VM in time while waiting for '
                                   f'{waiting_for}: the VM was stopped')
                    if done:
                        stop_reason = None
                    break
                time.sleep(0.2)
        finally:
            if qemu.poll() is None:
                qemu.kill()
            qemu.wait()
            reader.join(5)
            console.close()
            self.save_parts('boot', parts.pop('boot', {}))
        self.info['vm_seconds'] = round(time.monotonic() - started, 1)
        if stop_reason:
            self.log(stop_reason)
            if current:
                self.results[current] = {
                    'status': 'fail',
                    'reason': f'did not finish: {stop_reason} (see the console below)'}
                self.save_parts(current, parts.pop(current, {}))
            self.finish_all('fail', f'not run: {stop_reason}')
        self.finish_all('fail', 'not reported by the VM')

    def check_dir(self, name):
        d = os.path.join(self.state, 'checks', name)
        os.makedirs(d, exist_ok=True)
        return d

    def save_part(self, name, part, b64_lines):
        try:
            data = base64.b64decode(''.join(b64_lines), validate=True)
        except binascii.Error as e:
            data = f'(undecodable: {e})\n'.encode()
        filename = {'out': 'output.log', 'klog': 'kernel.log'}.get(part)
        if filename is None:
            filename = 'file-' + os.path.basename(part.partition(':')[2] or 'unnamed')
        with open(os.path.join(self.check_dir(name), filename), 'wb') as f:
            f.write(data)

    def save_parts(self, name, parts):
        for part, lines in parts.items():
            self.save_part(name, part, lines)

    def record(self, name, status, seconds, timed_out, parts):
        self.save_parts(name, parts)
        r = {'rc': status, 'seconds': seconds}
        if timed_out:
            r.update(status='fail', reason='timed out in the VM')
        elif status == 0:
            r['status'] = 'pass'
        elif status == SKIP:
            r['status'] = 'skip'
        else:
            r.update(status='fail', reason=f'exit status {status}')
        self.results[name] = r

    def console_slices(self, nonce_free_console):
        """Each check's part of the console, between the runner's markers."""
        for c in self.checks:
            name = c['name']
            m = re.search(r'dmabridge-vm \S+: begin ' + re.escape(name) + r'\r?\n(.*?)'
                          r'(dmabridge-vm \S+: end ' + re.escape(name) + r' |\Z)',
                          nonce_free_console, re.S)
            if m:
                with open(os.path.join(self.check_dir(name), 'console.log'), 'w') as f:
                    f.write(m.group(1))

    def go(self, tools):
        start = time.monotonic()
        missing = [k for k in ('qemu', 'busybox', 'cpio', 'ldd') if not tools[k]]
        if missing:
            names = {'qemu': 'qemu-system-x86_64 (qemu-system-x86)',
                     'busybox': 'busybox (busybox-static)', 'cpio': 'cpio', 'ldd': 'ldd'}
            self.finish_all('skip', 'missing: ' + ', '.join(names[k] for k in missing)
                            + ' (scripts/install-deps)')
            return
        bzimage, verdict = self.kernel()
        if verdict:
            self.finish_all(*verdict)
            return
        try:
            cpio = self.pack(tools)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
            self.finish_all('fail', f'cannot pack the initramfs: {e}')
            return
        self.log(f'initramfs: {self.info["initramfs_mib"]} MiB, '
                 f'{len(self.manifest["bins"])} programs, {self.info["libraries"]} libraries')
        self.boot(tools, bzimage, cpio)
        try:
            with open(os.path.join(self.state, 'console.log'), errors='replace') as f:
                self.console_slices(f.read())
        except OSError:
            pass
        self.info['total_seconds'] = round(time.monotonic() - start, 1)
        self.log('run: ' + ', '.join(f'{k} {v}' for k, v in self.info.items()
                                     if k != 'qemu'))


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def store(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def results_for(args, manifest):
    """The results of this run, booting the VM if nobody did yet."""
    tools = find_tools()
    fp = fingerprint(args.manifest, manifest, tools)
    rid = run_id()
    reuse = os.environ.get('DMAB_VM_REUSE') == '1'
    path = os.path.join(args.state, 'results.json')
    os.makedirs(args.state, exist_ok=True)
    with open(os.path.join(args.state, 'lock'), 'w') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print('waiting for the VM run of another test', flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        old = load(path)
        if old and old.get('fingerprint') == fp and (reuse or old.get('run') == rid):
            return old, False
        shutil.rmtree(os.path.join(args.state, 'checks'), ignore_errors=True)
        run = Run(args.state, manifest, selected(manifest))
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            run.go(tools)
        except Interrupted as e:
            run.log(f'interrupted by {e}')
            run.finish_all('fail', f'the VM run was interrupted by {e}')
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        data = {'fingerprint': fp, 'run': rid, 'info': run.info, 'results': run.results,
                'log': run.log_path}
        store(path, data)
        return data, True


def show(path, title, limit=200000):
    try:
        with open(path, errors='replace') as f:
            text = f.read()
    except OSError:
        return
    if not text.strip():
        return
    print(f'--- {title} ({path})')
    if len(text) > limit:
        print(f'[... {len(text) - limit} characters left out ...]')
        text = text[-limit:]
    print(text.rstrip('\n'))


def report(args, manifest, data, booted):
    name = args.check
    check = next((c for c in manifest['checks'] if c['name'] == name), None)
    if check is None:
        print(f'no check {name} in {args.manifest}')
        return 1
    r = data['results'].get(name)
    if r is None:
        print(f'{name}: not selected by DMAB_VM_CHECKS='
              f'"{os.environ.get("DMAB_VM_CHECKS", "")}": skipped')
        return SKIP
    info = data.get('info', {})
    if not booted:
        print('results of the VM run made by another test of this run: '
              + data.get('log', ''))
    if info:
        print('VM run: ' + ', '.join(f'{k} {v}' for k, v in info.items() if k != 'qemu'))
    if info.get('qemu'):
        print(f'VM console: {os.path.join(args.state, "console.log")}; kernel log of the boot: '
              f'{os.path.join(args.state, "checks", "boot", "kernel.log")}')
    d = os.path.join(args.state, 'checks', name)
    print(f'check {name}: {r["status"]}'
          + (f' ({r["reason"]})' if r.get('reason') else '')
          + (f' in {r["seconds"]} s' if 'seconds' in r else ''))
    print(f'in the VM: (limit {check["timeout"]} s) {check["command"]}')
    show(os.path.join(d, 'output.log'), 'output')
    show(os.path.join(d, 'kernel.log'), 'kernel messages during the check')
    show(os.path.join(d, 'console.log'), 'console during the check')
    if r['status'] == 'fail' and r.get('rc') is None and info.get('qemu'):
        show(os.path.join(args.state, 'console.log'), 'the VM console (end)', 20000)
    if os.path.isdir(d):
        files = sorted(f for f in os.listdir(d) if f.startswith('file-'))
        for f in files:
            print(f'file from the VM: {os.path.join(d, f)}')
    return {'pass': 0, 'skip': SKIP}.get(r['status'], 1)


def summary(args, manifest):
    data = load(os.path.join(args.state, 'results.json'))
    if not data:
        print('no results yet')
        return 1
    for c in manifest['checks']:
        r = data['results'].get(c['name'], {'status': '-'})
        print(f'{c["name"]:32} {r["status"]:5} {r.get("seconds", ""):>8} {r.get("reason", "")}')
    print(json.dumps(data.get('info', {}), indent=1))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--manifest', required=True)
    ap.add_argument('--state', required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument('--check')
    g.add_argument('--summary', action='store_true')
    args = ap.parse_args()
    manifest = read_manifest(args.manifest)
    if args.summary:
        return summary(args, manifest)
    data, booted = results_for(args, manifest)
    return report(args, manifest, data, booted)


if __name__ == '__main__':
    sys.exit(main())
