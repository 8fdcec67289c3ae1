# SPDX-License-Identifier: MIT
"""A dmabridged on the simulator in a scratch directory, with guests, for
the tests of what gets installed."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 30  # under ASan, on a loaded machine


class Failure(Exception):
    pass


class Sim:
    def __init__(self, dmabridged, dmabridgectl, play, config=None):
        self.dmabridged, self.dmabridgectl, self.play = dmabridged, dmabridgectl, play
        self.config = config
        self.guests = []

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="dmab-sim-")
        self.dir = self.tmp.name
        os.chmod(self.dir, 0o700)
        self.control = os.path.join(self.dir, "control.sock")
        self.sim_socket = os.path.join(self.dir, "sim.sock")
        self.log = open(os.path.join(self.dir, "dmabridged.log"), "w+")
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.dir)
        for name in ("DMABRIDGE_SOCKET", "DMABRIDGE_SIM_SOCKET", "NOTIFY_SOCKET"):
            self.env.pop(name, None)
        args = [self.dmabridged, "--hypervisor", "sim", "--control-socket", self.control,
                "--sim-socket", self.sim_socket]
        if self.config:
            args += ["-c", self.config]
        self.daemon = subprocess.Popen(args, env=self.env, stdout=self.log, stderr=self.log)
        self.wait_for(lambda: self.status() is not None, "dmabridged to answer")
        return self

    def __exit__(self, *exc):
        for guest in self.guests:
            if guest.poll() is None:
                guest.send_signal(signal.SIGTERM)
        for guest in self.guests:
            try:
                guest.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                guest.kill()
                guest.wait()
        self.daemon.send_signal(signal.SIGTERM)
        try:
            code = self.daemon.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            code = self.daemon.wait()
        if exc[0] is not None or code != 0:
            self.log.seek(0)
            print("--- dmabridged's log:\n" + self.log.read(), file=sys.stderr)
        self.log.close()
        self.tmp.cleanup()
        if exc[0] is None and code != 0:
            raise Failure(f"dmabridged exited {code}")
        return False

    def ctl(self, *args):
        return subprocess.run([self.dmabridgectl, "--socket", self.control, "--timeout", "10",
                               *args], capture_output=True, text=True, env=self.env)

    def status(self):
        r = self.ctl("--json", "status")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def guest(self, name, connectors):
        """A guest domain called name with connectors [(unique-id, w, h)], holding frame 0."""
        spec = ",".join(f"{uid}:{w}x{h}" for uid, w, h in connectors)
        g = subprocess.Popen([self.play, "--sim-socket", self.sim_socket, "--name", name,
                              "--create", spec, "--frames", "1", "--hold"],
                             env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        self.guests.append(g)
        return g

    def wait_for(self, ready, what):
        deadline = time.monotonic() + TIMEOUT_S
        while not ready():
            if self.daemon.poll() is not None:
                raise Failure(f"dmabridged exited {self.daemon.returncode} waiting for {what}")
            if time.monotonic() > deadline:
                raise Failure(f"no {what} within {TIMEOUT_S} s")
            time.sleep(0.05)

    def wait_for_connectors(self, count):
        """The status once count connectors are connected."""
        last = {}

        def ready():
            s = self.status() or {}
            last["status"] = s
            conns = [c for g in s.get("guests", []) if g.get("connected")
                     for c in g.get("connectors", [])]
            return len(conns) >= count

        self.wait_for(ready, f"{count} connectors connected")
        return last["status"]
