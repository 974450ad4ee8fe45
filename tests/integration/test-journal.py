#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What assignd writes to the journal, read with the journal's native
protocol.

The daemon runs in a private mount namespace whose /run/systemd is a
tmpfs with system/ (so sd_booted() says yes) and journal/socket bound to
a datagram socket this test reads, standing in for journald; its stderr is
a file, and JOURNAL_STREAM names that file, as systemd does for a service
whose output goes to the journal.  The test then checks the MESSAGE_ID and
the ASSIGND_* fields of an assignment, a refusal and a permission denial,
that control characters a request carried arrive escaped, and that the
same daemon with --foreground writes text to stderr and nothing to the
journal.  Needs root (a mount namespace, a second uid); exits 77 without.
"""

import array
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

from harness import (ASSIGND, DEMO_DTB, Connection, Fail, Skip, VarlinkError, check,
                     run_cases)

SATA = "/soc/sata@9010000"
MMC = "/soc/mmc@9030000"
MSG_ASSIGNED = "97750e0d0f01488c9a83cfe0a1d84b14"
MSG_REFUSED = "b7278fab4341465191b8a8aa0fb2c5a3"
MSG_DENIED = "b8aafd5a8cd049128050e3e14bf69334"
NOBODY = 65534


def parse_native(data):
    """The fields of one native-protocol datagram, as [(name, value)]."""
    out = []
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            out.append((k.decode(), v.decode()))
            i = nl + 1
        else:
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            out.append((line.decode(), data[nl + 9:nl + 9 + n].decode()))
            i = nl + 9 + n + 1
    return out


class FakeJournal:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.entries = []

    def drain(self, timeout=0.3):
        self.sock.settimeout(timeout)
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(4))
            except socket.timeout:
                return self.entries
            # A large entry comes as a memfd (SCM_RIGHTS) with an empty datagram.
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fd = array.array("i", payload[:4])[0]
                    with os.fdopen(fd, "rb") as f:
                        data = f.read()
            self.entries.append(parse_native(data))
            self.sock.settimeout(0.05)

    def find(self, message_id):
        return [e for e in self.drain() if ("MESSAGE_ID", message_id) in e]


def fields(entry, name):
    return [v for k, v in entry if k == name]


class JournalDaemon:
    def __init__(self, foreground=False):
        if os.geteuid() != 0:
            raise Skip("needs root: a mount namespace for /run/systemd and a second uid")
        for tool in ("unshare", "mount"):
            if not shutil.which(tool):
                raise Skip("no %s (package util-linux / mount)" % tool)
        if not ASSIGND or not os.access(ASSIGND, os.X_OK):
            raise Skip("ASSIGND=%r is not an executable" % ASSIGND)
        self.dir = tempfile.mkdtemp(prefix="assignd-journal-")
        os.chmod(self.dir, 0o755)
        self.journal = FakeJournal(os.path.join(self.dir, "journal.sock"))
        self.socket = os.path.join(self.dir, "broker.sock")
        self.stderr_path = os.path.join(self.dir, "stderr")
        err = open(self.stderr_path, "w")
        st = os.fstat(err.fileno())
        script = ("mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system "
                  "/run/systemd/journal && : >/run/systemd/journal/socket && "
                  "mount --bind \"$J\" /run/systemd/journal/socket && exec \"$@\"")
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                ASSIGND, "--hypervisor", "sim", "--dtb", DEMO_DTB, "--log-level", "info",
                "--db", os.path.join(self.dir, "inventory.db"), "--socket", self.socket,
                "--config-dir", os.path.join(self.dir, "etc")]
        if foreground:
            argv.append("--foreground")
        env = dict(os.environ, J=os.path.join(self.dir, "journal.sock"),
                   JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        env.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env,
                                     stdin=subprocess.DEVNULL)
        err.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                Connection(self.socket).call("org.varlink.service.GetInfo")
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise Fail("assignd did not start:\n" + self.stderr())
                time.sleep(0.05)

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def call(self, method, params=None):
        return Connection(self.socket).call(method, params)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def call_as(uid, path, method):
    """A call from another uid (a child that drops to it), its error name or None."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            Connection(path).call(method)
        except VarlinkError as e:
            os.write(w, e.name.encode())
        except BaseException as e:  # noqa: B902 - report anything to the parent
            os.write(w, ("exception %r" % e).encode())
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out or None


def test_events_and_fields():
    d = JournalDaemon()
    try:
        dom = d.call("io.assignd.Simulator.CreateDomain",
                     {"name": "web", "passthrough": True})["domid"]
        lease = d.call("io.assignd.Broker.Assign",
                       {"domain": "web", "devices": [SATA]})["lease"]
        ev = d.journal.find(MSG_ASSIGNED)
        check(len(ev) == 1, "%d assigned events" % len(ev))
        e = ev[0]
        print("    assigned: %s" % [(k, v) for k, v in e if k.startswith(("ASSIGND_", "PRIORITY"))])
        check(fields(e, "ASSIGND_DEVICE") == [SATA], "ASSIGND_DEVICE %s" % fields(e, "ASSIGND_DEVICE"))
        check(fields(e, "ASSIGND_DOMID") == [str(dom)], "ASSIGND_DOMID %s" % fields(e, "ASSIGND_DOMID"))
        check(fields(e, "ASSIGND_DOMAIN") == ["web"], "ASSIGND_DOMAIN")
        check(fields(e, "ASSIGND_LEASE") == [str(lease["id"])], "ASSIGND_LEASE")
        check(fields(e, "ASSIGND_UID") == ["0"], "ASSIGND_UID")
        check(fields(e, "PRIORITY") == ["6"] and fields(e, "SYSLOG_IDENTIFIER") == ["assignd"],
              "priority and identifier")

        # A refusal: the MMC may do DMA and nothing confines it.
        try:
            d.call("io.assignd.Broker.Assign", {"domain": "web", "devices": [MMC]})
            raise Fail("the unprotected MMC was assigned")
        except VarlinkError:
            pass
        ev = d.journal.find(MSG_REFUSED)
        check(len(ev) == 1, "%d refused events" % len(ev))
        e = ev[0]
        print("    refused: %s" % [(k, v) for k, v in e if k.startswith("ASSIGND_")])
        check(fields(e, "ASSIGND_ERROR") == ["UnprotectedDevice"], "ASSIGND_ERROR %s" % fields(e, "ASSIGND_ERROR"))
        check(fields(e, "ASSIGND_DEVICE") == [MMC] and fields(e, "ASSIGND_DOMAIN") == ["web"],
              "refusal names device and domain")
        check(fields(e, "ASSIGND_UID") == ["0"], "refusal names the caller")

        # A denial: nobody may not assign.
        err = call_as(NOBODY, d.socket, "io.assignd.Broker.GetStatus")
        check(err == "org.varlink.service.PermissionDenied", "uid %d got %r" % (NOBODY, err))
        ev = d.journal.find(MSG_DENIED)
        check(len(ev) == 1, "%d denial events" % len(ev))
        check(fields(ev[0], "ASSIGND_UID") == [str(NOBODY)], "denial names uid %d" % NOBODY)
        print("    denied: %s" % fields(ev[0], "MESSAGE"))

        # Control characters a request carries cannot make a field or a line of their
        # own: the call is refused before anything logs its strings.
        n_refused = len(d.journal.find(MSG_REFUSED))
        try:
            d.call("io.assignd.Broker.Assign",
                   {"domain": "web", "devices": ["/soc/x\nASSIGND_UID=4242\x1b[2J"]})
            raise Fail("a device path with control characters was accepted")
        except VarlinkError as e:
            check(e.name == "org.varlink.service.InvalidParameter", "got %s" % e.name)
        check(len(d.journal.find(MSG_REFUSED)) == n_refused, "the hostile call was journaled")
        for ev in d.journal.drain():
            check(all("\n" not in v and "\x1b" not in v for k, v in ev if k != "MESSAGE"),
                  "raw control characters in a field: %r" % ev)
            check("4242" not in dict(ev).get("ASSIGND_UID", ""), "a forged ASSIGND_UID got in")
        check(d.stderr() == "", "journal mode also wrote stderr:\n" + d.stderr())
    finally:
        d.close()


def test_foreground_is_text():
    d = JournalDaemon(foreground=True)
    try:
        d.call("io.assignd.Broker.GetStatus")
        err = call_as(NOBODY, d.socket, "io.assignd.Broker.GetStatus")
        check(err == "org.varlink.service.PermissionDenied", "uid %d got %r" % (NOBODY, err))
        check(d.journal.drain() == [], "--foreground wrote to the journal")
        text = d.stderr()
        check(re.search(r"(?m)^assignd: notice: permission denied: uid 65534 ", text),
              "no text line for the denial:\n" + text)
    finally:
        d.close()


if __name__ == "__main__":
    run_cases([
        ("journal fields of assign, refusal, denial", test_events_and_fields),
        ("--foreground logs text", test_foreground_is_text),
    ])
