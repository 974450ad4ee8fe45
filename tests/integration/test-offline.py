#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""assignctl --offline against the daemon.

The offline mode runs the daemon's own scanner, classifier, policy and
generators on a device tree file; these cases hold it to that: on every
real DTB of SHARED_DTB_DIR and the project's own, dtb, xl-config and
imagebuilder print the same bytes, write the same files and refuse with
the same error and exit status as assignctl talking to assignd on the same
tree (list and show too), on devices that pass and on devices every check
refuses.  Then --db (the stored policy applies, the file is not touched),
--dma-table, several domUs in one imagebuilder call, and the commands
offline refuses.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from harness import (ASSIGNCTL, DEMO_DTB, TEST_DATA_DIR, Daemon, Fail, Skip, check, run_cases,
                     shared_dtbs)

# The demo board's (tests/data/demo-board.dts).
RTC = "/soc/rtc@9003000"            # pl031, dma none
UART = "/soc/serial@9000000"        # pl011, dma none
DMAC = "/soc/mmc@9030000"           # a DMA master no IOMMU protects
I2C0, I2C1 = "/soc/i2c@9004000", "/soc/i2c@9004800"     # share a page

# Requests per tree: every device of a small tree, a spread of a large one.
MAX_SINGLES = 24


def offline(*args, dtb=DEMO_DTB, db=None, tables=(), cwd=None):
    if not ASSIGNCTL or not os.access(ASSIGNCTL, os.X_OK):
        raise Skip("ASSIGNCTL=%r is not an executable" % ASSIGNCTL)
    argv = [ASSIGNCTL, "--offline", "--dtb", dtb]
    if db:
        argv += ["--db", db]
    for t in tables:
        argv += ["--dma-table", t]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=30,
                          cwd=cwd)


def online(d, *args, cwd=None):
    return subprocess.run([ASSIGNCTL, "--socket", d.socket] + list(args), capture_output=True,
                          text=True, timeout=30, cwd=cwd)


def take(path):
    """The bytes of a file the command wrote, and the file removed."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return data


class Compare:
    """Runs one command both ways in one directory and compares everything."""

    def __init__(self, d, dtb, work):
        self.d, self.dtb, self.work = d, dtb, work
        self.n = 0
        self.ok = 0
        self.refusals = {}

    def same(self, *args, files=()):
        paths = [os.path.join(self.work, f) for f in files]
        a = online(self.d, *args, cwd=self.work)
        fa = [take(p) for p in paths]
        b = offline(*args, dtb=self.dtb, cwd=self.work)
        fb = [take(p) for p in paths]
        what = "%s: assignctl %s" % (os.path.basename(self.dtb), " ".join(args))
        check(a.returncode == b.returncode,
              "%s: exit %d with the daemon, %d offline\n%s\n%s" %
              (what, a.returncode, b.returncode, a.stderr, b.stderr))
        check(a.stdout == b.stdout, "%s: stdout differs:\n--- daemon\n%s\n--- offline\n%s" %
              (what, a.stdout, b.stdout))
        check(a.stderr == b.stderr, "%s: stderr differs:\n--- daemon\n%s\n--- offline\n%s" %
              (what, a.stderr, b.stderr))
        for p, x, y in zip(paths, fa, fb):
            check(x == y, "%s: %s differs (%s vs %s bytes)" %
                  (what, p, len(x) if x else None, len(y) if y else None))
        self.n += 1
        if a.returncode == 0:
            self.ok += 1
        elif a.stderr.startswith("assignctl: io.assignd.Broker."):
            name = a.stderr.split(":")[1].strip().rsplit(".", 1)[-1]
            self.refusals.setdefault(name, what)
        return a


def requests(devices):
    """Device sets to ask for: whole groups, and single devices (refused or not)."""
    sets = []
    groups = {}
    for dev in devices:
        if dev["group"]:
            key = tuple(sorted([dev["path"]] + dev["group"]))
            groups.setdefault(key, None)
    sets += [list(k) for k in groups][:8]
    step = max(1, len(devices) // MAX_SINGLES)
    sets += [[dev["path"]] for dev in devices[::step]]
    return sets


def compare_tree(dtb, seen):
    work = tempfile.mkdtemp(prefix="assignctl-offline-")
    try:
        with Daemon(dtb=dtb) as d:
            c = Compare(d, dtb, work)
            listed = c.same("--json", "list")
            devices = json.loads(listed.stdout)
            c.same("list", "--full")
            c.same("list", "--assignable", "--dma", "none", "--full")
            for i, req in enumerate(requests(devices)):
                c.same("show", req[0])
                flavour = ["--dom0less"] if i % 2 else []
                c.same("dtb", "-o", "p.dtb", *flavour, *req, files=["p.dtb"])
                c.same("xl-config", "--name", "g", "--dtb-out", "x.dtb", *req, files=["x.dtb"])
                c.same("imagebuilder", "--index", "1", "--dtb-out", "i.dtb", *req,
                       files=["i.dtb"])
                if i % 3 == 0:
                    c.same("imagebuilder", "--layout", "auto", "--force-unprotected",
                           "--xen-version", "4.20", "--dtb-dir", ".", *req,
                           files=["domU0-passthrough.dtb"])
            c.same("show", "/no/such@0")
            c.same("dtb", "-o", "n.dtb", "/no/such@0", files=["n.dtb"])
            seen["requests"] += c.n
            seen["generated"] += c.ok
            for k, v in c.refusals.items():
                seen["refusals"].setdefault(k, v)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def case_identical_on_every_dtb():
    trees = shared_dtbs()
    # dom0-view.dtb is a tree Xen wrote for dom0: only the hypervisor can
    # tell its disabled nodes apart (case_dom0_tree).
    trees += sorted(os.path.join(TEST_DATA_DIR, f) for f in os.listdir(TEST_DATA_DIR)
                    if f.endswith(".dtb") and f != "dom0-view.dtb")
    seen = {"requests": 0, "generated": 0, "refusals": {}}
    for dtb in trees:
        compare_tree(dtb, seen)
    print("# %d trees, %d commands compared, %d made files; refusals compared, e.g.:" %
          (len(trees), seen["requests"], seen["generated"]))
    for k, v in sorted(seen["refusals"].items()):
        print("#   %s: %s" % (k, v))
    # Both outcomes must have been exercised, or the comparison proves little.
    check(seen["generated"] > 100, "too few generated outputs compared: %d" % seen["generated"])
    for name in ("DeviceNotFound", "DeviceNotAssignable", "GroupIncomplete",
                 "UnprotectedDevice", "InterruptNotRoutable"):
        check(name in seen["refusals"], "no %s refusal was compared" % name)


def case_status_json():
    with Daemon() as d:
        a = json.loads(online(d, "--json", "status").stdout)
    b = offline("--json", "status")
    check(b.returncode == 0, b.stderr)
    b = json.loads(b.stdout)
    for key in ("devices", "hazards"):
        check(a[key] == b[key], "%s differs: %s vs %s" % (key, a[key], b[key]))
    check(a["dtb"]["sha256"] == b["dtb"]["sha256"], "different trees?")
    check(b["backend"] == "offline" and b["xen_version"] is None, b)
    t = offline("status")
    check("offline: no daemon" in t.stdout and "uptime" not in t.stdout, t.stdout)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def case_db_policy():
    with Daemon() as d:
        d.ctl("policy", DMAC, "dma=none", "--note", "test: not a master", check=True)
        d.ctl("policy", UART, "assignable=no", check=True)
        d.stop()
        db = d.db
        before = digest(db), os.stat(db).st_mtime_ns
        # Without the policy the DMA controller needs force; with it, not.
        p = offline("dtb", "-o", os.path.join(d.dir, "a.dtb"), DMAC)
        check(p.returncode == 1 and "UnprotectedDevice" in p.stderr, p.stderr)
        p = offline("dtb", "-o", os.path.join(d.dir, "a.dtb"), DMAC, db=db)
        check(p.returncode == 0, p.stderr)
        p = offline("--json", "show", DMAC, db=db)
        dev = json.loads(p.stdout)
        check(dev["dma"] == "none" and dev["dma_source"] == "policy" and
              dev["policy"]["note"] == "test: not a master", dev)
        p = offline("xl-config", UART, db=db)
        check(p.returncode == 1 and "DeviceNotAssignable" in p.stderr, p.stderr)
        check((digest(db), os.stat(db).st_mtime_ns) == before, "--db wrote the database")
        # The daemon's view of the same request, with the same database.
        d.start()
        a = d.ctl("xl-config", UART)
        check(a.stderr == p.stderr and a.returncode == p.returncode, (a.stderr, p.stderr))
        d.stop()
        p = offline("list", db=os.path.join(d.dir, "missing.db"))
        check(p.returncode == 1 and "missing.db" in p.stderr, p.stderr)
        with open(os.path.join(d.dir, "junk.db"), "w") as f:
            f.write("not a database\n" * 100)
        p = offline("list", db=os.path.join(d.dir, "junk.db"))
        check(p.returncode == 1 and "junk.db" in p.stderr, p.stderr)


def case_dma_table():
    work = tempfile.mkdtemp(prefix="assignctl-offline-")
    try:
        dev = json.loads(offline("--json", "show", DMAC).stdout)
        table = os.path.join(work, "local.conf")
        with open(table, "w") as f:
            f.write("# the board's DMA engine is not a master here\nnone %s\n" %
                    dev["compatible"][0])
        p = offline("--json", "show", DMAC, tables=[table])
        check(json.loads(p.stdout)["dma"] == "none", p.stdout)
        p = offline("dtb", "-o", os.path.join(work, "a.dtb"), DMAC, tables=[table])
        check(p.returncode == 0, p.stderr)
        with open(table, "w") as f:
            f.write("sometimes %s\n" % dev["compatible"][0])
        p = offline("list", tables=[table])
        check(p.returncode == 1 and "local.conf:1" in p.stderr, p.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def case_imagebuilder_domus():
    work = tempfile.mkdtemp(prefix="assignctl-offline-")
    try:
        with Daemon() as d:
            c = Compare(d, DEMO_DTB, work)
            a = c.same("imagebuilder", "--index", "1", "--dtb-dir", ".", RTC, "+", UART,
                       files=["domU1-passthrough.dtb", "domU2-passthrough.dtb"])
            check(a.returncode == 0, a.stderr)
            c.same("--json", "imagebuilder", RTC, "+", UART)
            # A device for two domUs, or a group split between them.
            p = c.same("imagebuilder", RTC, "+", RTC)
            check(p.returncode == 2 and "domU 0 and domU 1" in p.stderr, p.stderr)
            p = c.same("imagebuilder", DMAC, "+", "+", RTC)
            check(p.returncode == 2, p.stderr)
            p = c.same("imagebuilder", I2C0, "+", I2C1)
            check(p.returncode == 1 and "GroupIncomplete" in p.stderr, p.stderr)
            p = c.same("imagebuilder", "--dtb-out", "x.dtb", RTC, "+", UART, files=["x.dtb"])
            check(p.returncode == 2 and "--dtb-dir" in p.stderr, p.stderr)
            p = c.same("imagebuilder", "--force-unprotected", DMAC)
            check(p.returncode == 0 and "DOMU_DIRECT_MAP[0]=1" in p.stdout, p.stdout)
        # The fragment is what ImageBuilder sources: bash reads it as meant.
        src = os.path.join(work, "frag")
        with open(src, "w") as f:
            f.write(a.stdout)
        for before, after in ((":", "3"), ("NUM_DOMUS=1", "3"), ("NUM_DOMUS=5", "5")):
            out = subprocess.run(["bash", "-c", '%s; . "$1"; echo "$NUM_DOMUS|'
                                  '${DOMU_PASSTHROUGH_DTB[1]}|${DOMU_PASSTHROUGH_PATHS[2]}"' %
                                  before, "x", src], capture_output=True, text=True)
            check(out.stdout.strip() == "%s|domU1-passthrough.dtb|%s" % (after, UART),
                  "%r: %r %r" % (before, out.stdout, out.stderr))
        p = offline("imagebuilder", "--dtb-dir", os.path.join(work, "missing"), RTC)
        check(p.returncode == 1 and "missing" in p.stderr, p.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def case_dom0_tree():
    """Offline nobody can ask Xen which disabled nodes it set aside: policy decides."""
    dtb = os.path.join(TEST_DATA_DIR, "dom0-view.dtb")
    with Daemon(dtb=dtb) as d:
        daemon = {x["path"]: x for x in d.ctl_json("list")}
    devs = {x["path"]: x for x in json.loads(offline("--json", "list", dtb=dtb).stdout)}
    hidden = [p for p, x in devs.items() if x["dom0_hidden"]]
    check(hidden, "dom0-view.dtb has no node Xen hid from dom0")
    for p in hidden:
        check(not devs[p]["assignable"] and "assignable=yes" in devs[p]["reason"],
              "offline %s: %s" % (p, devs[p]))
    check(any(daemon[p]["assignable"] for p in hidden),
          "the simulator set none aside: the case proves nothing")
    for p, x in devs.items():
        if p not in hidden:
            check(x == daemon[p], "%s differs:\n%s\n%s" % (p, x, daemon[p]))


def case_refused_offline():
    for args in (["assign", "g", RTC], ["release", "g"], ["reserve", "g", RTC], ["leases"],
                 ["policy", RTC, "dma=none"], ["audit"], ["history", RTC], ["monitor"],
                 ["cancel", "g"], ["sim", "state"]):
        p = offline(*args)
        check(p.returncode == 2 and "needs the daemon" in p.stderr, (args, p.stderr))
    p = subprocess.run([ASSIGNCTL, "--dtb", DEMO_DTB, "list"], capture_output=True, text=True)
    check(p.returncode == 2 and "go with --offline" in p.stderr, p.stderr)
    p = subprocess.run([ASSIGNCTL, "--offline", "--socket", "/x", "list"], capture_output=True,
                       text=True)
    check(p.returncode == 2 and "--socket" in p.stderr, p.stderr)
    p = offline("list", "--owner", "none")
    check(p.returncode == 2 and "--owner" in p.stderr, p.stderr)
    p = offline("list", dtb="/nonexistent.dtb")
    check(p.returncode == 1 and "/nonexistent.dtb" in p.stderr, p.stderr)
    # A near miss gets the daemon's suggestion, from the offline inventory.
    p = offline("show", RTC + "x")
    check(p.returncode == 1 and "did you mean %s" % RTC in p.stderr, p.stderr)


if __name__ == "__main__":
    run_cases([
        ("identical_on_every_dtb", case_identical_on_every_dtb),
        ("status_json", case_status_json),
        ("dom0_tree", case_dom0_tree),
        ("db_policy", case_db_policy),
        ("dma_table", case_dma_table),
        ("imagebuilder_domus", case_imagebuilder_domus),
        ("refused_offline", case_refused_offline),
    ])
