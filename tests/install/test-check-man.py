#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-man.py must fail when a page falls behind the code, or the code
changes shape under it: each case breaks a copy of a real page or source
file in one way and expects the check to refuse it.

usage: test-check-man.py SOURCE_ROOT DMABRIDGED
"""
import os
import re
import subprocess
import sys
import tempfile

root, dmabridged = sys.argv[1], sys.argv[2]
checker = os.path.join(root, "tests/install/check-man.py")
man = os.path.join(root, "docs/man")


def run(*args):
    return subprocess.run([sys.executable, checker, *args], capture_output=True, text=True)


def edit(src, tmp, name, pattern, repl, count=1):
    with open(src) as f:
        text = f.read()
    new, n = re.subn(pattern, repl, text, count=count, flags=re.M)
    if n == 0:
        print(f"FAIL: the case's pattern {pattern!r} is not in {src}", file=sys.stderr)
        sys.exit(1)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(new)
    return path


failed = 0
with tempfile.TemporaryDirectory() as tmp:
    ini_page = os.path.join(man, "dmabridged.ini.5.scd")
    config_c = os.path.join(root, "server/config.c")
    daemon_page = os.path.join(man, "dmabridged.8.scd")
    lib_page = os.path.join(man, "libdmabridge-client.3.scd")
    lib_map = os.path.join(root, "client/libdmabridge-client.map")
    cases = [
        ("the page as it is passes", ["config", ini_page, config_c], 0),
        ("a key missing from its section",
         ["config", edit(ini_page, tmp, "a.scd", r"^\*max-framebuffers\* = .*\n", ""), config_c], 1),
        ("a key documented in another section",
         ["config", edit(ini_page, tmp, "b.scd", r"^\*device\* = ", "*devices* = "), config_c], 1),
        ("a key the parser gained",
         ["config", ini_page, edit(config_c, tmp, "c.c", r'if \(!strcmp\(name, "output"\)\)',
                                   'if (!strcmp(name, "new-key"))\n\t\treturn true;\n\t'
                                   'if (!strcmp(name, "output"))')], 1),
        ("a limit's range the page does not say",
         ["config", ini_page, edit(config_c, tmp, "d.c", r'(max_connectors\), false, 1, )16', r"\g<1>32")], 1),
        ("a parser no longer shaped as the script expects",
         ["config", ini_page, edit(config_c, tmp, "e.c", r"\bhandle_ini\b", "handle_line", count=0)], 1),
        ("an option missing from the page",
         ["options", edit(daemon_page, tmp, "f.scd", r"^\*--screen\* ", "*--screens* "), dmabridged], 1),
        ("an option without its short form",
         ["options", edit(daemon_page, tmp, "g.scd", r"^\*-c, --config\*", "*--config*"), dmabridged], 1),
        ("an exported function not described",
         ["api", lib_page, edit(lib_map, tmp, "h.map", r"^(\s*)dmab_client_flip;", r"\1dmab_client_flip;\n\1dmab_client_new;")], 1),
    ]
    for what, args, expected in cases:
        r = run(*args)
        got = 0 if r.returncode == 0 else 1
        if got != expected:
            failed += 1
            print(f"FAIL: {what}: check-man.py exited {r.returncode}\n{r.stdout}{r.stderr}",
                  file=sys.stderr)
        else:
            print(f"ok: {what}")
sys.exit(1 if failed else 0)
