# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash recovery: kill the daemon at every hypercall step and restart it.

For each step of an assignment (every occurrence of every step in a
multi-device plan) and of a release (on a dying domain, where every step
succeeds, and on a live one), and for both crash-before (the daemon exits
before the hypercall) and crash-after (right after it succeeded, before
the step is recorded), the daemon is crashed by a failpoint, restarted, and
then:
  - no lease is left "assigning": an interrupted assignment is rolled back,
    or, once an SPI of it is bound to the live domain (which cannot give it
    back), rolled forward to "assigned";
  - the leases and the simulator's GetState agree: an assigned lease's
    devices hold exactly their plan in the hypervisor, a device no lease
    holds has nothing there, a releasing lease holds only routed SPIs;
  - every device has at most one owner, in the database and in Xen;
  - a second restart changes nothing (reconciliation is idempotent);
  - the devices can be assigned again once their domain is gone.
The simulator's state file is what survives the crash, as Xen's state does.
"""

import json
import os

from harness import Daemon, Fail, VarlinkError, check, run_cases

SATA = "/soc/sata@9010000"
DMAC = "/soc/dma-controller@9011000"
UART = "/soc/serial@9000000"
DEVICES = [SATA, DMAC, UART]
RELEASE_STEPS = ["unbind_spi", "deassign_dt", "irq_revoke", "unmap", "iomem_revoke"]
UNDO = {"iomem_permission": "iomem_revoke", "memory_mapping": "unmap",
        "irq_permission": "irq_revoke", "bind_spi": "unbind_spi", "assign_dt": "deassign_dt"}

COUNT = {"cases": 0, "recoveries": 0}


def state(d):
    return d.sim("GetState")["state"]


def all_leases(d):
    return d.broker("ListLeases", {"all": True})["leases"]


def frames(ranges):
    s = set()
    for r in ranges:
        s.update(range(r["mfn"], r["mfn"] + r["nr"]))
    return s


def step_present(dom, s):
    """Whether the hypervisor holds what plan step s makes."""
    if s["step"] == "iomem_permission":
        return set(range(s["mfn"], s["mfn"] + s["nr"])) <= frames(dom["iomem"])
    if s["step"] == "memory_mapping":
        return set(range(s["mfn"], s["mfn"] + s["nr"])) <= frames(dom["mappings"])
    if s["step"] == "irq_permission":
        return s["irq"] in dom["irqs"]
    if s["step"] == "bind_spi":
        return s["irq"] in dom["spis"]
    if s["step"] == "assign_dt":
        return s["device"] in dom["dt_devices"]
    raise Fail("unknown step %s" % s["step"])


def step_absent(dom, s):
    if s["step"] in ("iomem_permission", "memory_mapping"):
        key = "iomem" if s["step"] == "iomem_permission" else "mappings"
        return not (set(range(s["mfn"], s["mfn"] + s["nr"])) & frames(dom[key]))
    return not step_present(dom, s)


def check_consistent(d, plan, what):
    """The invariants after a recovery; returns the leases."""
    st = state(d)
    ls = all_leases(d)
    doms = {x["domid"]: x for x in st["domains"]}
    active = [l for l in ls if l["state"] not in ("free", "failed")]
    check(not any(l["state"] == "assigning" for l in ls), "%s: a lease is still assigning" %
          what)
    # At most one active lease per device (the database's guard, checked from outside).
    held = {}
    for l in active:
        for p in l["devices"]:
            check(p not in held, "%s: %s held by leases %s and %s" % (what, p, held.get(p),
                                                                       l["id"]))
            held[p] = l
    # Xen's IOMMU owner agrees with the owner of record.
    for p, domid in st["dt_owners"].items():
        if domid is None or domid not in doms:
            continue
        check(p in held and held[p]["domid"] == domid and held[p]["state"] == "assigned",
              "%s: Xen gives %s to %d but the leases say %s" % (what, p, domid,
                                                              held.get(p)))
    for s in plan:
        lease = held.get(s["device"])
        for domid, dom in doms.items():
            if domid == 0:
                continue
            mine = lease is not None and lease["domid"] == domid
            if mine and lease["state"] == "assigned":
                check(step_present(dom, s), "%s: assigned but %s %s missing" %
                      (what, s["step"], s["device"]))
            elif mine and lease["state"] == "releasing" and s["step"] == "bind_spi":
                pass    # may stay routed until the domain dies
            else:
                check(step_absent(dom, s), "%s: domain %d holds %s of %s, lease %s" %
                      (what, domid, s["step"], s["device"], lease and lease["state"]))
    # What a device's owner sees through GetDevice is the same lease.
    for p in DEVICES:
        o = d.broker("GetDevice", {"path": p})["device"]["owner"]
        if p in held:
            check(o and o["domid"] == held[p]["domid"] and o["state"] == held[p]["state"],
                  "%s: GetDevice owner %s" % (what, o))
        else:
            check(o is None, "%s: %s has owner %s but no lease" % (what, p, o))
    return ls


def crash_call(d, method, params):
    """Make a call the daemon crashes in; returns its exit status."""
    c = d.connect()
    try:
        c.send(method, params)
        raw = c.recv_raw()
    finally:
        c.close()
    rc = d.wait_exit()
    check(rc == 137, "the daemon exited with %s, not the failpoint's 137 (reply %r)" %
          (rc, raw[:200]))
    return rc


def recover(d, plan, what):
    d.start()
    COUNT["recoveries"] += 1
    st1, ls1 = state(d), check_consistent(d, plan, what)
    # Idempotent: a second start-up changes nothing.
    d.restart()
    COUNT["recoveries"] += 1
    check(state(d) == st1, "%s: second recovery changed the hypervisor" % what)
    ls2 = all_leases(d)
    check([(l["id"], l["state"]) for l in ls2] == [(l["id"], l["state"]) for l in ls1],
          "%s: second recovery changed the leases" % what)
    return ls1


def reusable(d, domid, plan, what):
    """Once the domain is gone, every device can be assigned again."""
    d.sim("DestroyDomain", {"domid": domid})
    check(not [l for l in all_leases(d) if l["state"] not in ("free", "failed")],
          "%s: leases survive their domain" % what)
    n = d.sim("CreateDomain", {"name": "again", "passthrough": True})["domid"]
    r = d.broker("Assign", {"domain": str(n), "devices": DEVICES})
    check(r["lease"]["state"] == "assigned", "%s: not reassignable" % what)
    check_consistent(d, plan, what + " (reassigned)")


def occurrences(plan):
    counts = {}
    for s in plan:
        counts[s["step"]] = counts.get(s["step"], 0) + 1
        yield s, counts[s["step"]]


def get_plan():
    with Daemon() as d:
        dom = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
        return d.broker("Assign", {"domain": str(dom), "devices": DEVICES,
                                   "dry_run": True})["steps"]


def test_crash_during_assign():
    plan = get_plan()
    n = 0
    for s, nth in occurrences(plan):
        for action in ("crash-before", "crash-after"):
            what = "assign %s:%d %s" % (s["step"], nth, action)
            with Daemon() as d:
                dom = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
                st0 = state(d)
                d.sim("SetFailpoint", {"step": "%s:%d" % (s["step"], nth), "action": action})
                crash_call(d, "io.assignd.Broker.Assign", {"domain": "g", "devices": DEVICES})
                ls = recover(d, plan, what)
                check(len(ls) == 1, "%s: one lease" % what)
                bound = any(x["step"] == "bind_spi" for x in plan[:plan.index(s)]) or \
                    (s["step"] == "bind_spi" and action == "crash-after")
                if bound:
                    # An SPI reached the live domain, which cannot give it back: the
                    # assignment is rolled forward (check_consistent checked that the
                    # domain holds every step of it).
                    check(ls[0]["state"] == "assigned", "%s: lease %s" % (what, ls[0]["state"]))
                else:
                    check(ls[0]["state"] == "failed", "%s: lease %s" % (what, ls[0]["state"]))
                    check(state(d) == st0, "%s: hypervisor not back to before" % what)
                reusable(d, dom, plan, what)
            n += 1
            COUNT["cases"] += 1
    print("   %d assign crash cases (%d steps x 2)" % (n, len(plan)))


def release_plan_order(plan):
    """The release-side calls a release of a dying domain makes, in order."""
    return [(UNDO[s["step"]], s) for s in reversed(plan)]


def test_crash_during_release():
    plan = get_plan()
    calls = release_plan_order(plan)
    n = 0
    for live in (False, True):
        counts = {}
        for step, s in calls:
            counts[step] = counts.get(step, 0) + 1
            nth = counts[step]
            for action in ("crash-before", "crash-after"):
                if live and step == "unbind_spi" and action == "crash-after":
                    continue    # never succeeds on a live domain: nothing to crash after
                what = "%s release %s:%d %s" % ("live" if live else "dying", step, nth, action)
                with Daemon() as d:
                    dom = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
                    st0 = state(d)
                    d.broker("Assign", {"domain": "g", "devices": DEVICES})
                    if not live:
                        d.sim("KillDomain", {"domid": dom})
                    d.sim("SetFailpoint", {"step": "%s:%d" % (step, nth), "action": action})
                    crash_call(d, "io.assignd.Broker.Release", {"domain": str(dom)})
                    ls = recover(d, plan, what)
                    if live:
                        check(ls[0]["state"] == "releasing", "%s: %s" % (what, ls[0]["state"]))
                        hv = [x for x in state(d)["domains"] if x["domid"] == dom][0]
                        check(hv["iomem"] == [] and hv["mappings"] == [] and
                              hv["irqs"] == [] and hv["dt_devices"] == [],
                              "%s: only SPIs may remain: %s" % (what, hv))
                    else:
                        check(ls[0]["state"] == "free", "%s: %s" % (what, ls[0]["state"]))
                        st = state(d)
                        hv = [x for x in st["domains"] if x["domid"] == dom][0]
                        h0 = [x for x in st0["domains"] if x["domid"] == dom][0]
                        for k in ("iomem", "mappings", "irqs", "spis", "dt_devices"):
                            check(hv[k] == h0[k], "%s: %s left behind" % (what, k))
                    reusable(d, dom, plan, what)
                n += 1
                COUNT["cases"] += 1
    print("   %d release crash cases" % n)


def test_crash_during_rollback():
    """An assignment fails, and the daemon crashes while undoing it."""
    plan = get_plan()
    fail_at = [s for s, nth in occurrences(plan) if s["step"] == "assign_dt"][-1]
    done = plan[:plan.index(fail_at)]
    n = 0
    counts = {}
    for s in reversed(done):
        step = UNDO[s["step"]]
        counts[step] = counts.get(step, 0) + 1
        for action in ("crash-before", "crash-after"):
            what = "rollback %s:%d %s" % (step, counts[step], action)
            with Daemon() as d:
                dom = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
                st0 = state(d)
                d.sim("SetFailpoint", {"step": "assign_dt:2", "action": "error:EIO"})
                d.sim("SetFailpoint", {"step": "%s:%d" % (step, counts[step]),
                                       "action": action})
                crash_call(d, "io.assignd.Broker.Assign", {"domain": "g", "devices": DEVICES})
                ls = recover(d, plan, what)
                check(ls[0]["state"] == "failed", "%s: %s" % (what, ls[0]["state"]))
                check(state(d) == st0, "%s: hypervisor not back to before" % what)
                reusable(d, dom, plan, what)
            n += 1
            COUNT["cases"] += 1
    print("   %d crash-in-rollback cases" % n)


def test_domain_died_while_down():
    plan = get_plan()
    with Daemon() as d:
        dom = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
        d.broker("Assign", {"domain": "g", "devices": DEVICES})
        d.kill9()
        # Xen destroyed it while the daemon was down: drop it from the simulator's state
        # file, as Xen drops a destroyed domain's permissions, mappings, SPIs and devices.
        with open(d.sim_state) as f:
            st = json.load(f)
        before = len(st["domains"])
        st["domains"] = [x for x in st["domains"] if x["domid"] != dom]
        check(len(st["domains"]) == before - 1, "the state file has the domain")
        with open(d.sim_state, "w") as f:
            json.dump(st, f)
        d.start()
        ls = check_consistent(d, plan, "died while down")
        check(ls[0]["state"] == "free", "lease of a dead domain: %s" % ls[0]["state"])
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check(any(a["action"] == "Reconcile" and "gone" in (a["detail"] or "") for a in audit),
              "the reconciliation is audited")


def test_summary():
    print("   %d crash cases, %d recoveries checked" % (COUNT["cases"], COUNT["recoveries"]))
    check(COUNT["cases"] > 0, "no case ran")


if __name__ == "__main__":
    if os.getuid() != 0:
        print("SKIP: the assignment methods need root (uid %d)" % os.getuid())
        print("0 passed, 0 failed, 1 skipped")
        raise SystemExit(77)
    run_cases([
        ("crash at every assign step", test_crash_during_assign),
        ("crash at every release step", test_crash_during_release),
        ("crash during a rollback", test_crash_during_rollback),
        ("domain died while the daemon was down", test_domain_died_while_down),
        ("summary", test_summary),
    ])
