# SPDX-License-Identifier: GPL-2.0-or-later
"""What assignctl prints, as a new user meets it.

Tables on the largest real tree (rk3588, ../shared/dtb) on an 80-column
terminal (a pty, as a person sees them) and piped (as a script does); the
column options; status's hazard summary; history; errors as JSON and as
sentences that name the command's options; "did you mean"; monitor's JSON;
and the bash completion, sourced into bash and called as bash would.
"""

import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import tempfile
import termios

from harness import (ASSIGNCTL, Daemon, Skip, check, run_cases, shared_dtb)

TEST_SRC_DIR = os.environ.get("TEST_SRC_DIR", os.path.join(os.path.dirname(__file__), ".."))
COMPLETION = os.path.join(TEST_SRC_DIR, "..", "client", "assignctl.bash-completion")
RK3588 = "rk3588-evb1-v10.dtb"

# The commands whose tables must fit, with the arguments that give them rows.
TABLES = [("list",), ("leases", "--all"), ("audit", "--limit", "0"), ("status", "--hazards")]


def env_without_columns():
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def on_terminal(d, *args, cols=80, rows=24):
    """Run assignctl with its stdout on a pty of cols x rows; returns (status, lines)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen([ASSIGNCTL, "--socket", d.socket] + list(args), stdout=slave,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=env_without_columns())
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 20)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:         # EIO: the child closed its side
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    p.wait(timeout=20)
    p.stderr.close()
    # The terminal turns each \n into \r\n.
    return p.returncode, out.decode().replace("\r\n", "\n").split("\n")[:-1]


def ctl_env(d, *args, env=None):
    return subprocess.run([ASSIGNCTL, "--socket", d.socket] + list(args), capture_output=True,
                          text=True, timeout=30, env=env or env_without_columns())


def need_root(what):
    if os.geteuid() != 0:
        raise Skip("%s needs root (the daemon's writes are root's)" % what)


def make_history(d, devs):
    """Two leases and their audit rows on whatever tree d serves; returns the paths used."""
    need_root("making leases")
    free = [x["path"] for x in devs if x["assignable"] and not x["group"] and
            (x["iommu"]["coverage"] == "protected" or x["dma"] == "none")]
    if len(free) < 2:
        # rk3588: nothing is protected; declare two devices register-only.
        cand = [x["path"] for x in devs if x["assignable"] and not x["group"]]
        for path in cand[:2]:
            d.broker("SetDevicePolicy", {"path": path, "dma": "none", "note": "test"})
        free = cand[:2]
    check(len(free) >= 2, "no two free assignable devices")
    domid = d.sim("CreateDomain", {"name": "web", "passthrough": True})["domid"]
    d.broker("Assign", {"domain": "web", "devices": free[:2], "layout": "auto"})
    d.broker("Release", {"domain": "web"})
    # A live domain keeps its SPIs: its death frees the devices.
    d.sim("DestroyDomain", {"domid": domid})
    return free[:2]


# ---- tables -----------------------------------------------------------------


def case_tables_fit_80_columns():
    """rk3588 at 80 columns: every line <= 80 with the default columns, nothing wrapped."""
    with Daemon(dtb=shared_dtb(RK3588)) as d:
        devs = d.ctl_json("list")
        try:
            make_history(d, devs)
        except Skip:
            pass        # the list and the hazards are the wide ones
        for args in TABLES:
            rc, lines = on_terminal(d, *args)
            check(rc == 0, "%s on a terminal: exit %d" % (" ".join(args), rc))
            check(lines, "%s printed nothing" % " ".join(args))
            wide = [l for l in lines if len(l) > 80]
            check(not wide, "%s: %d lines wider than 80, e.g. %r" % (" ".join(args), len(wide),
                                                                    wide[:1]))
        # The device table has every device, one line each, and a shortened path
        # keeps what tells the node from the others: its unit address with the
        # start of its name (never "...ntroller@fe600000"), or, for a node
        # without one, its parent's.
        rc, lines = on_terminal(d, "list", "--no-legend")
        check(len(lines) == len(devs), "%d rows for %d devices" % (len(lines), len(devs)))
        cells = [line.split()[0] for line in lines]
        check(len(set(cells)) == len(cells), "two devices look the same: %r" %
              [c for c in cells if cells.count(c) > 1])
        for cell, dev in zip(cells, devs):
            path = dev["path"]
            node = path.rsplit("/", 1)[-1]
            if cell == path:
                continue
            if "@" in node:
                name, unit = node.split("@", 1)
                check(cell.endswith("@" + unit) and
                      (cell.endswith("/" + node) or cell == node or
                       cell.lstrip("/").startswith(name[:4])),
                      "%s shown as %r" % (path, cell))
            else:
                check(cell.endswith("...") and path.startswith(cell[:-3]) and "@" in cell,
                      "%s shown as %r" % (path, cell))
        # A terminal twice as wide shows the long paths whole.
        rc, lines = on_terminal(d, "list", "--no-legend", cols=160)
        check(all(l.split()[0] == x["path"] for l, x in zip(lines, devs)), "160 columns cut a path")
        # --full: whole cells even on 80 columns.
        rc, lines = on_terminal(d, "list", "--full", "--no-legend")
        check([l.split()[0] for l in lines] == [x["path"] for x in devs], "--full cut a path")
        check(max(len(l) for l in lines) > 80, "--full is no wider than 80 on rk3588")


def case_tables_piped():
    """Piped: whole lines (wider than 80 on rk3588); $COLUMNS fits them again."""
    with Daemon(dtb=shared_dtb(RK3588)) as d:
        devs = d.ctl_json("list")
        hazards = d.ctl_json("status")["hazards"]
        p = ctl_env(d, "list")
        check(p.returncode == 0, "list: %s" % p.stderr)
        lines = p.stdout.splitlines()
        check(max(len(l) for l in lines) > 80, "a pipe got a table cut to a terminal's width")
        check("..." not in p.stdout, "a pipe got shortened cells")
        check([l.split()[0] for l in lines[1:len(devs) + 1]] == [x["path"] for x in devs],
              "piped paths differ from the JSON")
        p = ctl_env(d, "status", "--hazards")
        for h in hazards:
            check(h["path"] in p.stdout and h["message"][len(h["path"]) + 1:] in p.stdout,
                  "piped status --hazards lacks %s" % h["path"])
        for args in TABLES:
            p = ctl_env(d, *args, env=dict(env_without_columns(), COLUMNS="80"))
            check(p.returncode == 0 and all(len(l) <= 80 for l in p.stdout.splitlines()),
                  "COLUMNS=80 %s: %r" % (" ".join(args), p.stdout[:200]))


def case_columns_option():
    with Daemon(dtb=shared_dtb(RK3588)) as d:
        devs = d.ctl_json("list")
        p = ctl_env(d, "list", "-o", "dma,Path,COMPATIBLE", "--no-legend")
        check(p.returncode == 0, "-o: %s" % p.stderr)
        rows = [l.split() for l in p.stdout.splitlines()]
        check(len(rows) == len(devs), "-o --no-legend: %d rows for %d devices" % (len(rows), len(devs)))
        for row, dev in zip(rows, devs):
            compat = dev["compatible"][0] if dev["compatible"] else "-"
            check(row == [dev["dma"], dev["path"], compat], "row %r for %s" % (row, dev["path"]))
        p = ctl_env(d, "list", "--columns", "PATH,DMA")
        check(p.stdout.splitlines()[0].split() == ["PATH", "DMA"], "header %r" % p.stdout[:80])
        check(re.search(r"^\d+ devices: ", p.stdout, re.M), "the summary is missing without --no-legend")
        p = ctl_env(d, "list", "-o", "PATH,OWNR")
        check(p.returncode == 2 and p.stdout == "" and "no column 'OWNR'" in p.stderr and
              "did you mean OWNER?" in p.stderr, "unknown column: %d %r" % (p.returncode, p.stderr))
        # --help lists the columns, marking the default ones.
        p = ctl_env(d, "list", "--help")
        check(re.search(r"^  PATH\*\s", p.stdout, re.M) and re.search(r"^  REGIONS\s", p.stdout, re.M),
              "list --help does not list the columns: %r" % p.stdout)
        for args in (("leases", "-o", "ID,STATE"), ("audit", "-o", "ACTION,RESULT"),
                     ("status", "--hazards", "-o", "PATH", "--no-legend")):
            p = ctl_env(d, *args)
            check(p.returncode == 0, "%s: %s" % (" ".join(args), p.stderr))
        p = ctl_env(d, "status", "--hazards", "-o", "PATH", "--no-legend")
        hazards = d.ctl_json("status")["hazards"]
        check(p.stdout.split("\n\n", 1)[1].split() == [h["path"] for h in hazards],
              "status --hazards -o PATH: %r" % p.stdout[-200:])
        p = ctl_env(d, "status", "-o", "PATH")
        check(p.returncode == 2, "-o without --hazards: %d" % p.returncode)


def case_status_summary():
    """status counts hazards by kind; --hazards lists them."""
    with Daemon(dtb=shared_dtb(RK3588)) as d:
        hazards = d.ctl_json("status")["hazards"]
        kinds = {}
        for h in hazards:
            kinds[h["kind"]] = kinds.get(h["kind"], 0) + 1
        check(len(hazards) > 100 and len(kinds) == 2, "rk3588 hazards: %r" % kinds)
        out = ctl_env(d, "status").stdout
        check(re.search(r"hazards:\s+%d\b" % len(hazards), out), "no total: %r" % out)
        for kind, n in kinds.items():
            check(re.search(r"\b%d %s\b" % (n, kind), out), "no count of %s: %r" % (kind, out))
        check(not any(h["path"] in out for h in hazards), "status lists hazards: %r" % out)
        check(len(out.splitlines()) < 20, "status is %d lines" % len(out.splitlines()))
        out = ctl_env(d, "status", "--hazards").stdout
        check(all(h["path"] in out for h in hazards), "--hazards misses some")
        j = d.ctl_json("status", "--hazards")
        check(j == hazards, "status --hazards --json is not the hazards")


# ---- history ----------------------------------------------------------------


def case_history():
    with Daemon() as d:
        devs = d.ctl_json("list")
        used = make_history(d, devs)
        # The Release named only the domain; its audit row names the devices.
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        rel = [a for a in audit if a["action"] == "Release"]
        check(rel and all(p in rel[-1]["target"].split() for p in used),
              "the Release row does not name %r: %r" % (used, rel))
        check("lease 1" in (rel[-1]["detail"] or ""), "the Release row lacks its lease: %r" % rel)
        h = d.ctl_json("history", used[0])
        check([l["id"] for l in h["leases"]] == [1] and h["leases"][0]["devices"] == used,
              "history leases: %r" % h["leases"])
        actions = [a["action"] for a in h["entries"]]
        check("Assign" in actions and "Release" in actions, "history entries: %r" % actions)
        check(all(used[0] in a["target"].split() or a["target"].startswith("lease 1")
                  for a in h["entries"]), "an entry about something else: %r" % h["entries"])
        other = [x["path"] for x in devs if x["path"] not in used][0]
        h = d.ctl_json("history", other)
        check(h == {"leases": [], "entries": []}, "history of an untouched device: %r" % h)
        p = d.ctl("history", used[0])
        check(p.returncode == 0 and re.search(r"^%s: 1 lease$" % re.escape(used[0]), p.stdout, re.M)
              and "Release" in p.stdout, "history: %r" % p.stdout)
        p = d.ctl("--json", "history", "/soc/none@0")
        check(p.returncode == 1 and json.loads(p.stdout)["error"] ==
              "io.assignd.Broker.DeviceNotFound", "history of nothing: %r" % p.stdout)


# ---- errors -----------------------------------------------------------------


def case_json_errors():
    """With --json a refusal prints {"error", "parameters"} on stdout, exit 1."""
    with Daemon() as d:
        devs = d.ctl_json("list")
        unprotected = [x["path"] for x in devs if x["assignable"] and x["dma"] == "master" and
                       x["iommu"]["coverage"] != "protected" and not x["group"]]
        console = [x["path"] for x in devs if not x["assignable"] and "console" in x["reason"]]
        check(unprotected and console, "the demo board lacks an unprotected master or a console")
        tmp = tempfile.mkdtemp(prefix="assignctl-json-")
        try:
            out = os.path.join(tmp, "g.dtb")
            cases = [
                (("show", "/soc/nothing@0"), "io.assignd.Broker.DeviceNotFound",
                 {"path": "/soc/nothing@0"}),
                (("dtb", unprotected[0], "-o", out), "io.assignd.Broker.UnprotectedDevice",
                 {"path": unprotected[0], "coverage": "none", "dma": "master"}),
                (("xl-config", console[0]), "io.assignd.Broker.DeviceNotAssignable",
                 {"path": console[0]}),
                (("xl-config", unprotected[0], "--device-tree", 'a"b'),
                 "io.assignd.Broker.InvalidArgument", {"field": "device_tree"}),
            ]
            for args, name, facts in cases:
                p = d.ctl("--json", *args)
                check(p.returncode == 1, "%r: exit %d" % (args, p.returncode))
                e = json.loads(p.stdout)
                check(sorted(e) == ["error", "parameters"] and e["error"] == name,
                      "%r: %r" % (args, e))
                check(isinstance(e["parameters"].get("message"), str),
                      "%r: no message: %r" % (args, e))
                for k, v in facts.items():
                    check(e["parameters"].get(k) == v, "%r: %s=%r" % (args, k, e["parameters"]))
                check(p.stderr.startswith("assignctl: " + name), "%r: stderr %r" % (args, p.stderr))
                # Without --json, stdout stays empty.
                p = d.ctl(*args)
                check(p.returncode == 1 and p.stdout == "", "%r without --json: %r" % (args, p.stdout))
            check(not os.path.exists(out), "a refused dtb wrote its file")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def case_messages_name_options():
    """The daemon's wire field names become the command's options."""
    with Daemon() as d:
        devs = d.ctl_json("list")
        unprotected = [x["path"] for x in devs if x["assignable"] and x["dma"] == "master" and
                       x["iommu"]["coverage"] != "protected" and not x["group"]][0]
        rtc = [x["path"] for x in devs if x["assignable"] and x["dma"] == "none"][0]
        p = d.ctl("xl-config", unprotected)
        check(p.returncode == 1 and "--force-unprotected" in p.stderr and
              "force_unprotected" not in p.stderr, "UnprotectedDevice: %r" % p.stderr)
        p = d.ctl("xl-config", rtc, "--device-tree", 'web".dtb')
        check(p.returncode == 1 and "--device-tree must be a path" in p.stderr and
              "device_tree" not in p.stderr, "InvalidArgument: %r" % p.stderr)
        # The JSON keeps the daemon's words.
        p = d.ctl("--json", "xl-config", unprotected)
        check("force_unprotected" in json.loads(p.stdout)["parameters"]["message"],
              "the JSON message was rewritten")


def case_did_you_mean():
    with Daemon() as d:
        p = d.ctl("stauts")
        check(p.returncode == 2 and "did you mean status?" in p.stderr, "command: %r" % p.stderr)
        p = d.ctl("xyzzy")
        check(p.returncode == 2 and "did you mean" not in p.stderr, "nonsense: %r" % p.stderr)
        p = d.ctl("list", "--asignable")
        check(p.returncode == 2 and "did you mean --assignable?" in p.stderr, "option: %r" % p.stderr)
        devs = [x["path"] for x in d.ctl_json("list")]
        target = [x for x in devs if "@" in x and x.count("/") >= 2][0]
        typo = target[:-1]              # the unit address one digit short
        p = d.ctl("show", typo)
        near = [x for x in devs if _distance(typo, x) == 1]
        check(p.returncode == 1 and "did you mean" in p.stderr and
              all(x in p.stderr for x in near), "path %s: %r (near: %r)" % (typo, p.stderr, near))
        node = target.rsplit("/", 1)[1]
        p = d.ctl("show", node)
        check(p.returncode == 2 and "did you mean %s?" % target in p.stderr,
              "node name %s: %r" % (node, p.stderr))


def _distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def case_permission_denied_message():
    if os.geteuid() != 0:
        raise Skip("needs root to run assignctl as uid 65534")
    with Daemon() as d:
        p = subprocess.run([ASSIGNCTL, "--socket", d.socket, "--json", "status"],
                           capture_output=True, text=True, timeout=30, user=65534, group=65534,
                           extra_groups=[])
        check(p.returncode == 1, "nobody's status: exit %d" % p.returncode)
        check(json.loads(p.stdout) == {"error": "org.varlink.service.PermissionDenied",
                                       "parameters": {}}, "nobody's status: %r" % p.stdout)
        check("uid 65534 may not call GetStatus" in p.stderr, "stderr %r" % p.stderr)


def case_monitor_json_slashes():
    with Daemon() as d:
        path = d.ctl_json("list")[0]["path"]
        mon = subprocess.Popen([ASSIGNCTL, "--socket", d.socket, "--json", "monitor"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = ""
            for _ in range(50):
                d.broker("SetDevicePolicy", {"path": path, "note": "for the monitor"})
                r, _, _ = select.select([mon.stdout], [], [], 0.2)
                if r:
                    line = mon.stdout.readline()
                    break
            check(line, "monitor printed no event")
            check("\\/" not in line and path in line, "monitor --json escapes slashes: %r" % line)
            check(json.loads(line)["devices"] == [path], "event %r" % line)
        finally:
            mon.kill()
            mon.wait()


def case_help_texts():
    p = subprocess.run([ASSIGNCTL, "assign", "--help"], capture_output=True, text=True)
    check(p.returncode == 0, "assign --help failed")
    text = " ".join(p.stdout.split())
    check("IRQ permission and" not in text and "IRQ permission per" not in text and
          "no IRQ-permission step" in text, "assign --help describes an IRQ step: %r" % text)


# ---- completion -------------------------------------------------------------


def complete(d, *words, cmd=None, socket=True):
    """COMPREPLY of the completion function for the words typed (the last is completed)."""
    if not shutil.which("bash"):
        raise Skip("no bash")
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              '_assignctl; printf "%s\\n" "${COMPREPLY[@]}"')
    argv = [cmd or ASSIGNCTL] + (["--socket", d.socket] if socket else []) + list(words)
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", COMPLETION] + argv,
                       capture_output=True, text=True, timeout=60, env=env_without_columns())
    check(p.returncode == 0, "completion failed: %s" % p.stderr)
    return [w for w in p.stdout.split("\n") if w]


def case_completion():
    with Daemon() as d:
        devs = d.ctl_json("list")
        paths = [x["path"] for x in devs]
        prefix = "/soc/s"
        want = sorted(x for x in paths if x.startswith(prefix))
        check(len(want) >= 2, "the demo board has fewer than 2 devices under %s" % prefix)
        check(sorted(complete(d, "show", prefix)) == want, "show %s: %r, want %r" %
              (prefix, complete(d, "show", prefix), want))
        check(sorted(complete(d, "history", "")) == sorted(paths), "history: all paths")
        # assign takes only devices that may be assigned and nobody holds.
        assignable = sorted(x["path"] for x in devs if x["assignable"] and not x.get("owner"))
        got = sorted(complete(d, "assign", "g1", "/"))
        check(got == assignable, "assign: %r, want %r" % (got, assignable))
        check(not set(got) - set(assignable), "assign offers unassignable devices")
        check(complete(d, "sta") == ["status"], "commands: %r" % complete(d, "sta"))
        check("--assignable" in complete(d, "list", "--as"), "options")
        check(sorted(complete(d, "list", "--coverage", "")) ==
              sorted(["protected", "iommu-unsupported", "iommu-disabled", "none"]), "--coverage")
        check(complete(d, "list", "-o", "PATH,DM") == ["PATH,DMA"], "columns after a comma: %r" %
              complete(d, "list", "-o", "PATH,DM"))
        check(sorted(complete(d, "policy", paths[0], "dma", "=", "")) ==
              ["master", "none", "unknown"], "policy dma=")
        if os.geteuid() == 0:
            used = make_history(d, devs)
            d.sim("CreateDomain", {"name": "db", "passthrough": True})
            d.broker("Assign", {"domain": "db", "devices": [used[0]], "layout": "auto"})
            check("db" in complete(d, "release", ""), "domain names: %r" % complete(d, "release", ""))
            check(complete(d, "release", "db", "") == [used[0]], "release db: %r" %
                  complete(d, "release", "db", ""))
            check(used[0] not in complete(d, "assign", "web", "/"), "a held device is offered")
        # No daemon: nothing, quickly, and no noise.
        d.stop()
        check(complete(d, "show", "/soc/") == [], "completion without a daemon")
        # Offline, the paths come from the --dtb tree.
        got = complete(d, "--offline", "--dtb", d.dtb, "show", prefix, socket=False)
        check(sorted(got) == want, "offline show %s: %r, want %r" % (prefix, got, want))
        got = complete(d, "--offline", "--dtb", d.dtb, "imagebuilder", "/", socket=False)
        check(sorted(got) == sorted(x["path"] for x in devs if x["assignable"]),
              "offline imagebuilder: %r" % got)


if __name__ == "__main__":
    run_cases([
        ("tables fit 80 columns on rk3588", case_tables_fit_80_columns),
        ("tables piped on rk3588", case_tables_piped),
        ("-o, --no-legend", case_columns_option),
        ("status counts hazards by kind", case_status_summary),
        ("history of a device", case_history),
        ("--json errors", case_json_errors),
        ("messages name options", case_messages_name_options),
        ("did you mean", case_did_you_mean),
        ("PermissionDenied for people", case_permission_denied_message),
        ("monitor --json keeps slashes", case_monitor_json_slashes),
        ("help texts", case_help_texts),
        ("bash completion", case_completion),
    ])
