# SPDX-License-Identifier: GPL-2.0-or-later
"""Ownership that holds outside one request: standing reservations, and
devices a domain holds without any lease, found and adopted.

A standing reservation (Reserve with persistent) binds to every domain of
its name, goes back to "reserved" when that domain is gone, survives
daemon restarts, and is cancelled only while no domain of the name runs.
A non-exclusive one leaves its devices free while its domain is down, and
a domain that appears while another lease holds them is refused its
binding, with the reason.  A domain created from hand-written xl.cfg lines
(the simulator's CreateDomain with irqs/iomem/dtdev, as xl makes them)
with no lease behind it is found and recorded as an adopted lease, which
nobody else gets past; so is what live domains hold when the database is
lost.
"""

import os
import tempfile

from harness import Daemon, Fail, VarlinkError, check, run_cases, xl_grants

SATA = "/soc/sata@9010000"          # protected (SMMU), SPI 7 = INTID 39
RTC = "/soc/rtc@9003000"            # pl031, dma none, SPI 4 = INTID 36
GPIO = "/soc/gpio@9002000"          # pl061, dma none, SPI 3 = INTID 35


def expect_error(fn, name):
    try:
        fn()
    except VarlinkError as e:
        check(e.name == "io.assignd.Broker." + name,
              "expected %s, got %s: %s" % (name, e.name, e.parameters))
        return e.parameters
    raise Fail("expected %s, the call succeeded" % name)


def leases(d, all_=False):
    return d.broker("ListLeases", {"all": all_})["leases"]


def lease(d, lid):
    for l in leases(d, True):
        if l["id"] == lid:
            return l
    raise Fail("lease %d not listed" % lid)


def owner(d, path):
    return d.broker("GetDevice", {"path": path})["device"]["owner"]


def audit_actions(d):
    return [a["action"] for a in d.broker("GetAuditLog", {"limit": 0})["entries"]]




def full_log(d):
    with open(d.log_path) as f:
        return f.read()


def case_standing_across_boots():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "web", "devices": [SATA, RTC],
                                 "persistent": True})
        lid, cfg = r["lease"]["id"], r["config"]
        check(r["expires_at"] is None and r["lease"]["standing"] and r["lease"]["exclusive"],
              "a standing reservation expires or is not standing: %r" % r["lease"])
        expect_error(lambda: d.broker("Reserve", {"domain_name": "web2", "devices": [GPIO],
                                                  "persistent": True, "ttl_seconds": 60}),
                     "InvalidArgument")
        expect_error(lambda: d.broker("Reserve", {"domain_name": "web", "devices": [GPIO]}),
                     "ReservationExists")
        other = d.sim("CreateDomain", {"name": "other", "passthrough": True})["domid"]
        for cycle in range(3):
            # Down: held for web, refused to anybody else, naming the standing lease.
            p = expect_error(lambda: d.broker("Assign", {"domain": str(other),
                                                         "devices": [RTC]}), "DeviceBusy")
            check(p["lease"] == lid and "standing" in p["message"],
                  "cycle %d: DeviceBusy does not name the standing lease: %r" % (cycle, p))
            o = owner(d, RTC)
            check(o and o["domain"] == "web" and o["standing"] and o["domid"] is None,
                  "cycle %d: owner while web is down: %r" % (cycle, o))
            # "xl create web.cfg": the lease binds and is verified.
            domid = d.sim("CreateDomain", dict(name="web", **xl_grants(cfg)))["domid"]
            l = lease(d, lid)
            check(l["state"] == "assigned" and l["domid"] == domid and l["standing"],
                  "cycle %d: not bound to web (%d): %r" % (cycle, domid, l))
            # Cancel is refused while web runs, saying why.
            p = expect_error(lambda: d.broker("CancelReservation", {"domain_name": "web"}),
                             "DeviceBusy")
            check("running" in p["message"] and p["lease"] == lid,
                  "cancel while web runs: %r" % p)
            # "xl destroy web": back to reserved, unbound; the DTB stays.
            d.sim("DestroyDomain", {"domid": domid})
            l = lease(d, lid)
            check(l["state"] == "reserved" and l["domid"] is None,
                  "cycle %d: after destroy %r" % (cycle, l))
            check(os.path.exists(r["device_tree"]), "the partial DTB went with the domain")
            check(not [x for x in leases(d) if x["origin"] == "external"],
                  "cycle %d: a standing lease's domain was adopted too" % cycle)
            if cycle < 2:
                d.restart()
        check(audit_actions(d).count("StandingReserved") == 3,
              "the returns to reserved are not audited: %r" % audit_actions(d))
        c = d.broker("CancelReservation", {"domain_name": "web"})["lease"]
        check(c["state"] == "free" and not os.path.exists(r["device_tree"]),
              "cancelled: %r" % c)
        check(owner(d, RTC) is None and owner(d, SATA) is None, "still held after cancel")
        d.broker("Assign", {"domain": str(other), "devices": [RTC]})


def case_standing_not_exclusive():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "web", "devices": [RTC], "persistent": True,
                                 "exclusive": False})
        lid, cfg = r["lease"]["id"], r["config"]
        check(not r["lease"]["exclusive"], "exclusive: %r" % r["lease"])
        expect_error(lambda: d.broker("Reserve", {"domain_name": "x", "devices": [GPIO],
                                                  "exclusive": False}), "InvalidArgument")
        check(owner(d, RTC) is None, "a non-exclusive lease holds its device while web is down")
        other = d.sim("CreateDomain", {"name": "other", "passthrough": True})["domid"]
        d.broker("Assign", {"domain": str(other), "devices": [RTC]})
        # web appears while other holds the RTC: the binding is refused, with the reason.
        web = d.sim("CreateDomain", {"name": "web", "passthrough": True})["domid"]
        l = lease(d, lid)
        check(l["state"] == "reserved" and l["domid"] is None,
              "the lease bound though another holds its device: %r" % l)
        check(l["error"] and "refused" in l["error"] and RTC in l["error"] and
              "other" in l["error"], "the refusal does not say why: %r" % l["error"])
        check("StandingRefused" in audit_actions(d), "the refusal is not audited")
        check(owner(d, RTC)["domid"] == other, "the RTC changed hands: %r" % owner(d, RTC))
        # Once other lets go and web is started again, web gets it.
        d.sim("DestroyDomain", {"domid": other})
        d.sim("DestroyDomain", {"domid": web})
        web = d.sim("CreateDomain", dict(name="web", **xl_grants(cfg)))["domid"]
        l = lease(d, lid)
        check(l["state"] == "assigned" and l["domid"] == web, "not bound: %r" % l)
        d.sim("DestroyDomain", {"domid": web})
        check(owner(d, RTC) is None, "held while web is down: %r" % owner(d, RTC))


def case_xl_create_without_lease_adopted():
    with Daemon() as d:
        r = d.broker("Reserve", {"domain_name": "g", "devices": [RTC, SATA]})
        with tempfile.NamedTemporaryFile("w", suffix=".cfg", dir=d.dir, delete=False) as f:
            f.write('name = "g"\n' + r["config"])
            cfgfile = f.name
        # The first xl create takes the one-shot reservation up.
        p = d.ctl("sim", "create", "g", "--xl-config", cfgfile, json_out=True, check=True)
        check(lease(d, r["lease"]["id"])["state"] == "assigned", "the reservation did not bind")
        d.sim("DestroyDomain", {"domid": lease(d, r["lease"]["id"])["domid"]})
        check(owner(d, RTC) is None, "held after the domain is gone")
        # The second, with the same lines and no reservation: found and adopted.
        d.ctl("sim", "create", "g", "--xl-config", cfgfile, check=True)
        doms = d.sim("GetState")["state"]["domains"]
        g = [x for x in doms if x.get("name") == "g"][0]["domid"]
        adopted = [x for x in leases(d) if x["origin"] == "external"]
        check(sorted(x["devices"][0] for x in adopted) == sorted([RTC, SATA]) and
              all(x["domid"] == g and x["state"] == "assigned" for x in adopted),
              "the devices g holds were not adopted: %r" % leases(d))
        check("holds %s outside assignd" % RTC in full_log(d), "no warning in the log")
        check("Adopted" in audit_actions(d), "the adoption is not audited")
        o = owner(d, RTC)
        check(o["origin"] == "external" and o["domid"] == g, "owner %r" % o)
        shown = d.ctl("show", RTC, check=True).stdout
        check("adopted" in shown and "g (domid %d" % g in shown, "show says:\n" + shown)
        other = d.sim("CreateDomain", {"name": "other", "passthrough": True})["domid"]
        for path in (RTC, SATA):
            p = expect_error(lambda: d.broker("Assign", {"domain": str(other),
                                                         "devices": [path]}), "DeviceBusy")
            check(p["domid"] == g and "held outside assignd since" in p["message"],
                  "DeviceBusy for %s: %r" % (path, p))
            expect_error(lambda: d.broker("Reserve", {"domain_name": "h", "devices": [path]}),
                         "DeviceBusy")
        # Released with the domain, like any lease.
        d.sim("DestroyDomain", {"domid": g})
        check(owner(d, RTC) is None and owner(d, SATA) is None, "adopted leases outlived g")
        d.broker("Assign", {"domain": str(other), "devices": [RTC]})


def case_lost_database_adopts_at_start():
    with Daemon() as d:
        g = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
        d.broker("Assign", {"domain": "g", "devices": [RTC, GPIO]})
        d.stop()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(d.db + suffix):
                os.unlink(d.db + suffix)
        d.start()
        adopted = {x["devices"][0]: x for x in leases(d) if x["origin"] == "external"}
        check(sorted(adopted) == sorted([GPIO, RTC]) and
              all(x["domid"] == g for x in adopted.values()),
              "a new database lost what g holds: %r" % leases(d))
        other = d.sim("CreateDomain", {"name": "other", "passthrough": True})["domid"]
        expect_error(lambda: d.broker("Assign", {"domain": str(other), "devices": [RTC]}),
                     "DeviceBusy")
        d.sim("DestroyDomain", {"domid": g})
        d.broker("Assign", {"domain": str(other), "devices": [RTC, GPIO]})


run_cases([
    ("a standing reservation across three boots and two restarts", case_standing_across_boots),
    ("a non-exclusive standing reservation refused at bind", case_standing_not_exclusive),
    ("a second xl create without a lease is adopted", case_xl_create_without_lease_adopted),
    ("a lost database: what live domains hold is adopted at start-up",
     case_lost_database_adopts_at_start),
])
