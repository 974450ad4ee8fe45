# SPDX-License-Identifier: GPL-2.0-or-later
"""Random interleavings of assign, release, reserve, xl create, destroy and
kill on two domains of the R-Car H3 tree (layout auto: devices move in the
guest's address space), with the daemon killed (SIGKILL, or a failpoint's
crash before or after a hypercall) at random points, then restarted.

After every restart the owner of record must be the truth, checked
strictly against the simulator's own state (which survives the kill, as
Xen's does):
  - no lease is left "assigning", and no lease is adopted (everything any
    domain holds here came through assignd, so an adoption would mean a
    grant of its own that the daemon lost track of);
  - a device has at most one live lease, and GetDevice names it;
  - an assigned lease's domain holds every step of its plan;
  - everything a domain holds (iomem frames, guest mappings, routed SPIs,
    IOMMU assignments) is explained by a step of a live lease of that
    domain that is done and not undone;
  - the guest pages of one domain's leases never overlap;
  - no live lease is bound to a domain that does not exist.

The seed of each interleaving is printed with its failure; ASSIGND_SEED=N
replays one, ASSIGND_INTERLEAVINGS=N sets how many (default 100).
"""

import os
import random
import time

from harness import Daemon, Fail, VarlinkError, check, run_cases, shared_dtb, xl_grants

DEVICES = ["/soc/dma-controller@e6700000", "/soc/dma-controller@e7300000",
           "/soc/gpio@e6050000", "/soc/gpio@e6051000", "/soc/gpio@e6052000",
           "/soc/serial@e6550000", "/soc/i2c@e6510000"]
DOMAINS = ["a", "b"]
STEPS = ["iomem_permission", "memory_mapping", "assign_dt", "bind_spi",
         "unmap", "iomem_revoke", "deassign_dt", "unbind_spi"]
# Refusals the random requests run into; anything else is a failure.
EXPECTED = {"DeviceBusy", "DomainNotFound", "GroupIncomplete", "GuestAddressConflict",
            "ReservationExists", "ReservationNotFound", "NotAssigned", "HypervisorError",
            "InvalidArgument", "DomainExists", "IommuNotEnabled", "DomainNotReady"}
COUNT = {"interleavings": 0, "crashes": 0, "ops": 0}


def frames(ranges, key="mfn"):
    s = set()
    for r in ranges:
        s.update(range(r[key], r[key] + r["nr"]))
    return s


def mapping_pages(ranges):
    s = set()
    for r in ranges:
        s.update((r["gfn"] + i, r["mfn"] + i) for i in range(r["nr"]))
    return s


def live(ls):
    return [l for l in ls if l["state"] not in ("free", "failed")]


def check_truth(d, what):
    st = d.sim("GetState")["state"]
    ls = d.broker("ListLeases", {"all": True})["leases"]
    doms = {x["domid"]: x for x in st["domains"] if x["domid"] != 0}
    act = live(ls)
    check(not [l for l in ls if l["state"] == "assigning"], "%s: a lease is assigning" % what)
    check(not [l for l in ls if l["origin"] != "request"],
          "%s: a grant of assignd's own was adopted: %r" %
          (what, [l for l in ls if l["origin"] != "request"]))
    held = {}
    for l in act:
        for p in l["devices"]:
            check(p not in held, "%s: %s in leases %d and %d" %
                  (what, p, held[p]["id"] if p in held else 0, l["id"]))
            held[p] = l
        if l["domid"] is not None:
            check(l["domid"] in doms, "%s: lease %d is %s for domid %d, which is gone" %
                  (what, l["id"], l["state"], l["domid"]))
    for p in DEVICES:
        o = d.broker("GetDevice", {"path": p})["device"]["owner"]
        if p in held:
            check(o and o["lease"] == held[p]["id"], "%s: GetDevice(%s) owner %r, lease %d" %
                  (what, p, o, held[p]["id"]))
        else:
            check(o is None, "%s: %s has owner %r but no lease" % (what, p, o))
    for domid, dom in doms.items():
        mine = [l for l in act if l["domid"] == domid]
        claimed_iomem, claimed_map, claimed_spi, claimed_dt = set(), set(), set(), set()
        for l in mine:
            for s in l["steps"]:
                present = False
                if s["step"] == "iomem_permission":
                    present = set(range(s["mfn"], s["mfn"] + s["nr"])) <= frames(dom["iomem"])
                elif s["step"] == "memory_mapping":
                    present = {(s["gfn"] + i, s["mfn"] + i) for i in range(s["nr"])} <= \
                        mapping_pages(dom["mappings"])
                elif s["step"] == "bind_spi":
                    present = s["irq"] in dom["spis"]
                elif s["step"] == "assign_dt":
                    present = s["device"] in dom["dt_devices"]
                if l["state"] == "assigned":
                    check(s["done"] and not s["undone"] and present,
                          "%s: lease %d assigned but %s of %s is %s" %
                          (what, l["id"], s["step"], s["device"],
                           "missing" if not present else "not marked done"))
                # What a lease may explain: its done steps not undone, and, while a
                # reservation's domain is verified or taken back, what xl granted.
                if (s["done"] and not s["undone"]) or l["state"] in ("reserved", "releasing"):
                    if s["step"] == "iomem_permission":
                        claimed_iomem.update(range(s["mfn"], s["mfn"] + s["nr"]))
                    elif s["step"] == "memory_mapping":
                        claimed_map.update((s["gfn"] + i, s["mfn"] + i) for i in range(s["nr"]))
                    elif s["step"] == "bind_spi":
                        claimed_spi.add(s["irq"])
                    elif s["step"] == "assign_dt":
                        claimed_dt.add(s["device"])
        extra = {
            "iomem": frames(dom["iomem"]) - claimed_iomem,
            "mappings": mapping_pages(dom["mappings"]) - claimed_map,
            "spis": set(dom["spis"]) - claimed_spi,
            "dt_devices": set(dom["dt_devices"]) - claimed_dt,
        }
        extra = {k: sorted(v)[:6] for k, v in extra.items() if v}
        check(not extra, "%s: domain %d (%s) holds what no lease explains: %r; its leases %r" %
              (what, domid, dom.get("name"), extra,
               [(l["id"], l["state"], l["devices"]) for l in mine]))
        gpages = {}
        for l in mine:
            for s in l["steps"]:
                if s["step"] != "memory_mapping" or s["undone"] or not s["done"]:
                    continue
                for g in range(s["gfn"], s["gfn"] + s["nr"]):
                    other = gpages.get(g, l["id"])
                    check(other == l["id"], "%s: guest page 0x%x of domain %d in leases %d "
                          "and %d" % (what, g, domid, other, l["id"]))
                    gpages[g] = l["id"]
    return ls




class World:
    """The interleaving's domains, as the test drives them."""

    def __init__(self, d, rnd):
        self.d, self.rnd = d, rnd
        self.cfg = {}           # name -> the fragment of its last reservation

    def domid(self, name):
        for x in self.d.sim("GetState")["state"]["domains"]:
            if x.get("name") == name and not x.get("dying"):
                return x["domid"]
        return None

    def op(self):
        """One random operation; a refusal the request can meet is fine."""
        rnd, d = self.rnd, self.d
        name = rnd.choice(DOMAINS)
        devs = rnd.sample(DEVICES, rnd.randint(1, 2))
        dom = self.domid(name)
        kind = rnd.choice(["create", "assign", "assign", "release", "release-some",
                           "reserve", "destroy", "kill", "cancel"])
        COUNT["ops"] += 1
        try:
            if kind == "create" and dom is None:
                cfg = self.cfg.pop(name, None)
                if cfg and rnd.random() < 0.7:
                    try:
                        d.sim("CreateDomain", dict(name=name, **xl_grants(cfg)))
                    except VarlinkError as e:
                        # The lines of a reservation that ended since (it failed
                        # verification, or was cancelled by a crash's recovery) may
                        # name what another domain holds now: xl create fails.
                        if not e.name.endswith(".SimulatorError") or \
                                "cannot be bound" not in e.parameters.get("message", ""):
                            raise
                else:
                    d.sim("CreateDomain", {"name": name, "passthrough": True})
            elif kind == "assign" and dom is not None:
                d.broker("Assign", {"domain": name, "devices": devs, "layout": "auto",
                                    "force_unprotected": True})
            elif kind == "release" and dom is not None:
                d.broker("Release", {"domain": name})
            elif kind == "release-some" and dom is not None:
                d.broker("Release", {"domain": name, "devices": devs})
            elif kind == "reserve" and dom is None:
                r = d.broker("Reserve", {"domain_name": name, "devices": devs, "layout": "auto",
                                         "force_unprotected": True})
                self.cfg[name] = r["config"]
            elif kind == "destroy" and dom is not None:
                d.sim("DestroyDomain", {"domid": dom})
            elif kind == "kill" and dom is not None:
                d.sim("KillDomain", {"domid": dom})
            elif kind == "cancel":
                d.broker("CancelReservation", {"domain_name": name})
                self.cfg.pop(name, None)
        except VarlinkError as e:
            short = e.name.rsplit(".", 1)[1]
            if short not in EXPECTED:
                raise Fail("%s %s %s: unexpected %s: %s" % (kind, name, devs, e.name,
                                                           e.parameters))
        return kind


LAST_LOG = []


def interleaving(seed, dtb):
    rnd = random.Random(seed)
    what = "seed %d" % seed
    with Daemon(dtb=dtb) as d:
        try:
            run_interleaving(d, rnd, what)
        except Exception:
            with open(d.log_path) as f:
                LAST_LOG[:] = [f.read()]
            raise
    COUNT["interleavings"] += 1


def run_interleaving(d, rnd, what):
    if True:
        w = World(d, rnd)
        for crash in range(2):
            for _ in range(rnd.randint(0, 6)):
                w.op()
            # The crash: a failpoint in one of the next calls, or a SIGKILL at a
            # random moment of one.
            if rnd.random() < 0.6:
                step = "%s:%d" % (rnd.choice(STEPS), rnd.randint(1, 3))
                d.sim("SetFailpoint", {"step": step, "action": rnd.choice(["crash-before",
                                                                            "crash-after"])})
                for _ in range(12):
                    if d.proc.poll() is not None:
                        break
                    try:
                        w.op()
                    except (ConnectionError, OSError):
                        # The failpoint fired: the daemon is exiting with 137.
                        try:
                            d.proc.wait(5)
                        except Exception:
                            raise Fail("%s: the connection dropped but the daemon lives" % what)
                        break
                if d.proc.poll() is None:
                    d.kill9()           # the failpoint was never reached
                else:
                    d.wait_exit()
            else:
                c = d.connect()
                name = rnd.choice(DOMAINS)
                c.send("io.assignd.Broker.Assign" if rnd.random() < 0.6
                       else "io.assignd.Broker.Release",
                       {"domain": name, "devices": rnd.sample(DEVICES, 2), "layout": "auto",
                        "force_unprotected": True} if rnd.random() < 0.6 else {"domain": name})
                time.sleep(rnd.random() * 0.004)
                d.kill9()
                c.close()
            COUNT["crashes"] += 1
            d.start()
            check_truth(d, "%s, after crash %d" % (what, crash + 1))
        # And it goes on working: every domain destroyed (dying ones too) frees
        # everything.
        for x in d.sim("GetState")["state"]["domains"]:
            if x["domid"] != 0:
                d.sim("DestroyDomain", {"domid": x["domid"]})
        for name in DOMAINS:
            try:
                d.broker("CancelReservation", {"domain_name": name})
            except VarlinkError:
                pass
        ls = check_truth(d, what + ", at the end")
        check(not live(ls), "%s: leases outlive every domain: %r; domains %r" %
              (what, [(l["id"], l["state"], l["domid"], l["domain"]) for l in live(ls)],
               [(x["domid"], x.get("name"), x.get("dying")) for x in
                d.sim("GetState")["state"]["domains"]]))


def test_interleavings():
    dtb = shared_dtb("r8a77951-salvator-xs.dtb")
    if os.environ.get("ASSIGND_SEED"):
        seeds = [int(os.environ["ASSIGND_SEED"])]
    else:
        base = random.SystemRandom().randrange(1 << 30)
        seeds = [base + i for i in range(int(os.environ.get("ASSIGND_INTERLEAVINGS", "100")))]
    t0 = time.monotonic()
    for seed in seeds:
        try:
            interleaving(seed, dtb)
        except Exception:
            print("# replay: ASSIGND_SEED=%d %s" % (seed, __file__))
            if LAST_LOG:
                lines = [x for x in LAST_LOG[0].splitlines()
                         if "debug: connection" not in x and "debug: reply" not in x]
                print("# the daemon's log, last lines:\n" +
                      "\n".join("#   " + x for x in lines[-80:]))
            raise
    print("   %d interleavings, %d crashes and restarts, %d operations in %.0f s" %
          (COUNT["interleavings"], COUNT["crashes"], COUNT["ops"], time.monotonic() - t0))


run_cases([("random interleavings with crashes, R-Car, layout auto", test_interleavings)])
