# SPDX-License-Identifier: GPL-2.0-or-later
"""The guest side through the socket: GuestDeviceTree, XlConfig,
ImageBuilderConfig, Reserve and CancelReservation, and the assignctl
commands over them (dtb, xl-config, imagebuilder, reserve, cancel).

The generated device trees are read back with dtc (skipped without it);
the xl.cfg fragments are parsed and compared with the devices' regions and
SPIs; reservations are taken up by a simulated "xl create" (the simulator's
CreateDomain with irqs/iomem/dtdev, which makes the hypercalls xl makes, in
xl's order), verified, refused when the domain lacks its grants, expired
and cancelled.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import (Connection, Daemon, Fail, Skip, VarlinkError, check, run_cases,
                     shared_dtb)

SATA = "/soc/sata@9010000"          # protected (SMMU), SPI 7 = INTID 39
MMC = "/soc/mmc@9030000"            # no IOMMU, DMA master
RTC = "/soc/rtc@9003000"            # pl031, dma none, SPI 4 = INTID 36
GPIO = "/soc/gpio@9002000"          # pl061, dma none, SPI 3 = INTID 35
MAILBOX = "/soc/mailbox@22000000"   # 1:1 clashes with the guest's vpl011
CONSOLE = "/soc/serial@9001000"     # Xen's console: never assignable
I2C0 = "/soc/i2c@9004000"           # shares a page with I2C1


def expect_error(fn, name, **fields):
    try:
        fn()
    except VarlinkError as e:
        check(e.name == "io.assignd.Broker." + name,
              "expected %s, got %s: %s" % (name, e.name, e.parameters))
        for k, v in fields.items():
            check(e.parameters.get(k) == v, "%s: %s is %r, expected %r" %
                  (name, k, e.parameters.get(k), v))
        check(e.parameters.get("message"), "%s without a message" % name)
        return e.parameters
    raise Fail("expected %s, the call succeeded" % name)


def dts_of(blob):
    """The blob as dtc's source text; dtc must accept it."""
    if not shutil.which("dtc"):
        raise Skip("dtc is not installed")
    with tempfile.NamedTemporaryFile(suffix=".dtb") as f:
        f.write(blob)
        f.flush()
        p = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", f.name],
                           capture_output=True, text=True)
    check(p.returncode == 0, "dtc cannot read the partial DTB: %s" % p.stderr)
    return p.stdout


def blob_of(reply):
    blob = base64.b64decode(reply["dtb"], validate=True)
    check(len(blob) == reply["size"], "size %d but %d bytes" % (reply["size"], len(blob)))
    check(blob[:4] == b"\xd0\x0d\xfe\xed", "not a DTB (magic)")
    check(int.from_bytes(blob[4:8], "big") == len(blob), "totalsize differs from the blob")
    return blob


def check_partial(dts, n_devices):
    """The checks libxl and a guest need of any partial DTB."""
    check(re.search(r"^\tpassthrough \{", dts, re.M), "no /passthrough node:\n" + dts)
    check('compatible = "simple-bus";' in dts, "/passthrough is not a simple-bus")
    check("ranges;" in dts, "/passthrough has no ranges")
    check("#address-cells = <0x02>;" in dts and "#size-cells = <0x02>;" in dts,
          "/passthrough cell sizes")
    parents = re.findall(r"interrupt-parent = <(0x[0-9a-f]+)>;", dts)
    check(len(parents) == n_devices and all(int(p, 16) == 65000 for p in parents),
          "interrupt-parent is not 0xfde8 on every device: %r" % parents)
    # Only the /gic placeholder (dtc needs a target for 0xfde8) has phandle 65000.
    gic = re.search(r"^\tgic \{(.*?)^\t\};", dts, re.M | re.S)
    check(gic and "phandle = <0xfde8>;" in gic.group(1), "no /gic with phandle 0xfde8")
    passthrough = dts[dts.index("\tpassthrough {"):]
    phandles = [int(p, 16) for p in re.findall(r"phandle = <(0x[0-9a-f]+)>;", passthrough)]
    for ph in phandles:
        check(ph < 65000, "phandle 0x%x >= 65000 in /passthrough" % ph)
    # No dangling phandle: every reference is the GIC or a node of the partial DT.
    for ref in re.findall(r"(?:clocks|interrupt-parent|phandle) = <(0x[0-9a-f]+)", passthrough):
        check(int(ref, 16) in phandles + [65000], "dangling phandle %s" % ref)
    for bad in ("iommus", "power-domains", "resets", "pinctrl-0"):
        check(bad not in dts, "host-only property %s copied" % bad)


def cfg_value(cfg, key):
    m = re.search(r"^%s = (.*)$" % re.escape(key), cfg, re.M)
    return m.group(1) if m else None


def cfg_list(cfg, key):
    v = cfg_value(cfg, key)
    if v is None:
        return []
    check(v.startswith("[") and v.endswith("]"), "%s is not a list: %s" % (key, v))
    if '"' in v:
        return re.findall(r'"([^"]*)"', v)
    return [x.strip() for x in v[1:-1].split(",") if x.strip()]


def expected_iomem(regions_by_device):
    """'MFN,NR@GFN' lines from [(host, size, guest)] per device, merged per page run."""
    out = []
    for regs in regions_by_device:
        for host, size, guest in regs:
            first = host >> 12
            last = (host + size - 1) >> 12
            out.append((first, last - first + 1, guest >> 12))
    return sorted(out)


def parse_iomem(items):
    res = []
    for it in items:
        m = re.fullmatch(r"0x([0-9a-f]+),0x([0-9a-f]+)@0x([0-9a-f]+)", it)
        check(m, "iomem entry %r is not MFN,NR@GFN in hex" % it)
        res.append(tuple(int(x, 16) for x in m.groups()))
    return sorted(res)


def xl_grants(cfg):
    """What xl would do with the fragment, as CreateDomain parameters."""
    g = {"passthrough": cfg_value(cfg, "passthrough") == '"enabled"'}
    irqs = [int(x) for x in cfg_list(cfg, "irqs")]
    if irqs:
        g["irqs"] = irqs
    iomem = cfg_list(cfg, "iomem")
    if iomem:
        g["iomem"] = iomem
    dtdev = cfg_list(cfg, "dtdev")
    if dtdev:
        g["dtdev"] = dtdev
    return g


def device(d, path):
    return d.broker("GetDevice", {"path": path})["device"]


def owner3(o):
    """Who holds a device, in what state (the owner's other facts left out)."""
    return {k: o[k] for k in ("domid", "domain", "state")} if o else o


def leases(d, all_=True):
    return d.broker("ListLeases", {"all": all_})["leases"]


def lease(d, lid):
    for l in leases(d):
        if l["id"] == lid:
            return l
    raise Fail("lease %d not listed" % lid)


def dom_state(d, domid):
    for dom in d.sim("GetState")["state"]["domains"]:
        if dom["domid"] == domid:
            return dom
    raise Fail("domain %d not in GetState" % domid)


# ---- generators ----------------------------------------------------------------

def case_demo_dtb_identity():
    with Daemon() as d:
        r = d.broker("GuestDeviceTree", {"devices": [RTC, GPIO]})
        check(r["layout"] == "identity", "layout %r" % r["layout"])
        dts = dts_of(blob_of(r))
        check_partial(dts, 2)
        check("rtc@9003000" in dts and "gpio@9002000" in dts, "device nodes missing")
        # reg is 1:1: the host addresses, two cells each.
        check("reg = <0x00 0x9003000 0x00 0x1000>;" in dts, "rtc reg is not 1:1:\n" + dts)
        check("xen,reg" not in dts, "xl flavour carries xen,reg")
        for p in r["devices"]:
            check(not p["relocated"], "%s relocated in identity" % p["path"])
            for g in p["regions"]:
                check(g["host"] == g["guest"], "identity moved %r" % g)


def case_demo_dom0less():
    with Daemon() as d:
        r = d.broker("GuestDeviceTree", {"devices": [SATA, MMC], "dom0less": True,
                                         "force_unprotected": True})
        dts = dts_of(blob_of(r))
        check_partial(dts, 2)
        check(re.search(r"^\tgic \{", dts, re.M), "dom0less DTB without the /gic placeholder")
        # xen,reg = <paddr size gaddr> with 2+2+2 cells, page aligned.
        regs = re.findall(r"xen,reg = <([^>]*)>;", dts)
        check(len(regs) == 2, "xen,reg count %d" % len(regs))
        triplets = sorted(tuple(int(a, 16) << 32 | int(b, 16) for a, b in zip(c[::2], c[1::2]))
                          for c in (x.split() for x in regs))
        want = sorted((g["host"] & ~0xfff, (g["size"] + 0xfff) & ~0xfff, g["guest"] & ~0xfff)
                      for p in r["devices"] for g in p["regions"])
        check(triplets == want, "xen,reg %r, host regions %r" % (triplets, want))
        check(dts.count('xen,path = "') == 2, "xen,path missing")
        # The force flag exactly on the unprotected device (MMC), not on SATA.
        nodes = re.split(r"\n\t\t(?=\S+@)", dts)
        for n in nodes:
            if n.startswith("mmc@"):
                check("xen,force-assign-without-iommu" in n, "no force flag on the MMC")
            if n.startswith("sata@"):
                check("xen,force-assign-without-iommu" not in n, "force flag on the SATA")


def case_demo_refusals():
    with Daemon() as d:
        expect_error(lambda: d.broker("GuestDeviceTree", {"devices": ["/soc/nope@0"]}),
                     "DeviceNotFound", path="/soc/nope@0")
        expect_error(lambda: d.broker("XlConfig", {"devices": [CONSOLE]}),
                     "DeviceNotAssignable", path=CONSOLE)
        expect_error(lambda: d.broker("XlConfig", {"devices": [I2C0]}), "GroupIncomplete",
                     path=I2C0)
        expect_error(lambda: d.broker("XlConfig", {"devices": [MMC]}), "UnprotectedDevice",
                     path=MMC)
        r = d.broker("XlConfig", {"devices": [MMC], "force_unprotected": True})
        check("passthrough" not in r["config"].replace("# ", "#"), "passthrough for an "
              "unprotected device only")
        expect_error(lambda: d.broker("XlConfig", {"devices": [RTC], "layout": "sideways"}),
                     "InvalidArgument", field="layout")
        expect_error(lambda: d.broker("XlConfig", {"devices": [RTC], "xen_version": "four"}),
                     "InvalidArgument", field="xen_version")
        expect_error(lambda: d.broker("XlConfig", {"devices": [RTC], "name": 'a"b'}),
                     "InvalidArgument", field="name")


def case_demo_forbid_force():
    with Daemon(extra_args=["--forbid-force"]) as d:
        expect_error(lambda: d.broker("GuestDeviceTree", {"devices": [MMC],
                                                          "force_unprotected": True}),
                     "UnprotectedDevice", path=MMC)


def case_address_conflict_and_auto():
    with Daemon() as d:
        e = expect_error(lambda: d.broker("XlConfig", {"devices": [MAILBOX]}),
                         "GuestAddressConflict", path=MAILBOX)
        check("GUEST_PL011" in e["message"] or "PL011" in e["message"],
              "the refusal does not name Xen's region: %s" % e["message"])
        expect_error(lambda: d.broker("Reserve", {"domain_name": "mb", "devices": [MAILBOX]}),
                     "GuestAddressConflict", path=MAILBOX)
        r = d.broker("XlConfig", {"devices": [MAILBOX], "layout": "auto"})
        (p,) = r["devices"]
        check(p["relocated"], "auto did not relocate the mailbox")
        g = p["regions"][0]
        check(g["guest"] != g["host"], "relocated to the same address")
        check(parse_iomem(cfg_list(r["config"], "iomem")) ==
              [(g["host"] >> 12, 1, g["guest"] >> 12)], "iomem of the relocated mailbox: %s" %
              r["config"])
        dts = dts_of(blob_of(r))
        check("reg = <0x00 0x%x 0x00 0x1000>;" % g["guest"] in dts,
              "reg is not the relocated address")


def case_demo_xl_config_matches_devices():
    with Daemon() as d:
        devs = [SATA, RTC, GPIO]
        r = d.broker("XlConfig", {"devices": devs, "name": "g", "device_tree": "/x/g.dtb"})
        cfg = r["config"]
        check(cfg_value(cfg, "name") == '"g"', "name line")
        check(cfg_value(cfg, "passthrough") == '"enabled"', "no passthrough with SATA")
        check(cfg_list(cfg, "dtdev") == [SATA], "dtdev %r" % cfg_list(cfg, "dtdev"))
        spis = sorted(i["hwirq"] for p in devs for i in device(d, p)["interrupts"])
        check([int(x) for x in cfg_list(cfg, "irqs")] == spis, "irqs %r, devices %r" %
              (cfg_list(cfg, "irqs"), spis))
        regs = [[(x["base"], x["size"], x["base"]) for x in device(d, p)["regions"]]
                for p in devs]
        check(parse_iomem(cfg_list(cfg, "iomem")) == expected_iomem(regs), "iomem %r" %
              cfg_list(cfg, "iomem"))
        check(cfg_value(cfg, "device_tree") == '"/x/g.dtb"', "device_tree line")
        for p in devs:
            check("# " + p in cfg, "no comment block for %s" % p)
        check_partial(dts_of(blob_of(r)), 3)


def case_demo_imagebuilder():
    with Daemon() as d:
        r = d.broker("ImageBuilderConfig", {"devices": [RTC, GPIO], "index": 2,
                                            "host_dtb_file": "board.dtb"})
        cfg = r["config"]
        check('DOMU_PASSTHROUGH_DTB[2]="domU2-passthrough.dtb"' in cfg, cfg)
        check('DOMU_PASSTHROUGH_PATHS[2]="%s %s"' % (RTC, GPIO) in cfg, cfg)
        check("fdtput -t s 'board.dtb' '%s' xen,passthrough" % RTC in cfg, cfg)
        check("xen,reg" in dts_of(blob_of(r)), "ImageBuilder's DTB is not dom0less")


def case_real_qemu_virt():
    dtb = shared_dtb("qemu-virt-noiommu.dtb")
    with Daemon(dtb=dtb) as d:
        devs = d.broker("ListDevices")["devices"]
        rtc = [x for x in devs if "arm,pl031" in x["compatible"]]
        gpio = [x for x in devs if "arm,pl061" in x["compatible"]]
        check(len(rtc) == 1 and len(gpio) == 1, "QEMU virt has one pl031 and one pl061")
        paths = [rtc[0]["path"], gpio[0]["path"]]
        r = d.broker("XlConfig", {"devices": paths, "device_tree": "/etc/xen/g.dtb"})
        cfg = r["config"]
        # QEMU virt: pl031 at 0x9010000 SPI 2, pl061 at 0x9030000 SPI 7.
        check(cfg_value(cfg, "irqs") == "[ 34, 39 ]", "irqs line: %r" % cfg_value(cfg, "irqs"))
        check(cfg_value(cfg, "iomem") == '[ "0x9010,0x1@0x9010", "0x9030,0x1@0x9030" ]',
              "iomem line: %r" % cfg_value(cfg, "iomem"))
        check(cfg_value(cfg, "passthrough") is None, "passthrough without a protected device")
        check(cfg_value(cfg, "dtdev") is None, "dtdev without a protected device")
        dts = dts_of(blob_of(r))
        check_partial(dts, 2)
        # The guest gets fixed-clock stand-ins for the primecell apb_pclk.
        check("fixed-clock" in dts, "no stand-in clock for the primecell devices")
        g = d.broker("GuestDeviceTree", {"devices": paths, "dom0less": True})
        check_partial(dts_of(blob_of(g)), 2)


def case_real_rcar_dmac():
    dtb = shared_dtb("r8a77951-salvator-xs.dtb")
    with Daemon(dtb=dtb) as d:
        devs = d.broker("ListDevices", {"coverage": "protected", "assignable": True})["devices"]
        dmacs = [x for x in devs if any("dmac" in c for c in x["compatible"]) and
                 not x["group"] and all(i["class"] == "spi" for i in x["interrupts"])]
        check(dmacs, "no IPMMU-protected DMAC on the Salvator-XS")
        dmac = dmacs[0]
        # At 0xe6700000 it sits in the guest's RAM bank 0: 1:1 is refused.
        expect_error(lambda: d.broker("XlConfig", {"devices": [dmac["path"]]}),
                     "GuestAddressConflict", path=dmac["path"])
        r = d.broker("XlConfig", {"devices": [dmac["path"]], "layout": "auto"})
        cfg = r["config"]
        check(cfg_value(cfg, "passthrough") == '"enabled"', "no passthrough for a DMAC")
        check(cfg_list(cfg, "dtdev") == [dmac["path"]], "dtdev %r" % cfg_list(cfg, "dtdev"))
        check([int(x) for x in cfg_list(cfg, "irqs")] ==
              sorted(set(i["hwirq"] for i in dmac["interrupts"])), "DMAC irqs")
        regs = [[(g["host"], g["size"], g["guest"]) for g in r["devices"][0]["regions"]]]
        check([(g[0], g[1]) for g in regs[0]] == [(x["base"], x["size"]) for x in dmac["regions"]],
              "placement regions are not the DMAC's")
        check(parse_iomem(cfg_list(cfg, "iomem")) == expected_iomem(regs), "DMAC iomem")
        check_partial(dts_of(blob_of(r)), 1)
        g = d.broker("GuestDeviceTree", {"devices": [dmac["path"]], "dom0less": True,
                                         "layout": "auto"})
        check("xen,force-assign-without-iommu" not in dts_of(blob_of(g)),
              "force flag on a protected DMAC")
        # An unprotected UART (SCIF) of the same board, in the dom0less flavour.
        scifs = [x for x in d.broker("ListDevices", {"assignable": True})["devices"]
                 if any(c.startswith("renesas,scif") for c in x["compatible"]) and
                 x["iommu"]["coverage"] != "protected" and not x["group"] and
                 all(i["class"] == "spi" for i in x["interrupts"])]
        if scifs:
            g = d.broker("GuestDeviceTree", {"devices": [scifs[0]["path"]], "dom0less": True,
                                             "force_unprotected": True, "layout": "auto"})
            check("xen,force-assign-without-iommu" in dts_of(blob_of(g)),
                  "no force flag on the unprotected SCIF")


# ---- reservations ---------------------------------------------------------------

def case_reserve_bind_verify_release():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g1", "devices": [SATA, RTC]})
        l = r["lease"]
        check(l["state"] == "reserved" and l["domid"] is None and l["domain"] == "g1",
              "lease %r" % l)
        check(r["expires_at"] == l["expires_at"] and r["expires_at"] > time.time() + 500,
              "default expiry is not about 10 minutes")
        path = r["device_tree"]
        check(path == os.path.join(d.dir, "guests", "g1.dtb"), "DTB at %s" % path)
        check(os.stat(path).st_mode & 0o777 == 0o644, "DTB mode %o" % os.stat(path).st_mode)
        with open(path, "rb") as f:
            check_partial(dts_of(f.read()), 2)
        cfg = r["config"]
        check(cfg_value(cfg, "device_tree") == '"%s"' % path, "device_tree does not name it")
        check(cfg_value(cfg, "passthrough") == '"enabled"', "passthrough missing")
        check(owner3(device(d, SATA)["owner"]) == {"domid": None, "domain": "g1",
                                                 "state": "reserved"},
              "owner while reserved: %r" % device(d, SATA)["owner"])

        # Conflicts while reserved.
        e = expect_error(lambda: d.broker("Reserve", {"domain_name": "g2", "devices": [SATA]}),
                         "DeviceBusy", path=SATA, state="reserved", lease=l["id"])
        check("g1" in e["message"], "DeviceBusy does not name the reservation: %s" % e["message"])
        dom0 = d.sim("CreateDomain", {"name": "other", "passthrough": True})["domid"]
        expect_error(lambda: d.broker("Assign", {"domain": str(dom0), "devices": [RTC]}),
                     "DeviceBusy", path=RTC, state="reserved")
        expect_error(lambda: d.broker("Reserve", {"domain_name": "g1", "devices": [GPIO]}),
                     "ReservationExists", domain="g1", lease=l["id"])
        expect_error(lambda: d.broker("Reserve", {"domain_name": "other", "devices": [GPIO]}),
                     "InvalidArgument", field="domain_name")
        expect_error(lambda: d.broker("Reserve", {"domain_name": "../x", "devices": [GPIO]}),
                     "InvalidArgument", field="domain_name")
        # The generators do not reserve, so they still work on a reserved device.
        d.broker("GuestDeviceTree", {"devices": [SATA]})

        # "xl create": the domain appears with what the fragment grants.
        grants = xl_grants(cfg)
        domid = d.sim("CreateDomain", dict(name="g1", **grants))["domid"]
        st = dom_state(d, domid)
        check(st["nr_spis"] == max(grants["irqs"]) - 32 + 1, "nr_spis is not xl's")
        check(st["irqs"] == [], "xl granted IRQ permissions on Arm")
        l2 = lease(d, l["id"])
        check(l2["state"] == "assigned" and l2["domid"] == domid, "not bound: %r" % l2)
        check(l2["expires_at"] is None, "an assigned lease has an expiry")
        check(all(s["done"] for s in l2["steps"] if s["step"] != "irq_permission"),
              "verified steps not marked done")
        check(device(d, SATA)["owner"]["domid"] == domid, "owner after binding")
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check(any(a["action"] == "ReservationVerified" for a in audit), "no audit entry")

        # Released like any lease; destroying the domain frees the devices.
        rel = d.broker("Release", {"domain": "g1"})["leases"]
        check(rel[0]["state"] == "releasing", "live release: %r" % rel[0]["state"])
        d.sim("DestroyDomain", {"domid": domid})
        check(lease(d, l["id"])["state"] == "free", "not free after destroy")
        check(device(d, SATA)["owner"] is None, "still owned")


def case_reserve_mismatch_fails_loudly():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g3", "devices": [SATA, RTC]})
        lid = r["lease"]["id"]
        # Created without the grants (xl.cfg not used): bound, not verified yet.
        domid = d.sim("CreateDomain", {"name": "g3", "passthrough": False})["domid"]
        l = lease(d, lid)
        check(l["state"] == "reserved" and l["domid"] == domid,
              "a domain still being built must bind and wait: %r" % l)
        e = expect_error(lambda: d.broker("CancelReservation", {"domain_name": "g3"}),
                         "DeviceBusy")
        check("g3" in e["message"], e["message"])
        # Once it runs, what it lacks is a mismatch.
        d.sim("UnpauseDomain", {"domid": domid})
        l = lease(d, lid)
        check(l["state"] == "failed", "mismatch did not fail the lease: %r" % l)
        for what in (SATA, "passthrough", "SPI 4"):
            check(what in l["error"], "mismatch text lacks %s: %s" % (what, l["error"]))
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        bad = [a for a in audit if a["action"] == "ReservationFailed"]
        check(bad and bad[-1]["severity"] == "warning", "not audited as a warning: %r" % bad)
        check("warning" in d.log() and "does not hold" in d.log(), "not logged as a warning")
        check(device(d, SATA)["owner"] is None, "a failed reservation still holds the device")


SATA_MFN = 0x9010      # one page each, 1:1 in the identity layout
RTC_MFN = 0x9003


def holds_pages(dom, mfn):
    """Whether the simulated domain has an iomem permission or a mapping of the page."""
    return (any(r["mfn"] <= mfn < r["mfn"] + r["nr"] for r in dom["iomem"]) or
            any(m["mfn"] <= mfn < m["mfn"] + m["nr"] for m in dom["mappings"]))


def partial_reservation(d, name):
    """Reserve SATA and RTC for name, then "xl create" it from a hand-edited
    xl.cfg that lost the RTC's SPI, and let it run: verification fails on a
    domain that got everything else.  Returns (lease id, domid)."""
    r = d.broker("Reserve", {"domain_name": name, "devices": [SATA, RTC]})
    grants = xl_grants(r["config"])
    grants["irqs"] = [i for i in grants["irqs"] if i != 36]   # RTC's SPI left out
    domid = d.sim("CreateDomain", dict(name=name, **grants))["domid"]
    st = dom_state(d, domid)
    check(holds_pages(st, SATA_MFN) and SATA in st["dt_devices"] and 39 in st["spis"],
          "xl create did not grant what the edited fragment says: %r" % st)
    d.sim("UnpauseDomain", {"domid": domid})
    return r["lease"]["id"], domid


def check_held(d, lid, domid, name):
    """The lease of a domain that took up its reservation in part: revoked in
    the simulator, still holding its devices in the broker."""
    l = lease(d, lid)
    check(l["state"] == "releasing" and l["domid"] == domid,
          "a live domain that holds part of its grants freed its lease: %r" % l)
    mismatch = l["error"].split(";")[0]
    check("INTID 36" in mismatch and SATA not in mismatch,
          "only the missing SPI is a mismatch: %r" % l["error"])
    for what in ("domain %s (domid %d) does not hold" % (name, domid), "revoked",
                 "stay held until it dies"):
        check(what in l["error"], "lease error lacks %r: %s" % (what, l["error"]))
    st = dom_state(d, domid)
    check(not holds_pages(st, SATA_MFN) and not holds_pages(st, RTC_MFN),
          "iomem permission or mapping left with the domain: %r" % st)
    check(st["dt_devices"] == [] and st["irqs"] == [], "IOMMU assignment left: %r" % st)
    check(d.sim("GetState")["state"]["dt_owners"].get(SATA) in (None, 0),
          "SATA is still attached to domain %d" % domid)
    # Only the SPI xl routed stays, until the domain dies; the one it did not was not undone.
    check(st["spis"] == [39], "routed SPIs: %r" % st["spis"])
    steps = {(s["step"], s["device"]): s for s in l["steps"]}
    check(not steps[("bind_spi", RTC)]["done"] and not steps[("bind_spi", RTC)]["undone"],
          "a step xl never made was undone: %r" % steps[("bind_spi", RTC)])
    check(steps[("assign_dt", SATA)]["undone"] and steps[("memory_mapping", RTC)]["undone"],
          "steps not marked undone: %r" % l["steps"])
    for path in (SATA, RTC):
        check(owner3(device(d, path)["owner"]) == {"domid": domid, "domain": name,
                                                   "state": "releasing"},
              "owner of %s: %r" % (path, device(d, path)["owner"]))
    other = d.sim("CreateDomain", {"name": "other-" + name, "passthrough": True})["domid"]
    for path in (SATA, RTC):
        e = expect_error(lambda: d.broker("Assign", {"domain": str(other), "devices": [path]}),
                         "DeviceBusy", path=path, domid=domid, state="releasing", lease=lid)
        check("until that domain is gone" in e["message"], e["message"])
    expect_error(lambda: d.broker("Reserve", {"domain_name": "next-" + name,
                                              "devices": [SATA, RTC]}),
                 "DeviceBusy", path=SATA, state="releasing")
    d.sim("DestroyDomain", {"domid": other})
    return l


def check_freed_after_death(d, lid, domid):
    d.sim("DestroyDomain", {"domid": domid})
    l = lease(d, lid)
    check(l["state"] == "free", "not freed when the domain died: %r" % l)
    check(device(d, SATA)["owner"] is None and device(d, RTC)["owner"] is None,
          "still owned after the domain died")
    dom = d.sim("CreateDomain", {"name": "after", "passthrough": True})["domid"]
    a = d.broker("Assign", {"domain": str(dom), "devices": [SATA, RTC]})
    check(a["lease"]["state"] == "assigned", "not assignable after death: %r" % a["lease"])


def case_reserve_partial_grants_fail():
    with Daemon() as d:
        c = monitor(d)
        try:
            lid, domid = partial_reservation(d, "g6")
            ev = next_event(c, "device-released")
            check(ev["lease"] == lid and ev["state"] == "releasing" and
                  ev["cause"] == "verification-failed" and ev["domid"] == domid and
                  "revoked" in (ev.get("detail") or ""), "event: %r" % ev)
        finally:
            c.close()
        check_held(d, lid, domid, "g6")
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        bad = [a for a in audit if a["action"] == "ReservationFailed"]
        check(len(bad) == 1 and bad[0]["result"] == "VerificationFailed" and
              bad[0]["severity"] == "warning" and "revoked" in bad[0]["detail"] and
              "INTID 36" in bad[0]["detail"], "audit: %r" % bad)
        # Release has nothing more to take back: the lease waits for the domain's end.
        rel = d.broker("Release", {"domain": "g6"})["leases"]
        check([x["state"] for x in rel] == ["releasing"], "Release freed it: %r" % rel)
        # Reconciliation at start-up agrees: the domain lives, so the lease holds.
        d.restart()
        check_held(d, lid, domid, "g6")
        # Dying is not gone: its SPIs can now go, the devices still wait.
        d.sim("KillDomain", {"domid": domid})
        l = lease(d, lid)
        check(l["state"] == "releasing" and dom_state(d, domid)["spis"] == [],
              "dying domain: %r / %r" % (l, dom_state(d, domid)))
        check_freed_after_death(d, lid, domid)


def case_reserve_partial_grants_death_while_down():
    with Daemon() as d:
        lid, domid = partial_reservation(d, "g9")
        check(lease(d, lid)["state"] == "releasing", "not held")
        d.stop()
        d.start()
        check(lease(d, lid)["state"] == "releasing", "reconciliation freed a live domain")
        d.stop()
        # The daemon is not there when the domain goes; start-up frees it.
        state = json.load(open(d.sim_state))
        check(any(x["domid"] == domid for x in state["domains"]), "sim state layout")
        d.start()
        d.sim("DestroyDomain", {"domid": domid})
        d.stop()
        d.start()
        l = lease(d, lid)
        check(l["state"] == "free", "not freed after the domain died: %r" % l)


def case_reserve_partial_grants_undo_fails_once():
    with Daemon() as d:
        # The IOMMU refuses to let go of SATA: kept until death, not retried at every start.
        d.sim("SetFailpoint", {"step": "deassign_dt", "action": "error:EIO"})
        lid, domid = partial_reservation(d, "g10")
        l = lease(d, lid)
        check(l["state"] == "releasing" and "deassign_dt" in l["error"] and
              "EIO" in l["error"] and "stay held until it dies" in l["error"],
              "undo failure not recorded: %r" % l)
        st = dom_state(d, domid)
        check(SATA in st["dt_devices"] and not holds_pages(st, SATA_MFN) and
              not holds_pages(st, RTC_MFN), "the rest was not revoked: %r" % st)
        d.sim("SetFailpoint", {"step": "deassign_dt", "action": "off"})
        d.restart()
        d.broker("ListLeases")
        check(SATA in dom_state(d, domid)["dt_devices"],
              "reconciliation retried a step already given up")
        check(lease(d, lid)["state"] == "releasing", "freed while the domain lives")
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check(not [a for a in audit if a["action"] == "Reconcile" and a["result"] != "ok"],
              "reconciliation failed again: %r" % audit)
        check_freed_after_death(d, lid, domid)


def case_reserve_partial_grants_crash_while_revoking():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g11", "devices": [SATA, RTC]})
        grants = xl_grants(r["config"])
        grants["irqs"] = [i for i in grants["irqs"] if i != 36]
        domid = d.sim("CreateDomain", dict(name="g11", **grants))["domid"]
        d.sim("SetFailpoint", {"step": "unmap:2", "action": "crash-after"})
        # The simulator tells the broker at once, so the crash may end this very call.
        try:
            d.sim("UnpauseDomain", {"domid": domid})
            d.broker("ListLeases")
        except (ConnectionError, OSError, VarlinkError):
            pass
        rc = d.wait_exit()
        check(rc in (137, -9), "daemon did not crash at the failpoint: %r" % rc)
        d.start()
        check_held(d, r["lease"]["id"], domid, "g11")
        check_freed_after_death(d, r["lease"]["id"], domid)


def case_reserve_nothing_granted_fails_free():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g12", "devices": [RTC]})
        domid = d.sim("CreateDomain", {"name": "g12", "passthrough": True})["domid"]
        d.sim("UnpauseDomain", {"domid": domid})
        l = lease(d, r["lease"]["id"])
        check(l["state"] == "failed" and "revoked" not in l["error"],
              "a domain that got nothing keeps the devices: %r" % l)
        other = d.sim("CreateDomain", {"name": "o12", "passthrough": True})["domid"]
        d.broker("Assign", {"domain": str(other), "devices": [RTC]})


def case_reserve_expiry():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g4", "devices": [RTC], "ttl_seconds": 1})
        path = r["device_tree"]
        check(os.path.exists(path), "no DTB written")
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and os.path.exists(path):
            time.sleep(0.2)
        # The timer, not a request, dropped it: the file went without any call.
        check(not os.path.exists(path), "the expired reservation's DTB is still there")
        l = lease(d, r["lease"]["id"])
        check(l["state"] == "free" and "expired" in l["error"], "not expired: %r" % l)
        check(device(d, RTC)["owner"] is None, "expired reservation still holds the device")
        dom = d.sim("CreateDomain", {"name": "late", "passthrough": True})["domid"]
        d.broker("Assign", {"domain": str(dom), "devices": [RTC]})
        expect_error(lambda: d.broker("Reserve", {"domain_name": "g4", "devices": [RTC],
                                                  "ttl_seconds": 0}),
                     "InvalidArgument", field="ttl_seconds")


def case_reserve_expiry_while_down():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g7", "devices": [RTC], "ttl_seconds": 1})
        d.stop()
        time.sleep(1.5)
        d.start()
        l = lease(d, r["lease"]["id"])
        check(l["state"] == "free", "expired while down, still %r" % l["state"])


def case_reserve_survives_restart_and_binds():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g8", "devices": [SATA]})
        d.restart()
        l = lease(d, r["lease"]["id"])
        check(l["state"] == "reserved", "reservation lost over a restart")
        d.sim("CreateDomain", dict(name="g8", **xl_grants(r["config"])))
        check(lease(d, r["lease"]["id"])["state"] == "assigned", "not bound after restart")


def case_cancel():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g5", "devices": [GPIO]})
        c = d.broker("CancelReservation", {"domain_name": "g5"})
        check(c["lease"]["state"] == "free", "cancel: %r" % c["lease"])
        check(not os.path.exists(r["device_tree"]), "cancel left the DTB")
        expect_error(lambda: d.broker("CancelReservation", {"domain_name": "g5"}),
                     "ReservationNotFound", domain="g5")
        r = d.broker("Reserve", {"domain_name": "g5", "devices": [GPIO]})
        c = d.broker("CancelReservation", {"lease": r["lease"]["id"]})
        check(c["lease"]["id"] == r["lease"]["id"] and c["lease"]["state"] == "free",
              "cancel by lease id")
        expect_error(lambda: d.broker("CancelReservation", {}), "InvalidArgument")


def case_sim_xl_create_failure_destroys():
    with Daemon() as d:
        before = len(d.sim("GetState")["state"]["domains"])
        try:
            d.sim("CreateDomain", {"name": "bad", "passthrough": False, "dtdev": [SATA]})
        except VarlinkError as e:
            check("dtdev" in e.parameters.get("message", ""), e.parameters)
        else:
            raise Fail("dtdev on a domain without the IOMMU was accepted")
        check(len(d.sim("GetState")["state"]["domains"]) == before,
              "a failed xl create left its domain behind")
        try:
            d.sim("CreateDomain", {"name": "bad", "passthrough": True, "iomem": ["zz"]})
        except VarlinkError as e:
            check(e.parameters.get("field") == "iomem", e.parameters)
        else:
            raise Fail("a malformed iomem entry was accepted")


def monitor(d):
    c = Connection(d.socket)
    c.send("io.assignd.Broker.Monitor", {}, more=True)
    first = c.recv()
    check("error" not in first and first["parameters"]["event"] is None, "Monitor: %s" % first)
    return c


def next_event(c, type_):
    for _ in range(100):
        m = c.recv()
        check("error" not in m, "Monitor failed: %s" % m)
        ev = m["parameters"]["event"]
        if ev["type"] == type_:
            return ev
    raise Fail("no %s event" % type_)


def case_reservation_events():
    with Daemon() as d:
        c = monitor(d)
        try:
            r = d.broker("Reserve", {"domain_name": "ev1", "devices": [SATA]})
            lid = r["lease"]["id"]
            domid = d.sim("CreateDomain", dict(name="ev1", **xl_grants(r["config"])))["domid"]
            d.broker("ListLeases")
            ev = next_event(c, "reservation-bound")
            check(ev["lease"] == lid and ev["domid"] == domid and ev["domain"] == "ev1" and
                  ev["devices"] == [SATA], "reservation-bound: %r" % ev)
            ev = next_event(c, "device-assigned")
            check(ev["lease"] == lid and ev["domid"] == domid, "device-assigned: %r" % ev)

            r = d.broker("Reserve", {"domain_name": "ev2", "devices": [RTC], "ttl_seconds": 1})
            ev = next_event(c, "reservation-expired")
            check(ev["lease"] == r["lease"]["id"] and ev["domain"] == "ev2" and
                  ev["devices"] == [RTC] and ev["state"] == "free" and "expired" in ev["detail"],
                  "reservation-expired: %r" % ev)

            r = d.broker("Reserve", {"domain_name": "ev3", "devices": [GPIO]})
            d.broker("CancelReservation", {"domain_name": "ev3"})
            ev = next_event(c, "reservation-expired")
            check(ev["lease"] == r["lease"]["id"] and "cancelled" in ev["detail"],
                  "cancel event: %r" % ev)

            r = d.broker("Reserve", {"domain_name": "ev4", "devices": [GPIO]})
            dom = d.sim("CreateDomain", {"name": "ev4", "passthrough": True})["domid"]
            d.sim("UnpauseDomain", {"domid": dom})
            ev = next_event(c, "device-released")
            check(ev["lease"] == r["lease"]["id"] and ev["state"] == "failed" and
                  ev["cause"] == "verification-failed", "failed verification event: %r" % ev)
        finally:
            c.close()


def case_release_leaves_reservations_alone():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "rr", "devices": [GPIO]})
        e = expect_error(lambda: d.broker("Release", {"domain": "rr"}), "NotAssigned")
        check("CancelReservation" in e["message"], e["message"])
        check(lease(d, r["lease"]["id"])["state"] == "reserved", "Release touched a reservation")


def case_release_bound_reservation():
    with Daemon() as d:
        # xl created the domain and has granted part of the devices so far; it has not run.
        r = d.broker("Reserve", {"domain_name": "rb", "devices": [SATA, RTC]})
        lid = r["lease"]["id"]
        grants = xl_grants(r["config"])
        grants["irqs"] = [i for i in grants["irqs"] if i != 36]
        domid = d.sim("CreateDomain", dict(name="rb", **grants))["domid"]
        st = dom_state(d, domid)
        check(holds_pages(st, SATA_MFN), "xl create granted nothing: %r" % st)
        l = lease(d, lid)
        check(l["state"] == "reserved" and l["domid"] == domid, "not bound and waiting: %r" % l)
        # Cancel is refused and says what to do instead; that advice must work.
        e = expect_error(lambda: d.broker("CancelReservation", {"domain_name": "rb"}),
                         "DeviceBusy")
        check("Release" in e["message"], e["message"])
        other = d.sim("CreateDomain", {"name": "orb", "passthrough": True})["domid"]
        e = expect_error(lambda: d.broker("Assign", {"domain": str(other), "devices": [SATA]}),
                         "DeviceBusy", domid=domid, state="reserved")
        check("Release" in e["message"], e["message"])
        rel = d.broker("Release", {"domain": "rb"})["leases"]
        check([x["state"] for x in rel] == ["releasing"], "Release: %r" % rel)
        check("stay held until it dies" in rel[0]["error"], rel[0]["error"])
        st = dom_state(d, domid)
        check(not holds_pages(st, SATA_MFN) and not holds_pages(st, RTC_MFN) and
              st["dt_devices"] == [], "Release left grants: %r" % st)
        expect_error(lambda: d.broker("Assign", {"domain": str(other), "devices": [SATA]}),
                     "DeviceBusy", domid=domid, state="releasing")
        # Running it now changes nothing: the lease is no longer a reservation.
        d.sim("UnpauseDomain", {"domid": domid})
        check(lease(d, lid)["state"] == "releasing", "unpause changed the released lease")
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check(not [a for a in audit if a["action"] == "ReservationFailed"],
              "a released reservation was also failed")
        check_freed_after_death(d, lid, domid)


# ---- assignctl ------------------------------------------------------------------

def case_assignctl_two_commands():
    with Daemon() as d:
        work = tempfile.mkdtemp(prefix="assignctl-guest-")
        try:
            out = os.path.join(work, "g.dtb")
            old = os.umask(0o077)
            try:
                p = d.ctl("dtb", RTC, GPIO, "-o", out, check=True)
            finally:
                os.umask(old)
            check(os.stat(out).st_mode & 0o777 == 0o644, "dtb mode %o" % os.stat(out).st_mode)
            check("note:" in p.stdout and "wrote" in p.stdout, p.stdout)
            with open(out, "rb") as f:
                check_partial(dts_of(f.read()), 2)
            p = d.ctl("dtb", RTC)
            check(p.returncode == 2, "dtb without -o must be a usage error")

            cfgfile = os.path.join(work, "g.cfg")
            dtbfile = os.path.join(work, "xl.dtb")
            d.ctl("xl-config", RTC, GPIO, "--name", "g", "--dtb-out", dtbfile, "-o", cfgfile,
                  check=True)
            with open(cfgfile) as f:
                cfg = f.read()
            check(cfg_value(cfg, "device_tree") == '"%s"' % dtbfile, cfg)
            check(cfg_value(cfg, "irqs") == "[ 35, 36 ]", cfg)
            check(os.path.exists(dtbfile), "--dtb-out wrote nothing")

            p = d.ctl("xl-config", MAILBOX)
            check(p.returncode == 1 and "GuestAddressConflict" in p.stderr, p.stderr)
            p = d.ctl("xl-config", MAILBOX, "--layout", "sideways")
            check(p.returncode == 2, "bad --layout must be a usage error")

            p = d.ctl("imagebuilder", RTC, "--index", "1", "--dtb-out",
                      os.path.join(work, "d1.dtb"), check=True)
            check('DOMU_PASSTHROUGH_DTB[1]="d1.dtb"' in p.stdout, p.stdout)

            # The two-command story: reserve >> NAME.cfg, then "xl create".
            p = d.ctl("reserve", "web", SATA, RTC, "--ttl", "120", check=True)
            check("reserved for domain web" in p.stderr, p.stderr)
            check(cfg_value(p.stdout, "device_tree") ==
                  '"%s"' % os.path.join(d.dir, "guests", "web.dtb"), p.stdout)
            busy = d.ctl("reserve", "db", SATA)
            check(busy.returncode == 1 and "DeviceBusy" in busy.stderr, busy.stderr)
            webcfg = os.path.join(work, "web.cfg")
            with open(webcfg, "w") as f:
                f.write('name = "web"\nmemory = 256\n' + p.stdout)
            c = d.ctl("sim", "create", "web", "--xl-config", webcfg, check=True)
            check("set up as xl would" in c.stdout and 'passthrough="enabled"' in c.stdout,
                  c.stdout)
            ls = d.ctl_json("leases")
            check([l["state"] for l in ls if l["domain"] == "web"] == ["assigned"],
                  "web not assigned: %r" % ls)

            d.ctl("reserve", "later", GPIO, check=True)
            p = d.ctl("cancel", "later", check=True)
            check("cancelled" in p.stdout, p.stdout)
            p = d.ctl("cancel", "later")
            check(p.returncode == 1 and "ReservationNotFound" in p.stderr, p.stderr)
            p = d.ctl("cancel", "--lease", "x")
            check(p.returncode == 2, "cancel --lease x must be a usage error")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run_cases([(n[5:], f) for n, f in sorted(globals().items())
               if n.startswith("case_") and callable(f)])
