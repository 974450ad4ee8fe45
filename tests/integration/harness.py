# SPDX-License-Identifier: GPL-2.0-or-later
"""Integration-test harness: runs the real assignd binary on a scratch
socket, database and simulator state, and talks to it with assignctl or
with raw Varlink messages.

Environment (set by meson): ASSIGND, ASSIGNCTL (binaries), TEST_DATA_DIR
(compiled test DTBs), SHARED_DTB_DIR (real vendor DTBs).

A test script is a list of cases run by run_cases(); it exits 0 when all
pass, 1 when one fails, 77 when the script cannot run here (and says why).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ASSIGND = os.environ.get("ASSIGND", "")
ASSIGNCTL = os.environ.get("ASSIGNCTL", "")
TEST_DATA_DIR = os.environ.get("TEST_DATA_DIR", "")
SHARED_DTB_DIR = os.environ.get("SHARED_DTB_DIR", "")

DEMO_DTB = os.path.join(TEST_DATA_DIR, "demo-board.dtb")


class Skip(Exception):
    """Raised by a case (or the whole script) that cannot run here."""


class Fail(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def wait_for(fn, what, timeout=5):
    """Poll fn every 0.1 s until it is true; Fail after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if fn():
            return
        time.sleep(0.1)
    raise Fail("%s did not happen within %ds" % (what, timeout))


def xl_grants(cfg):
    """What xl makes of an xl.cfg fragment's device lines, as the
    Simulator's CreateDomain parameters (playing "xl create")."""
    g = {"passthrough": '"enabled"' in cfg}
    for line in cfg.splitlines():
        key, _, val = line.partition(" = ")
        if key == "irqs":
            g["irqs"] = [int(x) for x in val.strip("[]").split(",") if x.strip()]
        elif key in ("iomem", "dtdev"):
            g[key] = re.findall(r'"([^"]*)"', val)
    return g


def daemon_with_nofile(n, **kw):
    """A Daemon run under prlimit with at most n file descriptors (Skip
    without prlimit); the daemon's pid is prlimit's, which execs it."""
    if not shutil.which("prlimit"):
        raise Skip("prlimit not installed")
    d = Daemon(**kw)
    plain_args = d.args
    d.args = lambda: ["prlimit", "--nofile=%d" % n, "--"] + plain_args()
    return d


def shared_dtb(name):
    path = os.path.join(SHARED_DTB_DIR, name)
    if not os.path.exists(path):
        raise Skip("real DTB %s not found (is ../shared/dtb there?)" % path)
    return path


def shared_dtbs():
    if not SHARED_DTB_DIR or not os.path.isdir(SHARED_DTB_DIR):
        raise Skip("SHARED_DTB_DIR %r is not a directory" % SHARED_DTB_DIR)
    return sorted(os.path.join(SHARED_DTB_DIR, f)
                  for f in os.listdir(SHARED_DTB_DIR) if f.endswith(".dtb"))


class VarlinkError(Exception):
    def __init__(self, name, parameters):
        super().__init__("%s: %s" % (name, parameters.get("message", parameters)))
        self.name = name
        self.parameters = parameters


class Connection:
    """A raw Varlink connection: NUL-terminated JSON messages."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, method, params=None, more=False, oneway=False):
        msg = {"method": method}
        if params is not None:
            msg["parameters"] = params
        if more:
            msg["more"] = True
        if oneway:
            msg["oneway"] = True
        self.send_raw(json.dumps(msg).encode() + b"\0")

    def recv_raw(self):
        """One message as bytes, or b'' if the peer closed first."""
        while b"\0" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                rest, self.buf = self.buf, b""
                return rest
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return msg

    def recv(self):
        raw = self.recv_raw()
        if not raw:
            raise ConnectionError("daemon closed the connection")
        return json.loads(raw)

    def call(self, method, params=None, more=False):
        """Returns the reply parameters; raises VarlinkError on an error reply."""
        self.send(method, params, more=more)
        reply = self.recv()
        if "error" in reply:
            raise VarlinkError(reply["error"], reply.get("parameters", {}))
        return reply.get("parameters", {})


class Daemon:
    """The real daemon on scratch paths.  Use as a context manager."""

    def __init__(self, dtb=None, hypervisor="sim", extra_args=(), workdir=None,
                 sim_xen_version=None):
        if not ASSIGND or not os.access(ASSIGND, os.X_OK):
            raise Skip("ASSIGND=%r is not an executable" % ASSIGND)
        self.dtb = dtb or DEMO_DTB
        self.hypervisor = hypervisor
        self.extra_args = list(extra_args)
        self.sim_xen_version = sim_xen_version
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="assignd-test-")
        self.socket = os.path.join(self.dir, "broker.sock")
        self.db = os.path.join(self.dir, "inventory.db")
        self.sim_state = os.path.join(self.dir, "sim-state.json")
        self.config_dir = os.path.join(self.dir, "etc")
        os.makedirs(self.config_dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.log_path = os.path.join(self.dir, "assignd.log")
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def args(self):
        a = [ASSIGND, "--foreground", "--log-level", "debug",
             "--dtb", self.dtb, "--db", self.db, "--socket", self.socket,
             "--hypervisor", self.hypervisor, "--sim-state", self.sim_state,
             "--config-dir", self.config_dir]
        if self.sim_xen_version:
            a += ["--sim-xen-version", self.sim_xen_version]
        return a + self.extra_args

    def start(self, expect_fail=False, timeout=10):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if expect_fail:
                    return self.proc.returncode
                raise Fail("assignd exited with %d at start-up:\n%s" %
                           (self.proc.returncode, self.log()))
            if os.path.exists(self.socket):
                try:
                    c = Connection(self.socket)
                    c.call("org.varlink.service.GetInfo")
                    c.close()
                    if expect_fail:
                        raise Fail("assignd started although it should have failed")
                    return 0
                except (ConnectionRefusedError, FileNotFoundError):
                    pass
            time.sleep(0.02)
        self.stop()
        raise Fail("assignd did not become ready in %ds:\n%s" % (timeout, self.log()))

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def wait_exit(self, timeout=10):
        """Wait for the daemon to exit by itself (e.g. a crash failpoint)."""
        try:
            return self.proc.wait(timeout)
        finally:
            self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-6000:]
        except OSError:
            return ""

    def connect(self):
        return Connection(self.socket)

    def call(self, method, params=None, more=False, oneway=False):
        """Raw reply dict of a single call on a fresh connection."""
        c = self.connect()
        try:
            c.send(method, params, more=more, oneway=oneway)
            if oneway:
                return None
            return c.recv()
        finally:
            c.close()

    def broker(self, method, params=None):
        """Reply parameters of io.assignd.Broker.METHOD; raises VarlinkError."""
        c = self.connect()
        try:
            return c.call("io.assignd.Broker." + method, params)
        finally:
            c.close()

    def sim(self, method, params=None):
        c = self.connect()
        try:
            return c.call("io.assignd.Simulator." + method, params)
        finally:
            c.close()

    def raw(self, data, read=True):
        c = self.connect()
        try:
            c.send_raw(data)
            return c.recv_raw() if read else b""
        finally:
            c.close()

    def ctl(self, *args, json_out=False, check=False, input=None):
        if not ASSIGNCTL or not os.access(ASSIGNCTL, os.X_OK):
            raise Skip("ASSIGNCTL=%r is not an executable" % ASSIGNCTL)
        argv = [ASSIGNCTL, "--socket", self.socket]
        if json_out:
            argv.append("--json")
        argv += list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, input=input)
        if check and p.returncode != 0:
            raise Fail("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stderr))
        return p

    def ctl_json(self, *args):
        p = self.ctl(*args, json_out=True, check=True)
        return json.loads(p.stdout)


def run_cases(cases):
    """Run [(name, fn)], print one line per case, exit with the result."""
    passed = failed = skipped = 0
    for name, fn in cases:
        t0 = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print("SKIP %s: %s" % (name, e), flush=True)
            continue
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (name, time.monotonic() - t0), flush=True)
            traceback.print_exc(file=sys.stdout)
            continue
        passed += 1
        print("ok   %s (%.2fs)" % (name, time.monotonic() - t0), flush=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed:
        sys.exit(1)
    if passed == 0 and skipped:
        sys.exit(77)
    sys.exit(0)
