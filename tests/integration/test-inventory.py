#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The inventory across restarts: an unchanged DTB is not rescanned, a
changed one is, admin policy survives both (keyed by path), the
administrator's DMA tables are read from --config-dir, and a bad DTB stops
the daemon at start-up with a message naming the file, leaving the stored
inventory untouched."""

import json
import os
import shutil
import sqlite3

from harness import (DEMO_DTB, TEST_DATA_DIR, Daemon, Fail, VarlinkError, check,
                     run_cases, shared_dtb)


def devices_by_path(d):
    return {dev["path"]: dev for dev in d.broker("ListDevices")["devices"]}


def test_unchanged_dtb_not_rescanned():
    with Daemon() as d:
        sha = d.broker("GetStatus")["dtb"]["sha256"]
        d.restart()
        check(d.broker("GetStatus")["dtb"]["sha256"] == sha, "digest changed on restart")
        check("(unchanged)" in d.log(), "second start did not report an unchanged inventory:\n" + d.log())


def test_policy_survives_rescan_of_changed_dtb():
    with Daemon() as d:
        d.broker("SetDevicePolicy", {"path": "/soc/mailbox@22000000", "dma": "none",
                                     "note": "registers only"})
        d.broker("SetDevicePolicy", {"path": "/soc/mmc@9030000", "assignable": False,
                                     "note": "boot medium of dom0"})
        before = d.broker("GetStatus")["dtb"]["sha256"]
        # Same daemon state, different board: the demo devices vanish, and
        # come back when the demo board returns.
        d.stop()
        d.dtb = shared_dtb("qemu-virt-noiommu.dtb")
        d.start()
        st = d.broker("GetStatus")
        check(st["dtb"]["sha256"] != before, "rescan did not take the new digest")
        devs = devices_by_path(d)
        check("/pl031@9010000" in devs, "new board's devices missing after rescan")
        check("/soc/mailbox@22000000" not in devs, "vanished device still listed")
        d.stop()
        d.dtb = DEMO_DTB
        d.start()
        devs = devices_by_path(d)
        mb = devs["/soc/mailbox@22000000"]
        check(mb["dma"] == "none" and mb["dma_source"] == "policy",
              "dma policy lost across rescans: %r" % mb)
        check(mb["policy"]["note"] == "registers only", "note lost: %r" % mb["policy"])
        mmc = devs["/soc/mmc@9030000"]
        check(mmc["assignable"] is False and mmc["reason"] == "boot medium of dom0",
              "assignable policy lost: %r" % mmc)


def test_admin_dma_table():
    with Daemon() as d:
        dev = devices_by_path(d)["/soc/mailbox@22000000"]
        compat = dev["compatible"][0]
        check(dev["dma"] != "master", "unexpected starting point %r" % dev)
        d.stop()
        os.makedirs(os.path.join(d.config_dir, "dma.d"), exist_ok=True)
        with open(os.path.join(d.config_dir, "dma.d", "50-local.conf"), "w") as f:
            f.write("# the mailbox here can master the bus\nmaster %s\n" % compat)
        d.start()
        dev = devices_by_path(d)["/soc/mailbox@22000000"]
        check(dev["dma"] == "master", "admin table not applied: %r" % dev)
        check("admin" in dev["dma_source"], "dma_source does not name the admin table: %r"
              % dev["dma_source"])


def test_bad_admin_table_refused():
    with Daemon() as d:
        d.stop()
        os.makedirs(os.path.join(d.config_dir, "dma.d"), exist_ok=True)
        path = os.path.join(d.config_dir, "dma.d", "10-broken.conf")
        with open(path, "w") as f:
            f.write("maybe vendor,thing\n")
        rc = d.start(expect_fail=True)
        check(rc != 0, "daemon accepted a malformed DMA table")
        check("10-broken.conf" in d.log(), "error does not name the file:\n" + d.log())


def bad_dtb_cases(tmp):
    good = open(DEMO_DTB, "rb").read()
    yield "empty", b""
    yield "truncated", good[: len(good) // 2]
    yield "bad magic", b"\x00\x00\x00\x00" + good[4:]
    lying = bytearray(good)
    lying[4:8] = (len(good) + 4096).to_bytes(4, "big")
    yield "lying totalsize", bytes(lying)
    yield "text", b"/dts-v1/; / { };\n"


def test_bad_dtb_at_startup():
    with Daemon() as d:
        devs_before = devices_by_path(d)
        sha_before = d.broker("GetStatus")["dtb"]["sha256"]
        d.stop()
        for name, blob in bad_dtb_cases(d.dir):
            path = os.path.join(d.dir, "bad.dtb")
            with open(path, "wb") as f:
                f.write(blob)
            d.dtb = path
            open(d.log_path, "w").close()
            rc = d.start(expect_fail=True)
            check(rc != 0, "%s: daemon started" % name)
            log = d.log()
            check("bad.dtb" in log, "%s: error does not name the file:\n%s" % (name, log))
            check("Segmentation" not in log and rc > 0, "%s: crashed (rc %d)" % (name, rc))
        missing = os.path.join(d.dir, "does-not-exist.dtb")
        d.dtb = missing
        rc = d.start(expect_fail=True)
        check(rc != 0 and "does-not-exist.dtb" in d.log(), "missing DTB not reported")
        # The stored inventory is untouched by the failed starts.
        d.dtb = DEMO_DTB
        d.start()
        check(d.broker("GetStatus")["dtb"]["sha256"] == sha_before, "stored digest changed")
        check(devices_by_path(d).keys() == devs_before.keys(), "stored inventory changed")


def test_database_integrity_after_restarts():
    with Daemon() as d:
        d.broker("SetDevicePolicy", {"path": "/soc/mailbox@22000000", "dma": "none"})
        d.kill9()
        d.start()
        d.stop()
        con = sqlite3.connect(d.db)
        try:
            check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok",
                  "integrity_check failed")
            check(con.execute("PRAGMA foreign_key_check").fetchall() == [],
                  "foreign key violations")
        finally:
            con.close()


def test_every_real_dtb_serves():
    """Each real board comes up and lists the devices the scanner found,
    and the counts GetStatus reports agree with the list."""
    from harness import shared_dtbs
    for path in shared_dtbs():
        with Daemon(dtb=path) as d:
            devs = d.broker("ListDevices")["devices"]
            st = d.broker("GetStatus")["devices"]
            check(st["total"] == len(devs), "%s: total %d != %d listed" %
                  (path, st["total"], len(devs)))
            check(st["assignable"] == sum(1 for x in devs if x["assignable"]),
                  "%s: assignable count disagrees" % path)
            check(st["protected"] == sum(1 for x in devs
                                         if x["iommu"]["coverage"] == "protected"),
                  "%s: protected count disagrees" % path)
            for x in devs:
                if x["iommu"]["coverage"] == "protected":
                    # through "iommus", or a PCI host's "iommu-map"
                    check(x["iommu"]["iommus"] or x["iommu_map_gaps"] is not None,
                          "%s: %s protected without links or map" % (path, x["path"]))
                if not x["assignable"]:
                    check(x["reason"], "%s: %s not assignable without a reason" %
                          (path, x["path"]))


def test_dom0_view():
    """The tree Xen writes for dom0 (its /hypervisor node, xen,passthrough
    nodes turned "disabled"): the hidden pl031 is offered, flagged, and
    assignctl says why; the simulated dom0 holds its MMIO."""
    with Daemon() as d:
        d.stop()
        d.dtb = os.path.join(TEST_DATA_DIR, "dom0-view.dtb")
        d.start()
        devs = devices_by_path(d)
        check("/pl031@9010000" in devs, "hidden pl031 missing: %s" % sorted(devs))
        rtc = devs["/pl031@9010000"]
        check(rtc["dom0_hidden"] and not rtc["xen_passthrough"], "flags: %r" % rtc)
        check(rtc["assignable"], "hidden device held by dom0 not assignable: %r" % rtc)
        check(not devs["/pl011@9000000"]["dom0_hidden"], "enabled node flagged hidden")
        check("/uart@9040000" not in devs, "status 'fail' node scanned")
        out = d.ctl("show", "/pl031@9010000").stdout
        check("tree Xen wrote for dom0" in out, "show does not explain: " + out)
        # Without an SPI nothing tells set-aside from firmware-disabled: the
        # administrator decides.
        fw = devs["/fw-cfg@9020000"]
        check(fw["dom0_hidden"] and not fw["assignable"] and "assignable=yes" in fw["reason"],
              "fw-cfg without SPI: %r" % fw)
        d.broker("SetDevicePolicy", {"path": "/fw-cfg@9020000", "assignable": True,
                                     "note": "set aside in the host tree"})
        check(devices_by_path(d)["/fw-cfg@9020000"]["assignable"], "policy did not decide")


def test_inconsistent_nodes():
    """A tree with nodes whose properties contradict it (tests/data/
    inconsistent.dts) is served: each such node is a device that is not
    assignable, says why, stays so whatever the policy says and across a
    restart (it is stored), and is an "inconsistent" hazard that
    assignctl status lists; every other device is served."""
    bad = {"/soc/dma@1000": "phandle 0x55", "/soc/sensor@3000": "phandle 0x99",
           "/soc/mailbox@4000": "no #iommu-cells", "/soc/gpu@5000": "PPI 126",
           "/soc/i2c@9400": "phandle 0x77", "/soc/bus@20000/sram@20000": "ranges window"}
    with Daemon(dtb=os.path.join(TEST_DATA_DIR, "inconsistent.dtb")) as d:
        for restart in (False, True):
            if restart:
                d.restart()
            devs = devices_by_path(d)
            for path, why in bad.items():
                check(path in devs and not devs[path]["assignable"] and why in devs[path]["reason"] and
                      devs[path]["reason"].startswith("inconsistent device tree: "),
                      "%s: %r" % (path, devs.get(path)))
            check(devs["/soc/rtc@a000"]["assignable"] and devs["/soc/ethernet@2000"]["assignable"],
                  "sound devices not served")
            hz = d.broker("GetStatus", {"hazards": True})["hazards"]
            found = {h["path"]: h["message"] for h in hz if h["kind"] == "inconsistent"}
            check(sorted(found) == sorted(bad), "inconsistent hazards: %s" % sorted(found))
            check(all(why in found[p] for p, why in bad.items()), "hazard messages: %s" % found)
        out = d.ctl("status", "--hazards", "--full", check=True).stdout
        check("/soc/dma@1000" in out and "phandle 0x55" in out,
              "assignctl status does not list the inconsistent node:\n" + out)
        d.broker("SetDevicePolicy", {"path": "/soc/dma@1000", "assignable": True, "note": "try"})
        dev = d.broker("GetDevice", {"path": "/soc/dma@1000"})["device"]
        check(not dev["assignable"] and "phandle 0x55" in dev["reason"],
              "policy made an inconsistent node assignable: %r" % dev)


run_cases([
    ("unchanged DTB is not rescanned", test_unchanged_dtb_not_rescanned),
    ("policy survives rescans of a changed DTB", test_policy_survives_rescan_of_changed_dtb),
    ("administrator DMA table", test_admin_dma_table),
    ("malformed DMA table refused at start-up", test_bad_admin_table_refused),
    ("bad DTB refused at start-up, inventory kept", test_bad_dtb_at_startup),
    ("database integrity after kill -9", test_database_integrity_after_restarts),
    ("every real DTB serves consistent counts", test_every_real_dtb_serves),
    ("dom0's view: devices Xen hid for passthrough", test_dom0_view),
    ("inconsistent nodes are devices that are not assignable", test_inconsistent_nodes),
])
