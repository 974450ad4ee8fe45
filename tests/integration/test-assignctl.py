# SPDX-License-Identifier: GPL-2.0-or-later
"""assignctl against the real daemon.

Checks what a user and a script see: the human table and the JSON shape
other tools rely on (issue 2, point 6), filters, show, policy surviving a
restart, the documented exit statuses (1 refused, 2 usage, 3 unreachable),
and that the man page documents every command and option the client has.
Then every real vendor DTB is served and listed, with the facts their
sources establish (see ../shared/dtb/MANIFEST.md).

Expected values are derived from the daemon's own JSON wherever possible so
that the checks hold for any demo board; where a number is asserted it is
one the MANIFEST states.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile

from harness import (ASSIGNCTL, DEMO_DTB, Daemon, Fail, Skip, check, run_cases,
                     shared_dtb, shared_dtbs)

TEST_SRC_DIR = os.environ.get("TEST_SRC_DIR", os.path.join(os.path.dirname(__file__), ".."))
MAN_PAGE = os.path.join(TEST_SRC_DIR, "..", "client", "assignctl.1")
DAEMON_MAN_PAGE = os.path.join(TEST_SRC_DIR, "..", "daemon", "assignd.8")

COVERAGES = {"protected", "iommu-unsupported", "iommu-disabled", "none"}
DMAS = {"master", "none", "unknown"}
IRQ_CLASSES = {"spi", "ppi", "not-gic"}

# Facts from ../shared/dtb/MANIFEST.md: devices whose coverage is "protected".
PROTECTED_COUNTS = {
    "r8a77951-salvator-xs.dtb": 21,
    "zynqmp-zcu102-rev1.0.dtb": 0,
    "zynqmp-zcu102-rev1.0-iommus-smmu-on.dtb": 16,
    "juno-r2.dtb": 7,
    "imx8mq-evk.dtb": 0,
    "fsl-ls1046a-rdb.dtb": 0,
    "bcm2711-rpi-4-b.dtb": 0,
    "qemu-virt-noiommu.dtb": 0,
}


def run_ctl(*args, env=None):
    """assignctl without the harness's --socket (for the no-daemon cases)."""
    if not ASSIGNCTL or not os.access(ASSIGNCTL, os.X_OK):
        raise Skip("ASSIGNCTL=%r is not an executable" % ASSIGNCTL)
    return subprocess.run([ASSIGNCTL] + list(args), capture_output=True, text=True,
                          timeout=30, env=env)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_device_shape(dev):
    """The fields issue 2 promises to other tools, with their types."""
    where = dev.get("path", "<no path>")
    check(isinstance(dev.get("path"), str) and dev["path"].startswith("/"), "%s: path" % where)
    check(isinstance(dev.get("compatible"), list) and
          all(isinstance(c, str) for c in dev["compatible"]), "%s: compatible" % where)
    check(isinstance(dev.get("regions"), list), "%s: regions" % where)
    for r in dev["regions"]:
        check(is_int(r.get("base")) and is_int(r.get("size")) and r["base"] >= 0 and r["size"] >= 0,
              "%s: region %r" % (where, r))
    check(isinstance(dev.get("interrupts"), list), "%s: interrupts" % where)
    for irq in dev["interrupts"]:
        check(irq.get("class") in IRQ_CLASSES, "%s: interrupt class %r" % (where, irq))
        check(isinstance(irq.get("controller"), str), "%s: interrupt controller %r" % (where, irq))
        if irq["class"] == "not-gic":
            check(irq.get("hwirq") is None, "%s: not-gic with a number %r" % (where, irq))
        elif irq["class"] == "spi":
            check(is_int(irq.get("hwirq")) and 32 <= irq["hwirq"] < 1020 or
                  is_int(irq.get("hwirq")) and irq["hwirq"] >= 4096,
                  "%s: SPI number %r" % (where, irq))
        else:
            check(is_int(irq.get("hwirq")) and 16 <= irq["hwirq"] < 32 or
                  is_int(irq.get("hwirq")) and irq["hwirq"] >= 1056,
                  "%s: PPI number %r" % (where, irq))
    iommu = dev.get("iommu")
    check(isinstance(iommu, dict) and iommu.get("coverage") in COVERAGES, "%s: iommu %r" % (where, iommu))
    check(isinstance(iommu.get("iommus"), list), "%s: iommu.iommus" % where)
    for link in iommu["iommus"]:
        check(isinstance(link.get("iommu"), str) and isinstance(link.get("ids"), list) and
              all(is_int(i) for i in link["ids"]), "%s: iommu link %r" % (where, link))
    check(dev.get("dma") in DMAS, "%s: dma %r" % (where, dev.get("dma")))
    check(isinstance(dev.get("assignable"), bool), "%s: assignable" % where)
    check("reason" in dev and (dev["reason"] is None or isinstance(dev["reason"], str)),
          "%s: reason %r" % (where, dev.get("reason")))
    if not dev["assignable"]:
        check(isinstance(dev["reason"], str) and dev["reason"], "%s: not assignable without a reason" % where)
    check(isinstance(dev.get("group"), list) and all(isinstance(g, str) for g in dev["group"]),
          "%s: group" % where)
    check(where not in dev["group"], "%s: lists itself in its group" % where)
    gaps = dev.get("iommu_map_gaps")
    check(gaps is None or isinstance(gaps, list), "%s: iommu_map_gaps" % where)
    for g in gaps or []:
        check(is_int(g.get("rid_base")) and is_int(g.get("count")) and g["count"] > 0,
              "%s: gap %r" % (where, g))
    if iommu["coverage"] == "protected":
        check(iommu["iommus"] or gaps is not None,
              "%s: protected but names no IOMMU" % where)


def table_rows(stdout, header=("PATH", "COVERAGE", "DMA", "SPIS", "GROUP", "OWNER/REASON")):
    """Header and device rows of the human table (the footer follows an empty line)."""
    lines = stdout.split("\n")
    check(lines and lines[0].split() == list(header),
          "table header is not %r: %r" % (header, lines[:1]))
    rows = []
    for line in lines[1:]:
        if not line.strip():
            break
        rows.append(line)
    return lines[0], rows


def check_table_matches(d, devices, *filters):
    p = d.ctl("list", *filters)
    check(p.returncode == 0, "list %s failed: %s" % (" ".join(filters), p.stderr))
    check(p.stderr == "", "list wrote to stderr: %r" % p.stderr)
    _, rows = table_rows(p.stdout)
    check(len(rows) == len(devices), "table has %d rows for %d devices" % (len(rows), len(devices)))
    # stdout is a pipe here, so nothing is truncated: every path is there in full.
    paths = [r.split()[0] for r in rows]
    check(sorted(paths) == sorted(dev["path"] for dev in devices), "table paths differ from JSON")
    footer = [l for l in p.stdout.split("\n") if l.strip()][-1]
    check(re.match(r"^%d devices?:" % len(devices), footer) is not None, "footer %r" % footer)
    return rows


def demo_devices(d):
    devs = d.ctl_json("list")
    check(isinstance(devs, list) and devs, "list --json gave no devices on the demo board")
    return devs


def console_path(dtb):
    """The device Xen uses as its console: /chosen/stdout-path, through /aliases."""
    if not shutil.which("fdtget"):
        raise Skip("fdtget not installed")
    p = subprocess.run(["fdtget", "-t", "s", dtb, "/chosen", "stdout-path"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip("the demo board has no /chosen/stdout-path")
    target = p.stdout.strip().split(":")[0]
    if not target.startswith("/"):
        a = subprocess.run(["fdtget", "-t", "s", dtb, "/aliases", target],
                           capture_output=True, text=True)
        check(a.returncode == 0, "stdout-path alias %r not in /aliases" % target)
        target = a.stdout.strip()
    return target


# ---- cases ------------------------------------------------------------------


def case_status():
    with Daemon() as d:
        p = d.ctl("status")
        check(p.returncode == 0, "status failed: %s" % p.stderr)
        check(DEMO_DTB in p.stdout, "status does not name the DTB: %r" % p.stdout)
        check("backend sim" in p.stdout, "status does not name the backend: %r" % p.stdout)
        st = d.ctl_json("status")
        check(re.fullmatch(r"[0-9a-f]{64}", st["dtb"]["sha256"]) is not None, "sha256 %r" % st["dtb"])
        check(st["dtb"]["sha256"] in p.stdout, "status lacks the sha256")
        check(st["version"] in p.stdout, "status lacks the version")
        n = len(demo_devices(d))
        check(st["devices"]["total"] == n, "status counts %d devices, list %d" % (st["devices"]["total"], n))
        check(re.search(r"\b%d total\b" % n, p.stdout) is not None, "status lacks the total")


def case_list_table():
    with Daemon() as d:
        devs = demo_devices(d)
        rows = check_table_matches(d, devs)
        by_path = {r.split()[0]: r for r in rows}
        # Regions are a column -o shows.
        p = d.ctl("list", "-o", "path,regions")
        check(p.returncode == 0, "list -o path,regions: %s" % p.stderr)
        _, region_rows = table_rows(p.stdout, ("PATH", "REGIONS"))
        regions = {r.split()[0]: r for r in region_rows}
        for dev in devs:
            row = by_path[dev["path"]]
            cols = row.split()
            check(cols[1] == dev["iommu"]["coverage"] and cols[2] == dev["dma"],
                  "row %r disagrees with %r" % (row, dev))
            if dev["regions"]:
                first = "0x%x+0x%x" % (dev["regions"][0]["base"], dev["regions"][0]["size"])
                check(first in regions[dev["path"]], "row %r lacks region %s" % (row, first))
            if len(dev["regions"]) > 1:
                check("+%d more" % (len(dev["regions"]) - 1) in regions[dev["path"]],
                      "row %r lacks the region count" % row)
            spis = [i["hwirq"] for i in dev["interrupts"] if i["class"] == "spi"]
            if spis:
                check(str(min(spis)) in row, "row %r lacks SPI %d" % (row, min(spis)))
            if any(i["class"] == "not-gic" for i in dev["interrupts"]):
                check("not-gic" in row, "row %r does not mark a non-GIC interrupt" % row)
            if not dev["assignable"] and dev.get("owner") is None:
                check(dev["reason"][:10] in row, "row %r lacks the reason %r" % (row, dev["reason"]))
        # The demo board is meant to show groups (two devices sharing a page): the
        # GROUP column numbers them, the same number on every member and on no
        # other row, and MEMBERS names the others.
        grouped = [dev for dev in devs if dev["group"]]
        check(grouped, "no device of the demo board is in a group")
        number = {path: row.split()[4] for path, row in by_path.items()}
        for dev in devs:
            if not dev["group"]:
                check(number[dev["path"]] == "-", "%s is in no group: %r" % (dev["path"], number))
                continue
            same = sorted(p for p, n in number.items() if n == number[dev["path"]])
            check(same == sorted([dev["path"]] + dev["group"]),
                  "group %s of %s is %r, JSON says %r" % (number[dev["path"]], dev["path"], same,
                                                         dev["group"]))
        p = d.ctl("list", "--no-legend", "-o", "PATH,MEMBERS")
        members = {l.split()[0]: l.split()[1:] for l in p.stdout.splitlines()}
        for dev in grouped:
            check(sorted(members[dev["path"]]) == sorted(dev["group"]),
                  "MEMBERS of %s: %r" % (dev["path"], members[dev["path"]]))


def case_list_json():
    with Daemon() as d:
        p = d.ctl("--json", "list")
        check(p.returncode == 0 and p.stderr == "", "list --json: %d %r" % (p.returncode, p.stderr))
        devs = json.loads(p.stdout)     # the whole of stdout is one JSON value
        check(isinstance(devs, list), "list --json is not an array")
        for dev in devs:
            check_device_shape(dev)
        paths = [dev["path"] for dev in devs]
        check(len(paths) == len(set(paths)), "duplicate paths in list --json")
        # Group membership is symmetric.
        by_path = {dev["path"]: dev for dev in devs}
        for dev in devs:
            for other in dev["group"]:
                check(other in by_path and dev["path"] in by_path[other]["group"],
                      "group of %s names %s, which does not name it back" % (dev["path"], other))
        # --json after the command works the same.
        p2 = d.ctl("list", "--json")
        check(p2.returncode == 0 and json.loads(p2.stdout) == devs, "list --json (after) differs")


def case_filters():
    with Daemon() as d:
        devs = demo_devices(d)
        wanted = {
            ("--coverage", "protected"): [x for x in devs if x["iommu"]["coverage"] == "protected"],
            ("--dma", "none"): [x for x in devs if x["dma"] == "none"],
            ("--assignable",): [x for x in devs if x["assignable"]],
            ("--owner", "none"): [x for x in devs if x.get("owner") is None],
        }
        check(wanted[("--coverage", "protected")], "the demo board has no protected device")
        check(wanted[("--dma", "none")], "the demo board has no dma=none device")
        for args, expect in wanted.items():
            got = d.ctl_json("list", *args)
            check(sorted(x["path"] for x in got) == sorted(x["path"] for x in expect),
                  "list %s: %r, expected %r" % (" ".join(args), [x["path"] for x in got],
                                                [x["path"] for x in expect]))
            check_table_matches(d, expect, *args)
        both = d.ctl_json("list", "--coverage", "protected", "--assignable")
        check(sorted(x["path"] for x in both) ==
              sorted(x["path"] for x in devs if x["assignable"] and x["iommu"]["coverage"] == "protected"),
              "combined filters do not intersect")
        p = d.ctl("list", "--coverage", "mostly")
        check(p.returncode == 2 and p.stdout == "" and "--coverage" in p.stderr,
              "bad --coverage: %d %r" % (p.returncode, p.stderr))


def case_show_protected():
    with Daemon() as d:
        prot = d.ctl_json("list", "--coverage", "protected")
        check(prot, "no protected device to show")
        dev = prot[0]
        one = d.ctl_json("show", dev["path"])
        check(one == dev, "show --json differs from the list entry")
        p = d.ctl("show", dev["path"])
        check(p.returncode == 0 and p.stderr == "", "show failed: %s" % p.stderr)
        out = p.stdout
        check(out.split("\n")[0] == dev["path"], "show does not start with the path")
        check("protected" in out, "show lacks the coverage")
        for link in dev["iommu"]["iommus"]:
            check(link["iommu"] in out, "show lacks iommu %s" % link["iommu"])
            for i in link["ids"]:
                check("0x%x" % i in out, "show lacks stream ID 0x%x" % i)
        for r in dev["regions"]:
            end = r["base"] + r["size"] - 1
            check("0x%x-0x%x" % (r["base"], end) in out, "show lacks region end 0x%x" % end)
        for irq in dev["interrupts"]:
            if irq["class"] == "spi":
                check("spi %d" % irq["hwirq"] in out, "show lacks spi %d" % irq["hwirq"])
        check(re.search(r"dma:\s+%s \(from " % dev["dma"], out) is not None, "show lacks dma source")


def case_show_console():
    with Daemon() as d:
        path = console_path(DEMO_DTB)
        dev = d.ctl_json("show", path)
        check(dev["assignable"] is False, "Xen's console %s is assignable" % path)
        check(dev["reason"], "console has no reason")
        p = d.ctl("show", path)
        check(p.returncode == 0, "show console failed: %s" % p.stderr)
        check(re.search(r"assignable:\s+no: " + re.escape(dev["reason"]), p.stdout) is not None,
              "show does not give the reason: %r" % p.stdout)
        _, rows = table_rows(d.ctl("list").stdout)
        row = [r for r in rows if r.split()[0] == path]
        check(row and dev["reason"] in row[0], "list row of the console lacks its reason")


def case_show_unknown():
    with Daemon() as d:
        for args in (("show", "/no/such@0"), ("--json", "show", "/no/such@0")):
            p = d.ctl(*args)
            check(p.returncode == 1, "%s: exit %d" % (args, p.returncode))
            if args[0] == "--json":
                check(json.loads(p.stdout) == {"error": "io.assignd.Broker.DeviceNotFound",
                                               "parameters": {"message": "no device has the "
                                                              "path /no/such@0",
                                                              "path": "/no/such@0"}},
                      "--json error: %r" % p.stdout)
            else:
                check(p.stdout == "", "%s: stdout %r" % (args, p.stdout))
            check(p.stderr.startswith("assignctl: ") and "DeviceNotFound" in p.stderr and
                  "/no/such@0" in p.stderr, "%s: stderr %r" % (args, p.stderr))
            check(len(p.stderr.strip().split("\n")) == 1, "error is not one line: %r" % p.stderr)
        p = d.ctl("show", "not-a-path")
        check(p.returncode == 2 and p.stdout == "", "relative path: %d" % p.returncode)


def case_policy_survives_restart():
    with Daemon() as d:
        devs = demo_devices(d)
        cand = [x for x in devs if x["dma"] == "unknown" and x.get("policy") is None]
        check(cand, "the demo board has no DMA-unknown device")
        # An assignable one is the realistic case; any will do to test persistence.
        cand.sort(key=lambda x: not x["assignable"])
        path = cand[0]["path"]
        p = d.ctl("policy", path, "dma=none", "--note", "checked the databook: no bus master")
        check(p.returncode == 0, "policy failed: %d %s" % (p.returncode, p.stderr))
        check(p.stdout.split("\n")[0] == path, "policy output does not start with the path")
        check(re.search(r"dma:\s+none \(from policy\)", p.stdout) is not None,
              "policy output lacks the new dma: %r" % p.stdout)
        check("checked the databook" in p.stdout, "policy output lacks the note")

        def verify(dev, when):
            check(dev["dma"] == "none" and dev["dma_source"] == "policy", "%s: dma %r/%r" %
                  (when, dev["dma"], dev["dma_source"]))
            pol = dev.get("policy") or {}
            check(pol.get("dma") == "none" and pol.get("note") == "checked the databook: no bus master",
                  "%s: policy %r" % (when, pol))
            check(pol.get("set_by_uid") == os.getuid(), "%s: set_by_uid %r" % (when, pol.get("set_by_uid")))

        verify(d.ctl_json("show", path), "before restart")
        d.restart()
        verify(d.ctl_json("show", path), "after restart")
        check(path in [x["path"] for x in d.ctl_json("list", "--dma", "none")],
              "--dma none does not find the declared device after restart")
        p = d.ctl("show", path)
        check("note: checked the databook" in p.stdout and "dma=none" in p.stdout,
              "show lacks the policy: %r" % p.stdout)

        # --json policy prints just the device object.
        j = d.ctl("--json", "policy", path, "assignable=no", "--note", "kept for dom0")
        check(j.returncode == 0, "policy --json failed: %s" % j.stderr)
        dev = json.loads(j.stdout)
        check(dev["path"] == path and dev["assignable"] is False and dev["dma"] == "none",
              "policy --json: %r" % dev)


def case_policy_usage_errors():
    with Daemon() as d:
        path = demo_devices(d)[0]["path"]
        before = d.ctl_json("show", path)
        bad = [
            ("policy", path, "dma=maybe"),
            ("policy", path, "assignable=perhaps"),
            ("policy", path, "colour=blue"),
            ("policy", path, "dma"),
            ("policy", path),
            ("policy", path, "dma=none", "dma=master"),
            ("policy", path, "dma=none", "--frobnicate"),
            ("policy", "relative", "dma=none"),
            ("--json", "policy", path, "dma=sometimes"),
            ("list", "--dma"),
            ("show",),
            ("show", "/a", "/b"),
            ("nosuchcommand",),
            (),
        ]
        for args in bad:
            p = d.ctl(*args)
            check(p.returncode == 2, "%r: exit %d, expected 2 (%s)" % (args, p.returncode, p.stderr))
            check(p.stdout == "", "%r: stdout %r" % (args, p.stdout))
            check(p.stderr.startswith("assignctl: "), "%r: stderr %r" % (args, p.stderr))
        check(d.ctl_json("show", path) == before, "a refused policy changed the device")


def case_no_daemon():
    tmp = tempfile.mkdtemp(prefix="assignctl-test-")
    try:
        missing = os.path.join(tmp, "missing.sock")
        for args in (("--socket", missing, "status"), ("--socket", missing, "--json", "list"),
                     ("--socket", missing, "show", "/x")):
            p = run_ctl(*args)
            check(p.returncode == 3, "%r: exit %d" % (args, p.returncode))
            check(p.stdout == "", "%r: stdout %r" % (args, p.stdout))
            check("cannot connect to %s" % missing in p.stderr and "is assignd running?" in p.stderr,
                  "%r: stderr %r" % (args, p.stderr))
        # A socket file nobody listens on.
        dead = os.path.join(tmp, "dead.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(dead)
        s.close()
        p = run_ctl("--socket", dead, "status")
        check(p.returncode == 3 and "cannot connect" in p.stderr, "dead socket: %d %r" % (p.returncode, p.stderr))
        # ASSIGND_SOCKET is the default when --socket is absent.
        env = dict(os.environ, ASSIGND_SOCKET=missing)
        p = run_ctl("status", env=env)
        check(p.returncode == 3 and missing in p.stderr, "ASSIGND_SOCKET ignored: %r" % p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def help_commands():
    p = run_ctl("--help")
    check(p.returncode == 0, "--help failed")
    lines = p.stdout.split("\n")
    start = lines.index("Commands:") + 1
    cmds = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        # A summary too long for its line goes on below, further in.
        m = re.match(r"^  (\S+)", line)
        if m:
            cmds.append(m.group(1))
    check(len(cmds) >= 4, "--help lists only %r" % cmds)
    return cmds


def man_section(text, name):
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH )" % re.escape(name), text, re.M | re.S)
    check(m is not None, "man page has no %s section" % name)
    return m.group(1)


def case_man_page_in_sync():
    with open(MAN_PAGE) as f:
        text = f.read()
    commands = man_section(text, "COMMANDS")
    # A command's entry is a .TP tag line starting with its name in bold.
    documented = set(re.findall(r"^\.TP\n(?:\.BI? |\\fB)([a-z][a-z-]*)", commands, re.M))
    cmds = help_commands()
    for c in cmds:
        check(c in documented, "command %r is not documented in the COMMANDS section of %s" % (c, MAN_PAGE))
    for c in documented:
        check(c in cmds, "man page documents %r, which assignctl --help does not list" % c)
    # Every option of every command, and every global option, is in the page.
    plain = text.replace("\\-", "-")
    for c in cmds + [None]:
        p = run_ctl(c, "--help") if c else run_ctl("--help")
        check(p.returncode == 0, "%s --help failed" % c)
        for opt in set(re.findall(r"^\s+(?:-[a-z], )?--([a-z][a-z-]*)", p.stdout, re.M)):
            check("--" + opt in plain, "option --%s (%s) is not in the man page" % (opt, c or "global"))
        # And every column -o can show.
        columns = p.stdout.split("\nColumns", 1)[1] if "\nColumns" in p.stdout else ""
        for col in re.findall(r"^  ([A-Z][A-Z/-]*)\*?\s", columns, re.M):
            check(re.search(r"\b%s\b" % re.escape(col), plain),
                  "column %s of %s is not in the man page" % (col, c))
    # Renders without warnings.
    if not shutil.which("man"):
        raise Skip("man is not installed; the rendering check did not run")
    for page in (MAN_PAGE, DAEMON_MAN_PAGE):
        r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                           env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
        check(r.returncode == 0 and r.stderr == "", "%s renders with warnings: %s" % (page, r.stderr))
        check("SYNOPSIS" in r.stdout, "%s rendered without a SYNOPSIS" % page)


def case_daemon_man_page_in_sync():
    """assignd(8) documents every option assignd --help lists, and no other."""
    from harness import ASSIGND
    if not ASSIGND or not os.access(ASSIGND, os.X_OK):
        raise Skip("ASSIGND=%r is not an executable" % ASSIGND)
    p = subprocess.run([ASSIGND, "--help"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "assignd --help failed: %s" % p.stderr)
    helped = set(re.findall(r"^\s+(?:-[a-zA-Z], )?--([a-z][a-z-]*)", p.stdout, re.M))
    check(len(helped) >= 10, "assignd --help lists only %r" % helped)
    with open(DAEMON_MAN_PAGE) as f:
        text = f.read()
    options = man_section(text, "OPTIONS")
    documented = set(o.replace("\\-", "-") for o in
                     re.findall(r"^\.TP\n\.BI?R? \\-\\-((?:[a-z]|\\-)+)", options, re.M))
    documented |= set(re.findall(r"^\.TP\n\.BR \\-[a-z] \", \" \\-\\-([a-z-]+)", options, re.M))
    check(helped - documented == set(), "assignd(8) lacks %s" % sorted(helped - documented))
    check(documented - helped == set(), "assignd(8) documents unknown %s" % sorted(documented - helped))


def case_real_dtbs():
    dtbs = shared_dtbs()
    check(dtbs, "no DTB in SHARED_DTB_DIR")
    seen = set()
    for dtb in dtbs:
        name = os.path.basename(dtb)
        with Daemon(dtb=dtb) as d:
            devs = d.ctl_json("list")
            check(isinstance(devs, list) and devs, "%s: no devices" % name)
            for dev in devs:
                try:
                    check_device_shape(dev)
                except Fail as e:
                    raise Fail("%s: %s" % (name, e))
            st = d.ctl_json("status")
            check(st["devices"]["total"] == len(devs), "%s: status total %d, list %d" %
                  (name, st["devices"]["total"], len(devs)))
            prot = [x for x in devs if x["iommu"]["coverage"] == "protected"]
            check(st["devices"]["protected"] == len(prot), "%s: status protected count" % name)
            for x in prot:
                check(x["iommu"]["iommus"] or x.get("iommu_map_gaps") is not None,
                      "%s: %s protected without an iommus entry" % (name, x["path"]))
            if name in PROTECTED_COUNTS:
                check(len(prot) == PROTECTED_COUNTS[name], "%s: %d protected devices, MANIFEST says %d" %
                      (name, len(prot), PROTECTED_COUNTS[name]))
                seen.add(name)
            check_table_matches(d, devs)
            # Filters agree with the full list on real data too.
            got = d.ctl_json("list", "--coverage", "protected")
            check(sorted(x["path"] for x in got) == sorted(x["path"] for x in prot),
                  "%s: --coverage protected differs" % name)
    for name in ("r8a77951-salvator-xs.dtb", "zynqmp-zcu102-rev1.0.dtb"):
        shared_dtb(name)
        check(name in seen, "%s was not checked" % name)


def case_rcar_dmac():
    """R-Car H3: the DMACs sit behind IPMMUs with 16 uTLB IDs each (MANIFEST)."""
    dtb = shared_dtb("r8a77951-salvator-xs.dtb")
    with Daemon(dtb=dtb) as d:
        devs = d.ctl_json("list", "--coverage", "protected")
        sixteen = [x for x in devs
                   if sum(len(l["ids"]) for l in x["iommu"]["iommus"]) == 16]
        check(len(sixteen) == 5, "%d protected devices with 16 IDs, MANIFEST says 5" % len(sixteen))
        out = d.ctl("show", sixteen[0]["path"]).stdout
        check(out.count("0x") >= 16, "show of a DMAC lists too few IDs")


if __name__ == "__main__":
    run_cases([
        ("status", case_status),
        ("list table", case_list_table),
        ("list --json", case_list_json),
        ("list filters", case_filters),
        ("show protected device", case_show_protected),
        ("show console UART", case_show_console),
        ("show unknown path", case_show_unknown),
        ("policy survives restart", case_policy_survives_restart),
        ("usage errors exit 2", case_policy_usage_errors),
        ("no daemon exits 3", case_no_daemon),
        ("man page in sync", case_man_page_in_sync),
        ("assignd(8) in sync", case_daemon_man_page_in_sync),
        ("real DTBs", case_real_dtbs),
        ("R-Car DMACs", case_rcar_dmac),
    ])
