#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""systemd takes dmabridged.service as it is built: systemd-analyze verify
passes without a word about it, its sandbox exposure stays low, and it
starts dmabridged the way the build installs it.

usage: test-unit.py UNIT DMABRIDGED TYPE CONFIG [MANPAGE...]

UNIT is the configured unit, DMABRIDGED the program it starts (put where
ExecStart says, in a scratch root), TYPE the Type= it must have, CONFIG
the configuration file ExecStart must name. The MANPAGEs (built or
installed pages) are what Documentation= points to; without them, or
without man, man pages are not checked. Skips (77) without
systemd-analyze.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
# systemd-analyze security's exposure, in tenths: 2.2 when this was written
# ("OK" is below 4.5). A change that opens the sandbox up has to say so here.
MAX_EXPOSURE = 30


def main(argv):
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    unit, dmabridged, unit_type, config = argv[1:5]
    pages = argv[5:]
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("no systemd-analyze")
        return SKIP
    name = os.path.basename(unit)
    with open(unit) as f:
        text = f.read()

    failures = []
    settings = {}
    for line in text.split("\n"):
        m = re.match(r"^(\w+)=(.*)$", line)
        if m:
            settings.setdefault(m.group(1), []).append(m.group(2))
    if settings.get("Type") != [unit_type]:
        failures.append(f"Type={settings.get('Type')}, not {unit_type}")
    start = settings.get("ExecStart", [""])[0].split()
    if start[1:] != ["--hypervisor", "xen", "-c", config]:
        failures.append(f"ExecStart={' '.join(start)}: not dmabridged --hypervisor xen -c {config}")

    with tempfile.TemporaryDirectory(prefix="dmab-unit-") as root:
        # A root with the system's units, our unit, and the programs it runs
        # where it runs them: verify checks that they are there.
        system_units = next(d for d in ("/usr/lib/systemd/system", "/lib/systemd/system")
                            if os.path.isdir(d))
        shutil.copytree(system_units, os.path.join(root, "lib/systemd/system"), symlinks=True)
        os.makedirs(os.path.join(root, "etc/systemd/system"))
        shutil.copy(unit, os.path.join(root, "etc/systemd/system", name))
        programs = [start[0]] + [v.split()[0] for v in settings.get("ExecReload", [])]
        for program in programs:
            dest = os.path.join(root, program.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            src = dmabridged if os.path.basename(program) == "dmabridged" else program
            shutil.copy(src, dest)
        env = dict(os.environ)
        args = [analyze, "verify", f"--root={root}"]
        if pages and shutil.which("man"):
            mandir = os.path.join(root, "usr/share/man")
            for page in pages:
                section = re.sub(r"\.gz$", "", page).rsplit(".", 1)[1]
                os.makedirs(os.path.join(mandir, f"man{section}"), exist_ok=True)
                shutil.copy(page, os.path.join(mandir, f"man{section}"))
            env["MANPATH"] = mandir
        else:
            pages = []
            args.append("--man=no")
        r = subprocess.run(args + [name], capture_output=True, text=True, env=env)
        # verify passes units with settings it ignores: every word about ours is an error.
        about = [line for line in (r.stdout + r.stderr).split("\n")
                 if "dmabridged" in line or line.startswith(name)]
        if r.returncode != 0 or about:
            failures.append(f"systemd-analyze verify exited {r.returncode}:\n"
                            + "\n".join(about or [r.stdout + r.stderr]))
        else:
            print(f"systemd-analyze verify: {name} is fine"
                  + ("" if pages else " (man pages not checked: none, or no man)"))

        r = subprocess.run([analyze, "security", "--offline=true", f"--root={root}",
                            f"--threshold={MAX_EXPOSURE}", name],
                           capture_output=True, text=True)
        score = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
        if r.returncode != 0:
            failures.append(f"systemd-analyze security: exposure {score.group(1) if score else '?'}"
                            f", over {MAX_EXPOSURE / 10}:\n{r.stdout}{r.stderr}")
        else:
            print(f"systemd-analyze security: exposure {score.group(1) if score else '?'}")

    for msg in failures:
        print(f"FAIL: {msg}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
