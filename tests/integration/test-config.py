#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""assignd.conf, its drop-ins and the command line.

Precedence (file < drop-in < command line), seen both in --print-config
and in what the daemon does; malformed files refused at start-up naming
the file and the line; the access rights of groups and users (a group
given write access can assign and is audited under its own uid, a
watcher may Monitor but not assign, a reader may not Monitor); and the
printed configuration reads back the same.
"""

import os
import subprocess
import time

from harness import (ASSIGND, Connection, Daemon, Fail, Skip, VarlinkError, check,
                     run_cases)

SATA = "/soc/sata@9010000"
MMC = "/soc/mmc@9030000"        # unprotected, may do DMA: needs force


def write(d, name, text):
    path = os.path.join(d.config_dir, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def print_config(config_dir, *args):
    p = subprocess.run([ASSIGND, "--config-dir", config_dir, "--print-config"] + list(args),
                       capture_output=True, text=True, timeout=10)
    return p


def effective(text):
    """{key: (value, origin)} of --print-config's output."""
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, rest = line.split("=", 1)
            value, origin = rest.rsplit(" ; ", 1)
            out[key.strip()] = (value.strip(), origin.strip())
    return out


def test_precedence():
    with Daemon(extra_args=["--unprotected", "allow-with-force"]) as d:
        d.stop()
        main = write(d, "assignd.conf", "# the main file\n[Policy]\nUnprotected = refuse\n"
                     "ReservationTTLSec = 100\n[Limits]\nIdleTimeoutSec = 30\n")
        a = write(d, "assignd.conf.d/10-a.conf", "[Policy]\nReservationTTLSec = 200\n")
        write(d, "assignd.conf.d/05-early.conf", "[Limits]\nIdleTimeoutSec = 7\n")
        write(d, "assignd.conf.d/20-b.conf.disabled", "this is not read\n")
        p = print_config(d.config_dir, "--unprotected", "allow-with-force")
        check(p.returncode == 0, "--print-config failed: %s" % p.stderr)
        eff = effective(p.stdout)
        check(eff["ReservationTTLSec"] == ("200", a + ":2"), "drop-in over file: %s" % (eff["ReservationTTLSec"],))
        check(eff["Unprotected"] == ("allow-with-force", "command line"),
              "command line over file: %s" % (eff["Unprotected"],))
        early = os.path.join(d.config_dir, "assignd.conf.d", "05-early.conf")
        check(eff["IdleTimeoutSec"] == ("7", early + ":2"),
              "any drop-in over the main file: %s" % (eff["IdleTimeoutSec"],))
        check(eff["MaxConnectionsPerUser"] == ("1024", "built-in") and main,
              "default: %s" % (eff["MaxConnectionsPerUser"],))
        check(eff["MaxConnections"] == ("4096", "built-in"), "default: %s" % (eff["MaxConnections"],))
        check(eff["MaxDeviceTreeMiB"] == ("16", "built-in") and
              eff["MaxAgeDays"] == ("90", "built-in") and
              eff["MaxFinishedLeases"] == ("10000", "built-in") and
              eff["MaxAuditEntries"] == ("100000", "built-in"),
              "defaults: %s" % [eff[k] for k in ("MaxDeviceTreeMiB", "MaxAgeDays",
                                                 "MaxFinishedLeases", "MaxAuditEntries")])

        # The daemon does what the print says.
        d.start()
        dom = d.sim("CreateDomain", {"name": "g1", "passthrough": True})["domid"]
        t0 = time.time()
        res = d.broker("Reserve", {"domain_name": "g2", "devices": [SATA]})
        ttl = res["expires_at"] - t0
        check(190 <= ttl <= 210, "reservation lives %.0f s, the drop-in says 200" % ttl)
        d.broker("Assign", {"domain": "g1", "devices": [MMC], "force_unprotected": True})

        # Without the command line, the file's refuse holds.
        d.stop()
        d.extra_args = []
        d.start()
        # Xen lets a forced device's SPI go only with its domain.
        d.sim("KillDomain", {"domid": dom})
        d.broker("Release", {"domain": str(dom)})
        d.sim("CreateDomain", {"name": "g3", "passthrough": True})
        try:
            d.broker("Assign", {"domain": "g3", "devices": [MMC], "force_unprotected": True})
            raise Fail("Policy.Unprotected=refuse from the file did not refuse a forced assign")
        except VarlinkError as e:
            check(e.name.endswith("UnprotectedDevice"), "refused with %s" % e.name)


def test_malformed_refused():
    cases = [
        ("assignd.conf", "[Policy]\nUnprotected = sometimes\n", 2, "Unprotected= takes"),
        ("assignd.conf", "[Policy]\n\nFoo = 1\n", 3, "unknown key 'Foo' in [Policy]"),
        ("assignd.conf", "[Polcy]\nUnprotected = refuse\n", 2, "unknown section [Polcy]"),
        ("assignd.conf", "Unprotected = refuse\n", 1, "outside any [section]"),
        ("assignd.conf.d/50-x.conf", "[Limits]\nMaxConnections = 5\n", 2, "from 17 to"),
        ("assignd.conf.d/50-x.conf", "[Limits]\nIdleTimeoutSec = -1\n", 2, "whole number"),
        ("assignd.conf.d/50-x.conf", "# ok\n[Paths]\nDatabase = relative.db\n", 3, "absolute path"),
        ("assignd.conf.d/50-x.conf", "[Access]\njust words\n", 2, "not a 'Key = value' line"),
        ("assignd.conf.d/50-x.conf", "[Access]\nWriteGroups = a;b\n", 2, "group names or numbers"),
        ("assignd.conf", "[Access]\nWriteGroups = %s\n" % ("x" * 300), 2, "longer than"),
        ("assignd.conf", "[Access]\nWriteGroups = no-such-group-here\n", 2, "no group named"),
    ]
    with Daemon() as d:
        d.stop()
        for name, text, line, words in cases:
            path = write(d, name, text)
            rc = d.start(expect_fail=True)
            log = d.log()
            check(rc not in (0, None), "%s accepted:\n%s" % (text, log))
            want = "%s:%d: " % (path, line)
            check(want in log and words in log,
                  "for %r the log does not say %r ... %r:\n%s" % (text, want, words, log[-600:]))
            check(not os.path.exists(d.socket), "a refused configuration left a socket")
            os.unlink(path)
            open(d.log_path, "w").close()
        d.start()


def call_as(uid, groups, path, calls):
    """Run calls [(method, params, more)] as uid with groups; their error names or None."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups(groups)
            os.setgid(groups[0] if groups else uid)
            os.setuid(uid)
            out = []
            for method, params, more in calls:
                c = Connection(path)
                try:
                    c.call(method, params, more=more)
                    out.append("ok")
                except VarlinkError as e:
                    out.append(e.name.rsplit(".", 1)[1])
                c.close()
            os.write(w, " ".join(out).encode())
            os._exit(0)
        except BaseException as e:  # noqa: B902 - report anything to the parent
            os.write(w, ("exception %r" % e).encode())
            os._exit(1)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out.split(" ")


def test_access_rights():
    if os.geteuid() != 0:
        raise Skip("needs root to call as other uids")
    with Daemon() as d:
        d.stop()
        write(d, "assignd.conf", "[Access]\nWriteGroups = 4242\nWatchUsers = 4300\n")
        write(d, "assignd.conf.d/10-readers.conf", "[Access]\nReadGroups = 4400\n")
        d.start()
        d.sim("CreateDomain", {"name": "g1", "passthrough": True})
        status = ("io.assignd.Broker.GetStatus", None, False)
        monitor = ("io.assignd.Broker.Monitor", {}, True)
        assign = ("io.assignd.Broker.Assign", {"domain": "g1", "devices": [SATA]}, False)

        # Write through a supplementary group, under the caller's own uid.
        got = call_as(4243, [4242], d.socket, [status, monitor, assign])
        check(got == ["ok", "ok", "ok"], "writer group member got %s" % got)
        lease = d.broker("ListLeases", {})["leases"][0]
        check(lease["uid"] == 4243, "lease recorded uid %s" % lease.get("uid"))
        audit = d.broker("GetAuditLog", {})["entries"]
        mine = [a for a in audit if a["action"] == "Assign"]
        check(mine and mine[-1]["uid"] == 4243 and mine[-1]["result"] == "ok",
              "audit: %s" % mine)

        got = call_as(4300, [4300], d.socket, [status, monitor, assign])
        check(got == ["ok", "ok", "PermissionDenied"], "watcher got %s" % got)
        got = call_as(4401, [4400], d.socket, [status, monitor, assign])
        check(got == ["ok", "PermissionDenied", "PermissionDenied"], "reader got %s" % got)
        got = call_as(4500, [4500], d.socket, [status])
        check(got == ["PermissionDenied"], "a stranger got %s" % got)

        # Taking a right away on reload applies to the next call.
        write(d, "assignd.conf", "[Access]\nWatchUsers = 4300\n")
        d.proc.send_signal(1)
        deadline = time.monotonic() + 5
        while "reloaded the configuration" not in d.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        got = call_as(4243, [4242], d.socket, [assign])
        check(got == ["PermissionDenied"], "after the reload the old writer got %s" % got)


def test_print_config_reads_back():
    with Daemon() as d:
        d.stop()
        write(d, "assignd.conf", "[Access]\nWriteUsers = 1000 0\nReadGroups = 100\n"
              "[Policy]\nUnprotected = refuse\n[Paths]\nSocket = /run/x/y.sock\n")
        first = print_config(d.config_dir)
        check(first.returncode == 0, first.stderr)
        write(d, "assignd.conf", first.stdout)
        second = print_config(d.config_dir)
        check(second.returncode == 0, "the printed configuration does not load: %s" % second.stderr)
        a = {k: v for k, (v, _) in effective(first.stdout).items()}
        b = {k: v for k, (v, _) in effective(second.stdout).items()}
        check(a == b, "read back differently:\n%s\n%s" % (a, b))


def test_denials_audited():
    if os.geteuid() != 0:
        raise Skip("needs root to call as other uids")
    with Daemon() as d:
        calls = [("io.assignd.Broker.GetStatus", None, False)] * 25
        for uid in (65534, 65533):
            got = call_as(uid, [uid], d.socket, calls)
            check(got == ["PermissionDenied"] * 25, "uid %d got %r" % (uid, got))
        rows = [a for a in d.broker("GetAuditLog", {"limit": 0})["entries"]
                if a["action"] == "PermissionDenied"]
        for uid in (65534, 65533):
            mine = [a for a in rows if a["uid"] == uid]
            check(len(mine) == 10, "uid %d: %d audit rows for 25 refusals, expected the 10 "
                  "a minute allows" % (uid, len(mine)))
            check(all(a["target"] == "io.assignd.Broker.GetStatus" and
                      a["result"] == "PermissionDenied" and "may not call" in a["detail"]
                      for a in mine), "rows %r" % mine[:2])


if __name__ == "__main__":
    run_cases([
        ("refused calls audited, at most 10 a minute per uid", test_denials_audited),
        ("precedence: file < drop-in < command line", test_precedence),
        ("malformed files refused naming file and line", test_malformed_refused),
        ("read, watch and write rights", test_access_rights),
        ("--print-config reads back", test_print_config_reads_back),
    ])
