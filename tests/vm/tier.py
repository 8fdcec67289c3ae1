# SPDX-License-Identifier: MIT
"""What the QEMU tiers share: one boot runs every check, each check is a test.

A tier (tests/vm/vm-test.py, tests/xen/xen-test.py) describes its machine:
the tools it needs, how it gets its kernel, what goes into its initramfs
and how QEMU boots it. This module does the rest, the same for every tier:

- the manifest meson writes (programs, files, checks);
- one boot per `meson test` run: the first test to take the lock on the
  state directory boots, the others wait and read the results (which hold
  for one run and one set of inputs);
- the records the machine writes, one per line, each opened with the boot's
  nonce, on a serial port the tier names (see tests/vm/vm-run.sh):
    @DMABVM <nonce> hello <kernel release> <uptime>
    @DMABVM <nonce> begin <check> <uptime>
    @DMABVM <nonce> data <check> <part> <base64>
    @DMABVM <nonce> end <check> <status> <seconds> <timed out: 0|1>
    @DMABVM <nonce> done
  where the port also carries other text (a hypervisor's console), records
  are read wherever they start on a line and only whole ones count;
- the report of one check: its status, output, kernel log, console part and
  the files it left.

A check's own exit status decides: 0 passes, 77 skips, anything else fails;
a check the machine never finished (hang, panic, boot failure) fails and says
why.
"""
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
import threading
import time

FORMAT = 2
BOOT_TIMEOUT = 300      # QEMU start to the first record of the machine
CHECK_GRACE = 120       # beyond a check's own limit, for its records to come out
EXIT_TIMEOUT = 60       # the last record to QEMU's exit
SKIP = 77

# A record, wherever it starts; only these shapes are records, so a line
# that another writer cut into (or that lost characters) is not taken.
RECORD = {
    'hello': re.compile(r'(\S+) ([0-9.]+)$'),
    'begin': re.compile(r'(\S+) ([0-9.]+)$'),
    'data': re.compile(r'(\S+) (\S+) ([A-Za-z0-9+/=]*)$'),
    'end': re.compile(r'(\S+) (-?[0-9]+) ([0-9.]+) ([01])$'),
    'done': re.compile(r'$'),
}


class Interrupted(Exception):
    pass


def on_signal(signum, frame):
    raise Interrupted(f'signal {signum}')


def read_manifest(path):
    """kernel-config PATH; bin NAME PATH (the machine's /usr/bin/NAME);
    check NAME SECONDS COMMAND; any other kind: its fields, in order, under
    m['more'][kind] (e.g. lib PATH: a library programs load at run time,
    placed at its own path with what it needs)."""
    m = {'bins': {}, 'checks': [], 'kernel_config': None, 'more': {}}
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
            else:
                m['more'].setdefault(kind, []).append(rest)
    return m


def manifest_files(manifest):
    """Host paths the manifest names, beside the programs."""
    files = []
    if manifest['kernel_config']:
        files.append(manifest['kernel_config'])
    for kind, rows in manifest['more'].items():
        if kind not in ('stamp', 'lib'):
            files += [f for row in rows for f in row
                      if f.startswith('/') and os.path.isfile(f)]
    return files


def run_id(env):
    """The `meson test` run this process belongs to: its parent and the
    parent's start time (a pid alone may be reused)."""
    if os.environ.get(env):
        return os.environ[env]
    ppid = os.getppid()
    try:
        with open(f'/proc/{ppid}/stat') as f:
            start = f.read().rsplit(')', 1)[1].split()[19]
    except OSError:
        start = '?'
    return f'{ppid}:{start}'


def fingerprint(texts, stamps, env_keys):
    """What results depend on: files by content (texts), programs by size
    and modification time (stamps: hashing them all for every test would
    cost more than it saves), and environment variables."""
    h = hashlib.sha256()
    h.update(f'format {FORMAT}\n'.encode())
    for p in texts:
        with open(p, 'rb') as f:
            h.update(p.encode() + b'\0' + f.read())
    for p in stamps:
        try:
            st = os.stat(p)
            h.update(f'{p} {st.st_size} {st.st_mtime_ns}\n'.encode())
        except OSError:
            h.update(f'{p} missing\n'.encode())
    for k in env_keys:
        h.update(f'{k}={os.environ.get(k, "")}\n'.encode())
    return h.hexdigest()


def host_libraries(ldd, path):
    """(host path, path in the machine) of every library path needs, by ldd."""
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


class Initramfs:
    """A root directory packed into a newc cpio archive; programs come with
    the libraries a resolver (host_libraries, or a tier's own for other
    architectures) names."""

    def __init__(self, root, resolve):
        self.root = root
        self.resolve = resolve
        self.placed = {}
        shutil.rmtree(root, ignore_errors=True)
        for d in ('bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/lib', 'lib64', 'etc',
                  'proc', 'sys', 'dev', 'tmp', 'run', 'root'):
            os.makedirs(os.path.join(root, d), exist_ok=True)

    def path(self, vm):
        return os.path.join(self.root, vm.lstrip('/'))

    def put(self, host, vm, mode=None):
        dest = self.path(vm)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(host, dest)
        os.chmod(dest, mode if mode is not None else os.stat(host).st_mode & 0o777)

    def write(self, vm, text, mode=0o644):
        dest = self.path(vm)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, 'w') as f:
            f.write(text)
        os.chmod(dest, mode)

    def symlink(self, target, vm):
        dest = self.path(vm)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.symlink(target, dest)

    def program(self, host, vm):
        """A program and every library it needs, each placed once."""
        if not os.path.exists(host):
            raise RuntimeError(f'{host} is not built')
        self.put(host, vm)
        for lib_host, lib_vm in self.resolve(host):
            if self.placed.setdefault(lib_vm, lib_host) == lib_host and \
                    not os.path.exists(self.path(lib_vm)):
                self.put(os.path.realpath(lib_host), lib_vm, 0o755)

    def busybox(self, host, init_script):
        """busybox as init: its inittab runs init_script once, then powers off."""
        self.put(host, '/bin/busybox', 0o755)
        self.symlink('busybox', '/bin/sh')
        self.symlink('bin/busybox', '/init')
        self.put(init_script, '/etc/vm-run', 0o755)
        self.write('/etc/inittab', '::sysinit:/etc/vm-run\n::wait:/bin/busybox reboot -f\n')
        self.write('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n')
        self.write('/etc/group', 'root:x:0:\n')

    def pack(self, cpio_tool, out, keep=False):
        if not os.path.lexists(self.path('/lib')):
            self.symlink('usr/lib', '/lib')
        names = subprocess.run(['find', '.', '-mindepth', '1'], cwd=self.root, check=True,
                               stdout=subprocess.PIPE).stdout
        with open(out, 'wb') as f:
            subprocess.run([cpio_tool, '--quiet', '-o', '-H', 'newc', '--owner=0:0'],
                           cwd=self.root, input=names, stdout=f, check=True)
        if not keep:
            shutil.rmtree(self.root)
        return out


def write_checks(initramfs, checks):
    """/etc/vm-checks, what vm-run.sh runs: name TAB seconds TAB command."""
    initramfs.write('/etc/vm-checks', ''.join(
        f'{c["name"]}\t{c["timeout"]}\t{c["command"]}\n' for c in checks))


class Run:
    """One boot: its log (shown in every test's output), its results.
    A tier subclasses it and implements go(tools)."""

    def __init__(self, tier, state, manifest, checks):
        self.tier = tier
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

    def go(self, tools):
        raise NotImplementedError

    # --- a cached build (a kernel, a cross build): stdout's last line is its result
    def build(self, what, cmd, log_name, env=None):
        """Runs cmd; returns (its result, None) or (None, (status, reason))."""
        start = time.monotonic()
        log_path = os.path.join(self.state, log_name)
        with open(log_path, 'w') as err:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        with open(log_path) as f:
            messages = f.read().strip()
        if messages:
            self.log(messages[-4000:].replace('\n', '\n    '))
        if p.returncode == SKIP:
            last = messages.splitlines()[-1] if messages else f'{what}: skipped'
            return None, ('skip', last)
        if p.returncode != 0 or not p.stdout.strip():
            return None, ('fail', f'{what} failed ({log_path})')
        self.info[f'{what}_seconds'] = round(time.monotonic() - start, 1)
        return p.stdout.strip().splitlines()[-1], None

    def kernel(self, cmd, image):
        """The kernel image that cmd (tests/vm/build-kernel and its
        arguments) built or found in the cache."""
        kdir, verdict = self.build('kernel', cmd, 'kernel-build.log')
        if verdict:
            return None, verdict
        self.info['kernel'] = kdir
        return os.path.join(kdir, image), None

    # --- the boot
    def boot(self, cmd, records_path, nonce, console_path=None):
        """Runs QEMU (cmd, whose serial port records_path gets the records;
        it may be the console itself) until the machine says done, stops
        answering, or ends."""
        console_path = console_path or os.path.join(self.state, 'console.log')
        if records_path != console_path:
            open(records_path, 'wb').close()
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
        current = None            # the check running in the machine
        deadline = started + BOOT_TIMEOUT
        waiting_for = 'the machine to boot'
        parts = {}                # check -> part -> [base64 lines]
        by_name = {c['name']: c for c in self.checks}
        done = False
        stop_reason = None
        self.damaged = 0
        try:
            while True:
                with open(records_path, 'rb') as f:
                    f.seek(offset)
                    data = f.read()
                offset += len(data)
                pending += data
                *lines, pending = pending.split(b'\n')
                for bline in lines:
                    line = bline.decode('ascii', 'replace').strip('\r')
                    at = line.find(prefix)
                    if at < 0:
                        continue
                    kind, _, rest = line[at + len(prefix):].partition(' ')
                    m = RECORD.get(kind, re.compile(r'(?!)')).match(rest)
                    if not m:
                        self.damaged += 1
                        continue
                    now = time.monotonic()
                    if kind == 'hello':
                        self.info['boot_seconds'] = round(now - started, 1)
                        self.log(f'machine up in {now - started:.1f} s: {rest}')
                        deadline = now + CHECK_GRACE
                        waiting_for = 'the first check'
                    elif kind == 'begin':
                        name = m.group(1)
                        if 'first_check_seconds' not in self.info:
                            self.info['first_check_seconds'] = round(now - started, 1)
                        current = name
                        limit = by_name[name]['timeout'] if name in by_name else 0
                        deadline = now + limit + CHECK_GRACE
                        waiting_for = f'check {name} (limit {limit} s in the machine)'
                    elif kind == 'data':
                        check, part, b64 = m.groups()
                        parts.setdefault(check, {}).setdefault(part, []).append(b64)
                    elif kind == 'end':
                        name, status, seconds, timed_out = m.groups()
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
                        stop_reason = (f'the machine ended (QEMU exit status {qemu.returncode}) '
                                       f'while waiting for {waiting_for}')
                    break
                if time.monotonic() > deadline:
                    stop_reason = (f'no word from the machine in time while waiting for '
                                   f'{waiting_for}: it was stopped')
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
        self.info['machine_seconds'] = round(time.monotonic() - started, 1)
        if self.damaged:
            self.info['damaged_records'] = self.damaged
        if stop_reason:
            self.log(stop_reason)
            if current:
                self.results[current] = {
                    'status': 'fail',
                    'reason': f'did not finish: {stop_reason} (see the console below)'}
                self.save_parts(current, parts.pop(current, {}))
            self.finish_all('fail', f'not run: {stop_reason}')
        self.finish_all('fail', 'not reported by the machine')
        try:
            with open(console_path, errors='replace') as f:
                self.console_slices(f.read())
        except OSError:
            pass

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
            r.update(status='fail', reason='timed out in the machine')
        elif status == 0:
            r['status'] = 'pass'
        elif status == SKIP:
            r['status'] = 'skip'
        else:
            r.update(status='fail', reason=f'exit status {status}')
        self.results[name] = r

    def console_slices(self, console):
        """Each check's part of the console, between the runner's markers."""
        for c in self.checks:
            name = c['name']
            m = re.search(r'dmabridge-vm \S+: begin ' + re.escape(name) + r'\r?\n(.*?)'
                          r'(dmabridge-vm \S+: end ' + re.escape(name) + r' |\Z)',
                          console, re.S)
            if m:
                with open(os.path.join(self.check_dir(name), 'console.log'), 'w') as f:
                    f.write(m.group(1))

    def finish(self, start):
        self.info['total_seconds'] = round(time.monotonic() - start, 1)
        self.log('run: ' + ', '.join(f'{k} {v}' for k, v in self.info.items()
                                     if k != 'qemu'))


def new_nonce():
    return secrets.token_hex(6)


class Tier:
    """What a tier says about itself. Subclasses set these and run_class."""
    name = 'vm'             # in messages
    env = 'DMAB_VM'         # prefix of its environment variables
    run_class = Run

    def configure(self, manifest):
        """What the tier learns from its manifest before anything runs."""

    def tools(self):
        """name -> path or None."""
        return {}

    def fingerprint_files(self, manifest):
        return []

    def selected(self, manifest):
        patterns = os.environ.get(f'{self.env}_CHECKS', '').split()
        if not patterns:
            return manifest['checks']
        return [c for c in manifest['checks']
                if any(fnmatch.fnmatchcase(c['name'], p) for p in patterns)]

    def env_keys(self):
        return [f'{self.env}_{k}' for k in ('CHECKS', 'MEMORY', 'APPEND')] + \
            ['DMAB_LINUX_SOURCE']


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


def results_for(tier, args, manifest):
    """The results of this run, booting the machine if nobody did yet."""
    tools = tier.tools()
    texts = [args.manifest] + tier.fingerprint_files(manifest) + manifest_files(manifest)
    stamps = list(manifest['bins'].values()) + [t for t in tools.values() if t] + \
        [row[0] for row in manifest['more'].get('stamp', []) + manifest['more'].get('lib', [])]
    fp = fingerprint(texts, stamps, tier.env_keys())
    rid = run_id(f'{tier.env}_RUN_ID')
    reuse = os.environ.get(f'{tier.env}_REUSE') == '1'
    path = os.path.join(args.state, 'results.json')
    os.makedirs(args.state, exist_ok=True)
    with open(os.path.join(args.state, 'lock'), 'w') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f'waiting for the {tier.name} run of another test', flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        old = load(path)
        if old and old.get('fingerprint') == fp and (reuse or old.get('run') == rid):
            return old, False
        shutil.rmtree(os.path.join(args.state, 'checks'), ignore_errors=True)
        run = tier.run_class(tier, args.state, manifest, tier.selected(manifest))
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        start = time.monotonic()
        try:
            run.go(tools)
        except Interrupted as e:
            run.log(f'interrupted by {e}')
            run.finish_all('fail', f'the {tier.name} run was interrupted by {e}')
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        run.finish(start)
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


def report(tier, args, manifest, data, booted):
    name = args.check
    check = next((c for c in manifest['checks'] if c['name'] == name), None)
    if check is None:
        print(f'no check {name} in {args.manifest}')
        return 1
    r = data['results'].get(name)
    if r is None:
        print(f'{name}: not selected by {tier.env}_CHECKS='
              f'"{os.environ.get(tier.env + "_CHECKS", "")}": skipped')
        return SKIP
    info = data.get('info', {})
    if not booted:
        print(f'results of the {tier.name} run made by another test of this run: '
              + data.get('log', ''))
    if info:
        print(f'{tier.name} run: ' + ', '.join(f'{k} {v}' for k, v in info.items()
                                               if k != 'qemu'))
    if info.get('qemu'):
        print(f'console: {os.path.join(args.state, "console.log")}; kernel log of the boot: '
              f'{os.path.join(args.state, "checks", "boot", "kernel.log")}')
    d = os.path.join(args.state, 'checks', name)
    print(f'check {name}: {r["status"]}'
          + (f' ({r["reason"]})' if r.get('reason') else '')
          + (f' in {r["seconds"]} s' if 'seconds' in r else ''))
    print(f'in the machine: (limit {check["timeout"]} s) {check["command"]}')
    show(os.path.join(d, 'output.log'), 'output')
    show(os.path.join(d, 'kernel.log'), 'kernel messages during the check')
    show(os.path.join(d, 'console.log'), 'console during the check')
    if r['status'] == 'fail' and r.get('rc') is None and info.get('qemu'):
        show(os.path.join(args.state, 'console.log'), 'the console (end)', 20000)
    if os.path.isdir(d):
        for f in sorted(f for f in os.listdir(d) if f.startswith('file-')):
            print(f'file from the machine: {os.path.join(d, f)}')
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


def main(tier, doc):
    import argparse
    ap = argparse.ArgumentParser(description=doc.split('\n')[0])
    ap.add_argument('--manifest', required=True)
    ap.add_argument('--state', required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument('--check')
    g.add_argument('--summary', action='store_true')
    args = ap.parse_args()
    manifest = read_manifest(args.manifest)
    tier.configure(manifest)
    if args.summary:
        return summary(args, manifest)
    data, booted = results_for(tier, args, manifest)
    return report(tier, args, manifest, data, booted)
