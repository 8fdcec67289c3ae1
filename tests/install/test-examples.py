#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""dmabridged's parser takes every example configuration: the installed
one (each of its places bound to a domain), those in docs/examples/, and
those in dmabridged.ini(5).

usage: test-examples.py CHECK_CONFIG SOURCE_ROOT
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

check, root = sys.argv[1], sys.argv[2]
installed = os.path.join(root, "data/dmabridged.ini")
examples = sorted(glob.glob(os.path.join(root, "docs/examples/*.ini")))
with open(os.path.join(root, "docs/man/dmabridged.ini.5.scd")) as f:
    page = f.read()
# The page's literal blocks that are configurations (they open a section).
blocks = [b for b in re.findall(r"^```\n(.*?)^```$", page, flags=re.M | re.S)
          if b.lstrip().startswith("[")]
if not blocks:
    print("FAIL: no example configuration in dmabridged.ini.5.scd", file=sys.stderr)
    sys.exit(1)

status = 0
with tempfile.TemporaryDirectory() as tmp:
    extracted = []
    for i, block in enumerate(blocks):
        path = os.path.join(tmp, f"dmabridged.ini.5-example-{i + 1}.ini")
        with open(path, "w") as f:
            f.write(block)
        extracted.append(path)
    for args in ([installed], examples + extracted):
        r = subprocess.run([check, "--bound", *args] if args == [installed] else [check, *args])
        status = status or r.returncode
    # The page's dashboard binds every place too, as it says.
    r = subprocess.run([check, "--bound", extracted[0]], stdout=subprocess.DEVNULL)
    status = status or r.returncode
sys.exit(1 if status else 0)
