# SPDX-License-Identifier: GPL-2.0-or-later
"""Assign and Release through the socket, on the simulated hypervisor.

Every refusal of Assign is made with the simulator's state and the lease
list compared before and after (a refusal must leave nothing behind);
every assign step is failed by a failpoint (each occurrence of each step
in a multi-device plan) and the hypervisor must be back where it was with
the lease failed and its devices free; every release step is failed and
the release carried forward by a second call.  Also: forced assignment and
its audit warning, dry runs, two clients racing for one device, the
release of a live domain's device (held as "releasing" until the domain
dies), and Xen 4.17 vs 4.20 binding SPIs after the domain has run.
"""

import json
import os
import tempfile

from harness import (Daemon, Fail, Skip, VarlinkError, check, run_cases)

SATA = "/soc/sata@9010000"          # protected, SPI 39
DMAC = "/soc/dma-controller@9011000"  # protected, two stream IDs, SPI 40
ETH = "/soc/ethernet@9020000"       # protected, 16 pages
MMC = "/soc/mmc@9030000"            # no IOMMU, DMA master
UART = "/soc/serial@9000000"        # dma none
CONSOLE = "/soc/serial@9001000"     # Xen's console
I2C0 = "/soc/i2c@9004000"           # shares a page with I2C1
I2C1 = "/soc/i2c@9004800"
MAILBOX = "/soc/mailbox@22000000"   # 1:1 clashes with the guest vpl011
SMMU = "/soc/iommu@9050000"

# No irq_permission: on Arm Xen checks dom0's right to the SPI at bind time
# and never reads a guest's IRQ rights (Xen 4.20 has no such domctl there).
ASSIGN_STEPS = ["iomem_permission", "memory_mapping", "assign_dt", "bind_spi"]
RELEASE_STEPS = ["unbind_spi", "deassign_dt", "unmap", "iomem_revoke"]


def state(d):
    return d.sim("GetState")["state"]


def leases(d, all_=True):
    return d.broker("ListLeases", {"all": all_})["leases"]


def create(d, name, passthrough=True, **kw):
    p = {"name": name, "passthrough": passthrough}
    p.update(kw)
    return d.sim("CreateDomain", p)["domid"]


def assign(d, domain, devices, **kw):
    p = {"domain": str(domain), "devices": list(devices)}
    p.update(kw)
    return d.broker("Assign", p)


def release(d, domain, devices=None):
    p = {"domain": str(domain)}
    if devices is not None:
        p["devices"] = list(devices)
    return d.broker("Release", p)["leases"]


def expect_error(fn, name, **fields):
    try:
        fn()
    except VarlinkError as e:
        check(e.name == "io.assignd.Broker." + name or e.name == name,
              "expected %s, got %s: %s" % (name, e.name, e.parameters))
        for k, v in fields.items():
            check(e.parameters.get(k) == v, "%s: %s is %r, expected %r" %
                  (name, k, e.parameters.get(k), v))
        check(e.parameters.get("message"), "%s without a message" % name)
        return e.parameters
    raise Fail("expected %s, the call succeeded" % name)


def domain_of(st, domid):
    for dom in st["domains"]:
        if dom["domid"] == domid:
            return dom
    raise Fail("domain %d not in GetState" % domid)


def resources(dom):
    """What a domain holds, ignoring its lifecycle flags."""
    return {k: dom[k] for k in ("iomem", "mappings", "irqs", "spis", "dt_devices")}


def owner(d, path):
    return d.broker("GetDevice", {"path": path})["device"]["owner"]


def plan_of(d, domid, devices):
    r = assign(d, domid, devices, dry_run=True)
    check(r["lease"] is None, "a dry run returned a lease")
    return r["steps"]


def unchanged(d, fn, what):
    """Run fn (which must raise VarlinkError); nothing may change."""
    st0, l0 = state(d), leases(d)
    try:
        fn()
    except VarlinkError as e:
        st1, l1 = state(d), leases(d)
        check(st0 == st1, "%s changed the hypervisor state" % what)
        check(l0 == l1, "%s changed the leases" % what)
        return e
    raise Fail("%s succeeded" % what)


# ---- the happy path ----------------------------------------------------------

def test_assign_release_basic():
    with Daemon() as d:
        dom = create(d, "guest1")
        before = resources(domain_of(state(d), dom))
        r = assign(d, "guest1", [SATA])
        lease = r["lease"]
        check(lease["state"] == "assigned", "lease is %s" % lease["state"])
        check(lease["domid"] == dom and lease["domain"] == "guest1", "lease names the domain")
        check(all(s["done"] for s in lease["steps"]), "every step done")
        names = [s["step"] for s in lease["steps"]]
        check(names == ASSIGN_STEPS, "plan order %s" % names)
        hv = domain_of(state(d), dom)
        check(hv["iomem"] == [{"mfn": 0x9010, "nr": 1}], "iomem %s" % hv["iomem"])
        check(hv["mappings"] == [{"gfn": 0x9010, "mfn": 0x9010, "nr": 1}], "1:1 mapping")
        check(hv["irqs"] == [] and hv["spis"] == [39], "SPI 7 is IRQ 39, bound without "
              "a guest IRQ right: %r" % hv)
        check(hv["dt_devices"] == [SATA], "IOMMU assignment")
        check(state(d)["dt_owners"].get(SATA) == dom, "dt owner")
        o = owner(d, SATA)
        check(o["domid"] == dom and o["domain"] == "guest1" and o["state"] == "assigned" and
              o["origin"] == "request" and not o["standing"], "owner %s" % o)
        listed = d.broker("ListDevices", {"owner": "guest1"})["devices"]
        check([x["path"] for x in listed] == [SATA], "ListDevices owner filter")

        # Dying domain: everything goes at once.
        d.sim("KillDomain", {"domid": dom})
        out = release(d, dom)
        check(out[0]["state"] == "free", "released lease is %s" % out[0]["state"])
        check(resources(domain_of(state(d), dom)) == before, "hypervisor back to before")
        check(owner(d, SATA) is None, "no owner after release")
        check(leases(d, False) == [], "no active lease")


def test_assign_by_domid_and_auto_layout():
    with Daemon() as d:
        dom = create(d, "g")
        r = assign(d, dom, [MAILBOX], layout="auto")
        maps = domain_of(state(d), dom)["mappings"]
        check(len(maps) == 1 and maps[0]["mfn"] == 0x22000 and maps[0]["gfn"] != 0x22000,
              "mailbox relocated: %s" % maps)
        check(r["lease"]["layout"] == "auto", "layout recorded")


def test_dry_run_makes_no_call():
    with Daemon() as d:
        dom = create(d, "g")
        st0 = state(d)
        steps = plan_of(d, dom, [SATA, DMAC, UART])
        check(state(d) == st0, "dry run changed the hypervisor")
        check(leases(d) == [], "dry run made a lease")
        check(steps and not any(s["done"] for s in steps), "dry-run steps are not done")
        names = [s["step"] for s in steps]
        # Bindings come last: the one step a live domain cannot give back.
        first_bind = names.index("bind_spi")
        check(all(n == "bind_spi" for n in names[first_bind:]), "binds last: %s" % names)
        check(names.count("bind_spi") == 3 and names.count("assign_dt") == 2, "%s" % names)
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check(not any(a["action"] == "Assign" for a in audit), "a dry run is not a write")


# ---- refusals -----------------------------------------------------------------

def test_refusals_leave_nothing_behind():
    with Daemon() as d:
        dom = create(d, "guest1")
        noiommu = create(d, "noiommu", passthrough=False)
        other = create(d, "other")
        assign(d, other, [UART])
        dying = create(d, "dying")
        d.sim("KillDomain", {"domid": dying})
        # A PPI-only device made assignable by policy, to reach the interrupt check.
        d.broker("SetDevicePolicy", {"path": "/timer", "assignable": True, "note": "test"})

        cases = [
            ("DeviceNotFound", [("/soc/nothing@0",)], {}, {"path": "/soc/nothing@0"}),
            ("DeviceNotAssignable", [(CONSOLE,)], {}, {"path": CONSOLE}),
            ("DeviceNotAssignable", [(SMMU,)], {}, {"path": SMMU}),
            ("DeviceBusy", [(UART,)], {}, {"path": UART, "domid": other,
                                           "state": "assigned"}),
            ("GroupIncomplete", [(I2C0,)], {}, {"path": I2C0, "missing": [I2C1]}),
            ("InterruptNotRoutable", [("/timer",)], {}, {"path": "/timer"}),
            ("UnprotectedDevice", [(MMC,)], {}, {"path": MMC, "coverage": "none",
                                                 "dma": "master"}),
            ("GuestAddressConflict", [(MAILBOX,)], {}, {"path": MAILBOX}),
            ("InvalidArgument", [(UART, UART)], {}, {"field": "devices"}),
            ("InvalidArgument", [(SATA,)], {"layout": "sideways"}, {"field": "layout"}),
        ]
        n = 0
        for name, (devs,), extra, fields in cases:
            e = unchanged(d, lambda: assign(d, dom, devs, **extra), "%s %s" % (name, devs))
            check(e.name.endswith("." + name), "%s: got %s %s" % (devs, e.name, e.parameters))
            for k, v in fields.items():
                check(e.parameters.get(k) == v, "%s: %s=%r, expected %r" %
                      (name, k, e.parameters.get(k), v))
            n += 1
        # The order: a device that is both busy and in an incomplete group is busy first.
        e = unchanged(d, lambda: assign(d, dom, [UART, I2C0]), "busy before group")
        check(e.name.endswith("DeviceBusy"), "busy is checked before groups")
        e = unchanged(d, lambda: assign(d, "nosuch", [SATA]), "unknown domain")
        check(e.name.endswith("DomainNotFound"), e.name)
        e = unchanged(d, lambda: assign(d, 77, [SATA]), "unknown domid")
        check(e.name.endswith("DomainNotFound"), e.name)
        e = unchanged(d, lambda: assign(d, dying, [SATA]), "dying domain")
        check(e.name.endswith("DomainNotFound") and "dying" in e.parameters["message"],
              "dying: %s" % e.parameters)
        e = unchanged(d, lambda: assign(d, noiommu, [SATA]), "no IOMMU")
        check(e.name.endswith("IommuNotEnabled") and
              'passthrough="enabled"' in e.parameters["message"], "%s" % e.parameters)
        # An unprotected device that does no DMA goes to a domain without the IOMMU.
        assign(d, noiommu, [I2C0, I2C1])
        gac = unchanged(d, lambda: assign(d, dom, [MAILBOX]), "guest clash")
        check("22000000" in gac.parameters["message"].lower() or
              "pl011" in gac.parameters["message"].lower(),
              "the clash names Xen's region: %s" % gac.parameters["message"])
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        refused = [a for a in audit if a["action"] == "Assign" and a["result"] != "ok"]
        check(len(refused) >= n, "refusals are audited (%d)" % len(refused))
        print("   %d refusals checked" % (n + 7))


def test_force_unprotected():
    with Daemon() as d:
        dom = create(d, "g")
        r = assign(d, dom, [MMC], force_unprotected=True)
        check(r["lease"]["forced"], "lease marked forced")
        check(domain_of(state(d), dom)["dt_devices"] == [], "no IOMMU step for it")
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        warn = [a for a in audit if a["severity"] == "warning" and MMC in (a["target"] or "")]
        check(warn, "forced assignment audited as a warning naming the device")
        check("forced assignment" in d.log(), "and logged")
        # Protected devices go through the IOMMU, force or not.
        r = assign(d, dom, [SATA], force_unprotected=True)
        check(r["lease"]["forced"] is False, "nothing forced for a protected device")
        check(SATA in domain_of(state(d), dom)["dt_devices"], "IOMMU used")


def test_forbid_force():
    with Daemon(extra_args=["--forbid-force"]) as d:
        dom = create(d, "g")
        e = unchanged(d, lambda: assign(d, dom, [MMC], force_unprotected=True), "forbidden")
        check(e.name.endswith("UnprotectedDevice") and "forbid-force" in e.parameters["message"],
              "%s" % e.parameters)


# ---- rollback -----------------------------------------------------------------

def test_assign_rollback_every_step():
    """Each occurrence of each assign step fails once; nothing may remain."""
    with Daemon() as d:
        dom = create(d, "g")
        devices = [SATA, DMAC, UART, ETH]
        plan = plan_of(d, dom, devices)
        st0 = state(d)
        counts = {}
        cases = 0
        for i, s in enumerate(plan):
            counts[s["step"]] = counts.get(s["step"], 0) + 1
            nth = counts[s["step"]]
            d.sim("SetFailpoint", {"step": "%s:%d" % (s["step"], nth), "action": "error:EIO"})
            try:
                e = expect_error(lambda: assign(d, dom, devices), "HypervisorError",
                                 step=s["step"], device=s["device"], errno=5, errno_name="EIO")
            finally:
                d.sim("SetFailpoint", {"step": s["step"], "action": "off"})
            lid = e["lease"]
            lease = [l for l in leases(d) if l["id"] == lid][0]
            if s["step"] == "bind_spi" and nth > 1:
                # An earlier SPI stays routed to the live domain: held until it dies.
                check(lease["state"] == "releasing", "lease %s" % lease["state"])
                hv = domain_of(state(d), dom)
                check(hv["iomem"] == [] and hv["mappings"] == [] and hv["irqs"] == [] and
                      hv["dt_devices"] == [], "all but SPIs undone: %s" % hv)
                check(len(hv["spis"]) == nth - 1, "the bound SPIs stay")
                check("releasing" in e["message"] or "live" in e["message"], e["message"])
                # Let that domain die and start again with a fresh one.
                d.sim("DestroyDomain", {"domid": dom})
                check(leases(d, False) == [], "leases of the dead domain are free")
                dom = create(d, "g%d" % i)
                st0 = state(d)
            else:
                check(lease["state"] == "failed", "lease %s: %s" % (lid, lease["state"]))
                check(lease["error"], "error recorded")
                check(state(d) == st0, "rollback after %s:%d left the hypervisor changed" %
                      (s["step"], nth))
                for p in devices:
                    check(owner(d, p) is None, "%s still owned" % p)
            cases += 1
        r = assign(d, dom, devices)
        check(r["lease"]["state"] == "assigned", "assign works after the failures")
        print("   %d assign steps failed and rolled back" % cases)


def test_iommu_error_from_hypervisor():
    """The backend cannot always know the domain lacks the IOMMU: assign_dt says so."""
    with Daemon() as d:
        dom = create(d, "g")
        st0 = state(d)
        d.sim("SetFailpoint", {"step": "assign_dt", "action": "error:EBUSY"})
        e = expect_error(lambda: assign(d, dom, [SATA]), "HypervisorError", step="assign_dt",
                         errno_name="EBUSY", reason="failpoint")
        d.sim("SetFailpoint", {"step": "assign_dt", "action": "off"})
        check(state(d) == st0, "rolled back")


def test_release_failure_every_step():
    """A failing release step leaves the lease releasing; Release again finishes it."""
    with Daemon() as d:
        devices = [SATA, UART]
        cases = 0
        for step in RELEASE_STEPS:
            dom = create(d, "r-" + step)
            st0 = resources(domain_of(state(d), dom))
            assign(d, dom, devices)
            d.sim("KillDomain", {"domid": dom})
            d.sim("SetFailpoint", {"step": step, "action": "error:EIO"})
            try:
                e = expect_error(lambda: release(d, dom), "HypervisorError", step=step,
                                 errno_name="EIO")
                # Still failing: the lease is held (requests retry it, and fail again).
                ls = [l for l in leases(d) if l["id"] == e["lease"]]
                check(ls and ls[0]["state"] == "releasing", "lease held as releasing")
                for p in devices:
                    check(owner(d, p)["state"] == "releasing", "%s held while releasing" % p)
            finally:
                d.sim("SetFailpoint", {"step": step, "action": "off"})
            out = release(d, dom)
            check(out[0]["state"] == "free", "carried forward to free")
            check(resources(domain_of(state(d), dom)) == st0,
                  "after %s the hypervisor holds nothing" % step)
            d.sim("DestroyDomain", {"domid": dom})
            cases += 1
        print("   %d release steps failed and carried forward" % cases)


# ---- live release, concurrency, versions ---------------------------------------

def test_release_live_domain():
    with Daemon() as d:
        a = create(d, "a")
        b = create(d, "b")
        assign(d, a, [UART, SATA])
        d.sim("UnpauseDomain", {"domid": a})
        out = release(d, "a", [SATA, UART])
        check(out[0]["state"] == "releasing", "live release is %s" % out[0]["state"])
        hv = domain_of(state(d), a)
        check(hv["iomem"] == [] and hv["mappings"] == [] and hv["irqs"] == [] and
              hv["dt_devices"] == [], "MMIO, permissions and IOMMU gone at once: %s" % hv)
        check(sorted(hv["spis"]) == [33, 39], "SPIs stay routed: %s" % hv["spis"])
        e = expect_error(lambda: assign(d, b, [UART]), "DeviceBusy", state="releasing")
        check("dying" in e["message"], "DeviceBusy says why: %s" % e["message"])
        d.sim("DestroyDomain", {"domid": a})
        ls = leases(d)
        check(ls[0]["state"] == "free", "free once the domain is gone: %s" % ls[0]["state"])
        r = assign(d, b, [UART])
        check(r["lease"]["state"] == "assigned", "reassignable")


def test_release_partial_lease_and_unknown():
    with Daemon() as d:
        a = create(d, "a")
        assign(d, a, [I2C0, I2C1])
        expect_error(lambda: release(d, a, [I2C0]), "GroupIncomplete", missing=[I2C1])
        expect_error(lambda: release(d, a, [UART]), "NotAssigned")
        expect_error(lambda: release(d, a, ["/nope"]), "DeviceNotFound")
        b = create(d, "b")
        expect_error(lambda: release(d, b), "NotAssigned")


def test_release_after_domain_destroyed():
    with Daemon() as d:
        a = create(d, "a")
        assign(d, a, [SATA])
        d.sim("DestroyDomain", {"domid": a})
        check(owner(d, SATA) is None, "the owner goes with the domain")
        b = create(d, "b")
        r = assign(d, b, [SATA])
        check(r["lease"]["state"] == "assigned", "reassigned")


def test_concurrent_assign():
    with Daemon() as d:
        a = create(d, "a")
        b = create(d, "b")
        wins = busy = 0
        for round_ in range(5):
            c1, c2 = d.connect(), d.connect()
            try:
                for c, dom in ((c1, a), (c2, b)):
                    c.send("io.assignd.Broker.Assign",
                           {"domain": str(dom), "devices": [SATA]})
                replies = [c1.recv(), c2.recv()]
            finally:
                c1.close()
                c2.close()
            ok = [r for r in replies if "error" not in r]
            errs = [r for r in replies if "error" in r]
            check(len(ok) == 1 and len(errs) == 1, "exactly one wins: %s" % replies)
            check(errs[0]["error"] == "io.assignd.Broker.DeviceBusy", errs[0]["error"])
            winner = ok[0]["parameters"]["lease"]["domid"]
            check(state(d)["dt_owners"][SATA] == winner, "the hypervisor agrees")
            wins += 1
            busy += 1
            d.sim("KillDomain", {"domid": winner})
            release(d, winner)
            d.sim("DestroyDomain", {"domid": winner})
            newdom = create(d, "n%d" % round_)
            if winner == a:
                a = newdom
            else:
                b = newdom
        print("   %d races: one winner, one DeviceBusy each" % wins)


def bind_after_run(version):
    with Daemon(sim_xen_version=version) as d:
        dom = create(d, "g")
        d.sim("UnpauseDomain", {"domid": dom})
        st0 = state(d)
        try:
            r = assign(d, dom, [UART])
        except VarlinkError as e:
            check(state(d) == st0, "rolled back")
            return e
        return r


def test_bind_after_unpause_417_vs_420():
    e = bind_after_run("4.17")
    check(isinstance(e, VarlinkError) and e.name.endswith("HypervisorError"), "4.17 refuses")
    check(e.parameters["step"] == "bind_spi" and e.parameters["errno_name"] == "EBUSY" and
          e.parameters["reason"] == "spi-domain-has-run", "%s" % e.parameters)
    r = bind_after_run("4.20")
    check(isinstance(r, dict) and r["lease"]["state"] == "assigned", "4.20 binds after run")


def test_domain_being_built():
    """A domain xl has created but not given its vCPUs yet (an SPI call on it
    crashes Xen 4.17): Assign refuses it with DomainNotReady before any
    hypercall, and assigns once the domain is built."""
    with Daemon() as d:
        dom = create(d, "b", building=True)
        check(domain_of(state(d), dom)["building"], "GetState shows the domain building")
        e = unchanged(d, lambda: assign(d, "b", [SATA]), "Assign to a domain being built")
        check(e.name == "io.assignd.Broker.DomainNotReady", "got %s %s" % (e.name, e.parameters))
        check(e.parameters.get("domain") == "b" and e.parameters.get("domid") == dom,
              "the refusal names the domain: %s" % e.parameters)
        check("vCPU" in e.parameters.get("message", ""), "the message says why")
        check(owner(d, SATA) is None, "nobody holds the device")
        d.sim("FinishBuilding", {"domid": dom})
        r = assign(d, "b", [SATA])
        check(r["lease"]["state"] == "assigned", "assigned once built")
        check(domain_of(state(d), dom)["spis"] == [39], "SPI bound once built")


def test_audit_log():
    with Daemon() as d:
        a = create(d, "a")
        assign(d, a, [UART])
        try:
            assign(d, a, [MMC])
        except VarlinkError:
            pass
        log = d.broker("GetAuditLog", {"limit": 2})["entries"]
        check(len(log) == 2, "limit")
        check(log[0]["action"] == "Assign" and log[0]["result"] == "ok" and
              log[0]["uid"] == os.getuid() and log[0]["pid"] > 0, "%s" % log[0])
        check(log[1]["result"] == "UnprotectedDevice" and MMC in log[1]["target"], "%s" % log[1])


def test_assignctl_commands():
    with Daemon() as d:
        p = d.ctl("sim", "create", "g1", check=True)
        check("domid 1" in p.stdout, p.stdout)
        p = d.ctl("assign", "g1", SATA, "--dry-run", check=True)
        check("dry run" in p.stdout and "bind_spi" in p.stdout, p.stdout)
        check(leases(d) == [], "dry run from assignctl made a lease")
        p = d.ctl("assign", "g1", MMC)
        check(p.returncode == 1 and "UnprotectedDevice" in p.stderr, p.stderr)
        p = d.ctl("assign", "g1", SATA, UART, check=True)
        check("lease 1" in p.stdout, p.stdout)
        ls = d.ctl_json("leases")
        check(len(ls) == 1 and ls[0]["state"] == "assigned", "%s" % ls)
        p = d.ctl("leases", check=True)
        check("assigned" in p.stdout and SATA in p.stdout, p.stdout)
        p = d.ctl("release", "g1", check=True)
        check("releasing" in p.stdout, p.stdout)
        d.ctl("sim", "destroy", "1", check=True)
        check(d.ctl_json("leases", "--all")[0]["state"] == "free", "free after destroy")
        p = d.ctl("audit", "--limit", "0", check=True)
        check("UnprotectedDevice" in p.stdout and "Release" in p.stdout, p.stdout)
        st = json.loads(d.ctl("sim", "state", check=True).stdout)
        check("domains" in st, "sim state prints the state")
        p = d.ctl("assign", "g1", SATA, "--layout", "sideways")
        check(p.returncode == 2, "usage error: %d" % p.returncode)


def test_simulator_errors():
    with Daemon() as d:
        create(d, "x")

        def sim_error(method, params, error, **fields):
            try:
                d.sim(method, params)
            except VarlinkError as e:
                check(e.name == "io.assignd.Simulator." + error, "%s: got %s %s" %
                      (method, e.name, e.parameters))
                for k, v in fields.items():
                    check(e.parameters.get(k) == v, "%s: %s=%r" % (error, k, e.parameters.get(k)))
                return
            raise Fail("%s %s succeeded" % (method, params))

        sim_error("DestroyDomain", {"domid": 99}, "DomainNotFound", domid=99)
        sim_error("UnpauseDomain", {"domid": 99}, "DomainNotFound", domid=99)
        sim_error("CreateDomain", {"name": "x", "passthrough": True}, "DomainExists", name="x")
        sim_error("SetFailpoint", {"step": "nope", "action": "off"}, "InvalidArgument",
                  field="step")
        sim_error("SetFailpoint", {"step": "unmap", "action": "explode"}, "InvalidArgument",
                  field="action")
        sim_error("CreateDomain", {"name": "z", "passthrough": True, "building": True,
                                   "irqs": [39]}, "InvalidArgument", field="building")
        sim_error("CreateDomain", {"name": "y", "passthrough": True, "nr_spis": 5000},
                  "InvalidArgument", field="nr_spis")
        sim_error("DestroyDomain", {"domid": 0}, "SimulatorError", errno="EPERM")


if __name__ == "__main__":
    if os.getuid() != 0:
        # Assign, Release and the simulator are root-only methods.
        print("SKIP: the assignment methods need root (uid %d)" % os.getuid())
        print("0 passed, 0 failed, 1 skipped")
        raise SystemExit(77)
    run_cases([
        ("assign and release", test_assign_release_basic),
        ("domid, auto layout", test_assign_by_domid_and_auto_layout),
        ("dry run", test_dry_run_makes_no_call),
        ("refusals leave nothing behind", test_refusals_leave_nothing_behind),
        ("force_unprotected", test_force_unprotected),
        ("--forbid-force", test_forbid_force),
        ("rollback at every assign step", test_assign_rollback_every_step),
        ("hypervisor error on assign_dt", test_iommu_error_from_hypervisor),
        ("release failure at every step", test_release_failure_every_step),
        ("release of a live domain", test_release_live_domain),
        ("partial and unknown releases", test_release_partial_lease_and_unknown),
        ("domain destroyed under a lease", test_release_after_domain_destroyed),
        ("two clients race", test_concurrent_assign),
        ("bind after unpause: 4.17 vs 4.20", test_bind_after_unpause_417_vs_420),
        ("a domain still being built", test_domain_being_built),
        ("audit log", test_audit_log),
        ("assignctl commands", test_assignctl_commands),
        ("simulator errors", test_simulator_errors),
    ])
