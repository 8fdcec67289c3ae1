#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bash completion of dmabridgectl: its commands and options, and the
screens and connectors of the running dmabridged, but never a name a guest
chose that the shell would read as more than a word (it must neither be
offered nor run).

usage: test-completion.py DMABRIDGED DMABRIDGECTL DMABRIDGE_PLAY COMPLETION
Skips (77) without bash-completion.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim import Failure, Sim  # noqa: E402

SKIP = 77
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
HOSTILE = ["$(touch PWNED1)", "`touch PWNED2`", "a;touch PWNED3", "x y"]

# Runs _dmabridgectl on COMP_WORDS as bash splits a line (at spaces, = and :).
DRIVER = r'''
files=("$1" "$2")
shift 2
words=("$@")
set --
source "${files[0]}"
source "${files[1]}"
declare -F _dmabridgectl >/dev/null || exit 3
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=""
	local w prev=""
	for w in "$@"; do
		if [[ -n $COMP_LINE && $w != [=:] && $prev != [=:] ]]; then
			COMP_LINE+=" "
		fi
		COMP_LINE+=$w
		prev=$w
	done
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_dmabridgectl
	printf '%s\n' "${COMPREPLY[@]}"
}
complete_words "${words[@]}"
'''


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    dmabridged, dmabridgectl, play, completion = (os.path.abspath(a) for a in argv[1:])
    if not os.path.exists(BASH_COMPLETION) or not shutil.which("bash"):
        print("no bash-completion")
        return SKIP
    failures = []
    with Sim(dmabridged, dmabridgectl, play) as sim, \
            tempfile.TemporaryDirectory(prefix="dmab-complete-") as cwd:
        sim.guest("cluster", [("cluster0", 64, 48)])
        sim.guest("evil", [(uid, 32, 32) for uid in HOSTILE])
        status = sim.wait_for_connectors(1 + len(HOSTILE))
        ids = sorted(c["id"] for g in status["guests"] for c in g["connectors"])
        open(os.path.join(cwd, "shot.png"), "w").close()
        # The completion runs dmabridgectl as typed: this one.
        env = dict(sim.env, PATH=os.path.dirname(dmabridgectl) + os.pathsep + os.environ["PATH"])

        def complete(*words):
            r = subprocess.run(["bash", "-c", DRIVER, "driver", BASH_COMPLETION, completion,
                                "dmabridgectl", *words], capture_output=True, text=True,
                               cwd=cwd, env=env, timeout=60)
            if r.returncode != 0:
                failures.append(f"completing {' '.join(words)!r}: bash exited {r.returncode}: "
                                f"{r.stderr}")
            return sorted(w for w in r.stdout.split("\n") if w)

        sock = ["--socket", sim.control]
        cases = [
            ([""], ["layout", "reload", "screenshot", "stats", "status"]),
            (["st"], ["stats", "status"]),
            (["--"], ["--help", "--json", "--socket", "--timeout"]),
            (sock + ["layout", ""], sorted(ids + ["cluster0"])),
            (sock + ["layout", "cl"], ["cluster0"]),
            (sock + ["layout", "cluster0", "vis"], ["visible="]),
            (sock + ["layout", "cluster0", "h"], ["height="]),
            (sock + ["layout", "cluster0", "visible", "=", ""], ["no", "yes"]),
            (sock + ["layout", "cluster0", "screen", "=", ""], ["main"]),
            (sock + ["screenshot", "screen", ":", "m"], ["main"]),
            (sock + ["screenshot", ""], sorted(ids + ["cluster0", "main", "screen:main",
                                                      "shot.png"])),
            (sock + ["screenshot", "main", ""], ["shot.png"]),
            (sock + ["stats", ""], ["-w"]),
        ]
        for words, expected in cases:
            got = complete(*words)
            if got != expected:
                failures.append(f"completing {' '.join(words)!r}: {got}, not {expected}")
        ran = [f for f in os.listdir(cwd) if f.startswith("PWNED")]
        if ran:
            failures.append(f"completion ran a guest's unique-id: {ran}")
    for msg in failures:
        print(f"FAIL: {msg}", file=sys.stderr)
    if not failures:
        print(f"{len(cases)} completions right; no guest-chosen name ran or was offered")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
