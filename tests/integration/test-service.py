#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""assignd as systemd runs it: socket-activated by systemd-socket-activate,
with the test listening on NOTIFY_SOCKET in the service manager's place.

Checks READY=1, STATUS= with the counts (devices, leases by state,
monitors), WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 and READY=1
around a SIGHUP that makes an edited dma.d take effect while a
connection and a lease stay, and STOPPING=1 on SIGTERM.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import (ASSIGND, DEMO_DTB, Connection, Fail, Skip, VarlinkError, check,
                     run_cases)

MMC = "/soc/mmc@9030000"        # coverage none, dma master: refused unforced
SATA = "/soc/sata@9010000"      # protected
WATCHDOG_USEC = 2000000


class Notified:
    """The NOTIFY_SOCKET the daemon talks to, with what it said and when."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.msgs = []          # (monotonic time, {key: value})

    def pump(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        fields = {}
        for line in data.decode().split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                fields[k] = v
        self.msgs.append((time.monotonic(), fields))
        return fields

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.pump(max(0.01, deadline - time.monotonic()))
            if m is not None and pred(m):
                return m
        raise Fail("no notification with %s within %ss; got %s" %
                   (what, timeout, [m for _, m in self.msgs][-8:]))


class Activated:
    """assignd under systemd-socket-activate, on the simulated hypervisor."""

    def __init__(self):
        if not shutil.which("systemd-socket-activate"):
            raise Skip("no systemd-socket-activate (package systemd)")
        if not ASSIGND or not os.access(ASSIGND, os.X_OK):
            raise Skip("ASSIGND=%r is not an executable" % ASSIGND)
        self.dir = tempfile.mkdtemp(prefix="assignd-service-")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "io.assignd.Broker")
        self.config_dir = os.path.join(self.dir, "etc")
        os.makedirs(os.path.join(self.config_dir, "dma.d"))
        self.notify = Notified(os.path.join(self.dir, "notify"))
        self.log_path = os.path.join(self.dir, "assignd.log")
        log = open(self.log_path, "w")
        argv = ["systemd-socket-activate", "-l", self.socket,
                "-E", "NOTIFY_SOCKET=" + os.path.join(self.dir, "notify"),
                "-E", "WATCHDOG_USEC=%d" % WATCHDOG_USEC,
                ASSIGND, "--foreground", "--log-level", "debug", "--hypervisor", "sim",
                "--dtb", DEMO_DTB, "--db", os.path.join(self.dir, "inventory.db"),
                "--config-dir", self.config_dir,
                # Not used under socket activation: the passed socket is.
                "--socket", os.path.join(self.dir, "unused.sock")]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Fail("systemd-socket-activate did not listen:\n" + self.log())
            time.sleep(0.02)

    def log(self):
        with open(self.log_path) as f:
            return f.read()[-4000:]

    def connect(self):
        return Connection(self.socket)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def counts(status):
    m = re.match(r"(\d+) devices; leases: (\d+) assigned, (\d+) reserved, (\d+) assigning, "
                 r"(\d+) releasing; (\d+) monitors, (\d+) connections$", status)
    check(m, "STATUS= is not the counts: %r" % status)
    keys = ("devices", "assigned", "reserved", "assigning", "releasing", "monitors",
            "connections")
    return dict(zip(keys, map(int, m.groups())))


def test_service_lifecycle():
    a = Activated()
    try:
        # The first connection starts the daemon, which answers it on the passed socket.
        c = a.connect()
        info = c.call("org.varlink.service.GetInfo")
        check("io.assignd.Broker" in info["interfaces"], "GetInfo over the activated socket")
        ready = a.notify.wait(lambda m: m.get("READY") == "1", 10, "READY=1")
        st = counts(ready.get("STATUS", ""))
        check(st["devices"] > 5 and st["assigned"] == 0 and st["monitors"] == 0,
              "STATUS at READY: %r" % ready.get("STATUS"))
        check("serving on %s " % a.socket in a.log(),
              "the log does not name the socket systemd passed:\n" + a.log())

        # Watchdog pings at half the interval, from the loop.
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4.2:
            a.notify.pump(0.2)
        pings = [t for t, m in a.notify.msgs if m.get("WATCHDOG") == "1" and t >= t0]
        gaps = [round(b - x, 2) for x, b in zip(pings, pings[1:])]
        print("    watchdog pings %d in 4.2 s, gaps %s (WATCHDOG_USEC %d)" %
              (len(pings), gaps, WATCHDOG_USEC))
        check(len(pings) >= 3, "%d WATCHDOG=1 in 4.2 s with WATCHDOG_USEC=2 s" % len(pings))
        check(all(0.7 <= g <= 1.4 for g in gaps), "pings not at half the interval: %s" % gaps)

        # STATUS follows the leases and the monitors.
        dom = c.call("io.assignd.Simulator.CreateDomain",
                     {"name": "g1", "passthrough": True})["domid"]
        c.call("io.assignd.Broker.Assign", {"domain": "g1", "devices": [SATA]})
        mon = a.connect()
        mon.send("io.assignd.Broker.Monitor", {}, more=True)
        mon.recv()
        st = a.notify.wait(lambda m: "STATUS" in m and counts(m["STATUS"])["assigned"] == 1
                           and counts(m["STATUS"])["monitors"] == 1, 5,
                           "STATUS with 1 assigned and 1 monitor")
        print("    STATUS=%s" % st["STATUS"])

        # The MMC may do DMA and nothing confines it: refused unforced.
        try:
            c.call("io.assignd.Broker.Assign", {"domain": "g1", "devices": [MMC]})
            raise Fail("the unprotected MMC was assigned before dma.d said dma none")
        except VarlinkError as e:
            check(e.name.endswith("UnprotectedDevice"), "refusal was %s" % e.name)

        # dma.d now says the MMC is no bus master; SIGHUP makes it count.
        with open(os.path.join(a.config_dir, "dma.d", "50-test.conf"), "w") as f:
            f.write("none arasan,sdhci-8.9a\n")
        n_before = len(a.notify.msgs)
        a.proc.send_signal(signal.SIGHUP)
        a.notify.wait(lambda m: m.get("RELOADING") == "1", 5, "RELOADING=1")
        check("MONOTONIC_USEC" in a.notify.msgs[-1][1], "RELOADING=1 without MONOTONIC_USEC")
        a.notify.wait(lambda m: m.get("READY") == "1", 5, "READY=1 after the reload")
        order = [k for _, m in a.notify.msgs[n_before:] for k in ("RELOADING", "READY") if k in m]
        check(order[:2] == ["RELOADING", "READY"], "reload notifications in order: %s" % order)

        # The same connection, the lease and the monitor are still there.
        dev = c.call("io.assignd.Broker.GetDevice", {"path": MMC})["device"]
        check(dev["dma"] == "none", "after the reload the MMC's dma is %r" % dev["dma"])
        leases = c.call("io.assignd.Broker.ListLeases", {})["leases"]
        check([x["domid"] for x in leases] == [dom], "the lease survived the reload: %s" % leases)
        c.call("io.assignd.Broker.Assign", {"domain": "g1", "devices": [MMC]})
        ev = mon.recv()
        check(ev.get("continues") is True, "the monitor stream survived the reload: %s" % ev)
        mon.close()

        # SIGTERM: STOPPING=1 and a clean exit.
        a.proc.send_signal(signal.SIGTERM)
        a.notify.wait(lambda m: m.get("STOPPING") == "1", 5, "STOPPING=1")
        rc = a.proc.wait(10)
        check(rc == 0, "exit status %d after SIGTERM" % rc)
        c.close()
    finally:
        a.close()


def test_reload_refuses_bad_configuration():
    """A configuration broken while running is refused; the daemon carries on."""
    a = Activated()
    try:
        c = a.connect()
        a.notify.wait(lambda m: m.get("READY") == "1", 10, "READY=1")
        with open(os.path.join(a.config_dir, "assignd.conf"), "w") as f:
            f.write("[Policy]\nUnprotected = sometimes\n")
        a.proc.send_signal(signal.SIGHUP)
        a.notify.wait(lambda m: m.get("READY") == "1", 5, "READY=1 after a failed reload")
        a.notify.wait(lambda m: "reload failed" in m.get("STATUS", ""), 5,
                      "STATUS saying the reload failed")
        check(c.call("io.assignd.Broker.GetStatus") is not None, "still serving")
        check("assignd.conf:2" in a.log(), "the log does not name the file and line:\n" + a.log())
        check(a.proc.poll() is None, "the daemon died on a bad reload")
        c.close()
    finally:
        a.close()


if __name__ == "__main__":
    run_cases([
        ("socket activation, notify, watchdog, reload, stop", test_service_lifecycle),
        ("reload refuses a bad configuration", test_reload_refuses_bad_configuration),
    ])
