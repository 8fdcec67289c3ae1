#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The installed example configuration does what it says: dmabridged starts
with it (on the simulator and a headless output, instead of Xen and the
host's display), each domain it names gets its places, and a domain that
names its connectors alike gets none of them.

usage: test-dashboard.py DMABRIDGED DMABRIDGECTL DMABRIDGE_PLAY CONFIG
"""
import configparser
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim import Failure, Sim  # noqa: E402

INTRUDER = "intruder"


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    dmabridged, dmabridgectl, play, config = argv[1:]
    with open(config) as f:
        text = f.read()
    ini = configparser.ConfigParser(inline_comment_prefixes=(";",))
    ini.read_string(text)
    places = {}
    for section in ini.sections():
        if not section.startswith("connector."):
            continue
        label = section[len("connector."):]
        p = ini[section]
        if "domain" not in p:
            raise Failure(f"{config}: [{section}] is bound to no domain")
        places[(p["domain"], p.get("unique-id", label))] = (label, p)
    if not places:
        raise Failure(f"{config}: no [connector.*] places")
    domains = sorted({domain for domain, _ in places})

    failures = []
    with tempfile.TemporaryDirectory(prefix="dmab-dashboard-") as tmp:
        # The same configuration, with a headless output for the host's display.
        scratch = os.path.join(tmp, "dmabridged.ini")
        with open(scratch, "w") as f:
            f.write(re.sub(r"^output\s*=.*$", "output = headless", text, flags=re.M))
        with Sim(dmabridged, dmabridgectl, play, config=scratch) as sim:
            # The intruder comes first and calls its connectors like all the others.
            uids = sorted({uid for _, uid in places})
            sim.guest(INTRUDER, [(uid, 64, 48) for uid in uids])
            sim.wait_for_connectors(len(uids))
            for domain in domains:
                sim.guest(domain, [(uid, 64, 48) for d, uid in sorted(places) if d == domain])
            status = sim.wait_for_connectors(len(uids) + len(places))

            held = {}
            for g in status["guests"]:
                for c in g["connectors"]:
                    held[(g["domain"], c["unique_id"])] = c["place"]
            for (domain, uid), (label, p) in sorted(places.items()):
                got = held.get((domain, uid))
                if got is None:
                    failures.append(f"domain {domain} has no connector {uid}")
                    continue
                if got.get("config") != label:
                    failures.append(f"{domain}'s {uid} holds {got.get('config')}, not [connector.{label}]")
                for key in ("x", "y", "z"):
                    if key in p and got.get(key) != int(p[key]):
                        failures.append(f"{domain}'s {uid}: {key} {got.get(key)}, not {p[key]}")
                visible = p.getboolean("visible", True)
                if got.get("visible") != visible:
                    failures.append(f"{domain}'s {uid}: visible {got.get('visible')}, not {visible}")
            for uid in uids:
                got = held.get((INTRUDER, uid), {})
                if got.get("config") is not None:
                    failures.append(f"{INTRUDER}'s {uid} took [connector.{got['config']}]")
            print(f"{len(places)} places of {len(domains)} domains held by them, "
                  f"none by {INTRUDER}")
    for msg in failures:
        print(f"FAIL: {msg}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
