#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""dmabridged tells systemd (Type=notify) when it is ready, reloading and stopping.

usage: test-notify.py DMABRIDGED yes|no

Plays systemd's part: listens on a NOTIFY_SOCKET, starts dmabridged on the
simulator, and checks that READY=1 comes once the control socket takes
connections, RELOADING=1 (with MONOTONIC_USEC) then READY=1 around each
SIGHUP, a reload of a broken file included, and STOPPING=1 on SIGTERM,
before a clean exit. "no": dmabridged was built without libsystemd (skip).
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
TIMEOUT_S = 30  # under ASan, on a loaded machine


def fail(msg, daemon=None):
    print(f"FAIL: {msg}", file=sys.stderr)
    if daemon:
        daemon.kill()
        _, err = daemon.communicate()
        print("--- dmabridged's log:\n" + err.decode(errors="replace"), file=sys.stderr)
    sys.exit(1)


def receive(sock, daemon):
    """The next notification, as a dict of its NAME=value lines."""
    sock.settimeout(TIMEOUT_S)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        fail(f"no notification within {TIMEOUT_S} s", daemon)
    fields = {}
    for line in data.decode().split("\n"):
        if line:
            name, _, value = line.partition("=")
            fields[name] = value
    return fields


def expect(sock, daemon, name):
    fields = receive(sock, daemon)
    if fields.get(name) != "1":
        fail(f"expected {name}=1, got {fields}", daemon)
    return fields


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    dmabridged, with_systemd = sys.argv[1], sys.argv[2]
    if with_systemd != "yes":
        print("dmabridged is built without libsystemd: nothing to notify")
        return SKIP

    with tempfile.TemporaryDirectory(prefix="dmab-notify-") as tmp:
        os.chmod(tmp, 0o700)
        notify_path = os.path.join(tmp, "notify")
        control = os.path.join(tmp, "control.sock")
        config = os.path.join(tmp, "dmabridged.ini")
        with open(config, "w") as f:
            f.write("[server]\nlog-level = info\n")

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(notify_path)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path, XDG_RUNTIME_DIR=tmp)
        env.pop("DMABRIDGE_SOCKET", None)
        env.pop("DMABRIDGE_SIM_SOCKET", None)
        daemon = subprocess.Popen(
            [dmabridged, "--hypervisor", "sim", "-c", config, "--control-socket", control,
             "--sim-socket", os.path.join(tmp, "sim.sock")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        expect(sock, daemon, "READY")
        # Ready means taking connections: systemd starts what comes after us now.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(control)
        except OSError as e:
            fail(f"READY=1 before the control socket takes connections: {e}", daemon)
        probe.close()

        for content in ["[server]\nlog-level = debug\n", "[server]\nnot-a-key = 1\n"]:
            with open(config, "w") as f:
                f.write(content)
            before = time.clock_gettime(time.CLOCK_MONOTONIC)
            daemon.send_signal(signal.SIGHUP)
            fields = expect(sock, daemon, "RELOADING")
            after = time.clock_gettime(time.CLOCK_MONOTONIC)
            # systemd 253's Type=notify-reload takes the start of the reload too.
            try:
                usec = int(fields.get("MONOTONIC_USEC", ""))
            except ValueError:
                fail(f"RELOADING=1 without a MONOTONIC_USEC: {fields}", daemon)
            if not before - 1 <= usec / 1e6 <= after + 1:
                fail(f"MONOTONIC_USEC={usec} is not the time of the reload "
                     f"({before:.3f}..{after:.3f} s)", daemon)
            # A file that does not parse leaves the old configuration running: still ready.
            expect(sock, daemon, "READY")

        daemon.send_signal(signal.SIGTERM)
        expect(sock, daemon, "STOPPING")
        try:
            _, err = daemon.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail("dmabridged did not stop after SIGTERM", daemon)
        if daemon.returncode != 0:
            print(err.decode(errors="replace"), file=sys.stderr)
            fail(f"dmabridged exited {daemon.returncode}")
    print("ready, reloading, ready, reloading, ready, stopping: as systemd expects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
