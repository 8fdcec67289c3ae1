#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/test-summary counts meson's results and, when a test failed,
says why at the end of the run, where a CI log that keeps only its last
lines still shows it.

usage: test-test-summary.py SOURCE_ROOT
"""
import json
import os
import subprocess
import sys
import tempfile

root = sys.argv[1]
summary = os.path.join(root, 'scripts/test-summary')
failed = 0


def check(ok, what):
    global failed
    if not ok:
        print(f'FAIL: {what}')
        failed = 1


def testlog(path, results):
    os.makedirs(os.path.join(path, 'meson-logs'))
    with open(os.path.join(path, 'meson-logs', 'testlog.json'), 'w') as f:
        for r in results:
            f.write(json.dumps(r) + '\n')


noise = ''.join(f'  {i}.000 debug [server/frontend.c:48] dom1/vdispl0: state {i}\n'
                for i in range(200))
kernel = '[   12.345678] vdispl vdispl-0: freeing event channel 3\n'
why = 'FAIL tests/integration/test-hostile-fairness.c:182: the good guest waited 1200 ms\n'
with tempfile.TemporaryDirectory() as tmp:
    a, b = os.path.join(tmp, 'default'), os.path.join(tmp, 'sanitize')
    testlog(a, [
        {'name': 'unit/ring', 'result': 'OK', 'stdout': ''},
        {'name': 'drm', 'result': 'SKIP', 'stdout': 'no vkms\n'},
        {'name': 'xen-arm64-hostile-fairness', 'result': 'FAIL',
         'stdout': 'begin\n' + noise + why + kernel + noise + '# the domain went\nFAILED\n'},
    ])
    testlog(b, [{'name': 'unit/ring', 'result': 'OK', 'stdout': ''},
                {'name': 'slow', 'result': 'TIMEOUT', 'stdout': 'still waiting\n'}])
    pkg = os.path.join(tmp, 'package.json')
    with open(pkg, 'w') as f:
        f.write(json.dumps({'name': 'install', 'result': 'OK'}) + '\n')

    p = subprocess.run([sys.executable, summary, a, b, pkg, '--broken', 'fuzz'],
                       capture_output=True, text=True)
    out = p.stdout.splitlines()
    print(p.stdout)
    check(p.returncode == 1, f'exit status {p.returncode} with failures')
    check(out and out[-1] == '3 passed, 3 failed, 1 skipped', 'the last line')
    check('   default: 1 passed, 1 failed, 1 skipped  [xen-arm64-hostile-fairness]' in out,
          "the default stage's line")
    check('      fuzz: did not build' in out, 'the broken stage')
    check(f'  | {why.strip()}' in out, "the failed test's FAIL line")
    check('  | FAILED' in out and '  | # the domain went' in out, "the end of its output")
    check('  | still waiting' in out, "the timed-out test's output")
    check(not any('debug [' in line or 'freeing event channel' in line for line in out),
          'log noise left in the excerpt')
    check(len(out) < 60, f'{len(out)} lines: too long to stay at the end of a CI log')
    first_stage = next(i for i, line in enumerate(out) if line.startswith('   default:'))
    check(all(not line.startswith('  | ') for line in out[first_stage:]),
          'the excerpts come before the stages\' lines')

    clean = os.path.join(tmp, 'clean')
    testlog(clean, [{'name': 'unit/ring', 'result': 'OK', 'stdout': ''}])
    p = subprocess.run([sys.executable, summary, clean], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.splitlines()[-1] == '1 passed, 0 failed, 0 skipped',
          f'a clean run: {p.returncode} {p.stdout!r}')
    check('---' not in p.stdout, 'a clean run prints an excerpt')

sys.exit(failed)
