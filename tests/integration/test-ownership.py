# SPDX-License-Identifier: GPL-2.0-or-later
"""The owner of record against the hypervisor, on the simulator.

Guest pages: a second lease of a domain never lands on guest pages its
first lease maps (Xen would replace the mapping and cut a hole in the
first lease): auto relocates around them, identity is refused naming the
lease; the R-Car case that found it (a DMA controller then a GPIO block,
both relocated).  SPIs: an Assign whose SPI some domain already has routed
(a hand-written irqs= line, the target's own or another's) is refused
before any hypercall, naming that domain, so no device is left bound
half-way.
"""

import os

from harness import (Daemon, Fail, TEST_DATA_DIR, VarlinkError, check, run_cases, shared_dtb)

OVERLAP = os.path.join(TEST_DATA_DIR, "overlap.dtb")
RTC = "/soc/rtc@22000000"
GPIO_LOW = "/soc/gpio@4020000"
UART = "/soc/uart@9000000"
GPIO = "/soc/gpio@9001000"


def state(d):
    return d.sim("GetState")["state"]


def domain_of(st, domid):
    for dom in st["domains"]:
        if dom["domid"] == domid:
            return dom
    raise Fail("no domain %d in the simulator" % domid)


def leases(d):
    return d.broker("ListLeases", {"all": True})["leases"]


def mapped_gfns(lease):
    return [(s["gfn"], s["nr"]) for s in lease["steps"] if s["step"] == "memory_mapping"]


def pages(runs):
    s = set()
    for g, n in runs:
        s.update(range(g, g + n))
    return s


def expect(fn, name):
    try:
        fn()
    except VarlinkError as e:
        check(e.name == "io.assignd.Broker." + name, "expected %s, got %s: %s" %
              (name, e.name, e.parameters))
        return e.parameters
    raise Fail("expected %s, the call succeeded" % name)


def test_pages_of_one_domain():
    with Daemon(dtb=OVERLAP) as d:
        dom = d.sim("CreateDomain", {"name": "g1", "passthrough": False})["domid"]
        first = d.broker("Assign", {"domain": "g1", "devices": [RTC], "layout": "auto"})["lease"]
        runs1 = mapped_gfns(first)
        check(runs1 == [(0x4020, 1)], "the RTC did not go to the first window: %s" % runs1)
        st0, ls0 = state(d), leases(d)
        # 1:1 the GPIO block would land on the RTC's guest page: refused, naming it.
        p = expect(lambda: d.broker("Assign", {"domain": "g1", "devices": [GPIO_LOW]}),
                   "GuestAddressConflict")
        check(p.get("path") == GPIO_LOW, "the conflict names %s" % p.get("path"))
        check("lease %d" % first["id"] in p["message"] and RTC in p["message"],
              "the conflict does not name the lease and device holding the page: %s" %
              p["message"])
        check(state(d) == st0 and leases(d) == ls0, "the refusal changed something")
        # auto moves it elsewhere, and the first lease's page stays its own.
        second = d.broker("Assign", {"domain": "g1", "devices": [GPIO_LOW],
                                     "layout": "auto"})["lease"]
        runs2 = mapped_gfns(second)
        check(not (pages(runs1) & pages(runs2)), "the leases overlap: %s and %s" %
              (runs1, runs2))
        maps = domain_of(state(d), dom)["mappings"]
        check({"gfn": 0x4020, "mfn": 0x22000, "nr": 1} in maps,
              "the RTC's mapping is gone from the domain: %s" % maps)
        d.broker("Release", {"domain": "g1", "devices": [GPIO_LOW]})
        maps = domain_of(state(d), dom)["mappings"]
        check({"gfn": 0x4020, "mfn": 0x22000, "nr": 1} in maps,
              "releasing the second lease cut the first one's mapping: %s" % maps)
        # Another domain has its own guest address space: 1:1 is fine there.
        d.sim("CreateDomain", {"name": "g2", "passthrough": False})
        d.sim("DestroyDomain", {"domid": dom})
        d.broker("Assign", {"domain": "g2", "devices": [GPIO_LOW]})


def test_rcar_dmac_then_gpio():
    dtb = shared_dtb("r8a77951-salvator-xs.dtb")
    with Daemon(dtb=dtb) as d:
        d.sim("CreateDomain", {"name": "g", "passthrough": True})
        a = d.broker("Assign", {"domain": "g", "devices": ["/soc/dma-controller@e6700000"],
                                "layout": "auto", "force_unprotected": True})["lease"]
        b = d.broker("Assign", {"domain": "g", "devices": ["/soc/gpio@e6051000"],
                                "layout": "auto"})["lease"]
        ra, rb = mapped_gfns(a), mapped_gfns(b)
        check(ra and rb and not (pages(ra) & pages(rb)),
              "the GPIO block landed in the DMA controller's guest pages: %s and %s" % (ra, rb))


def test_spi_routed_outside():
    with Daemon(dtb=OVERLAP) as d:
        # The target itself has INTID 38 (gpio@9001000's SPI) from a hand-written irqs=:
        # the daemon finds it held and records an adopted lease before anybody asks.
        xl1 = d.sim("CreateDomain", {"name": "xl1", "passthrough": False, "irqs": [38]})["domid"]
        adopted = [l for l in leases(d) if l["origin"] == "external"]
        check(len(adopted) == 1 and adopted[0]["devices"] == [GPIO] and
              adopted[0]["domid"] == xl1 and adopted[0]["state"] == "assigned",
              "the routed SPI was not adopted: %s" % leases(d))
        st0, ls0 = state(d), leases(d)
        p = expect(lambda: d.broker("Assign", {"domain": "xl1", "devices": [UART, GPIO]}),
                   "DeviceBusy")
        check(p.get("path") == GPIO and p.get("domid") == xl1 and
              p.get("lease") == adopted[0]["id"] and "outside assignd since" in p["message"],
              "DeviceBusy does not name the holder: %s" % p)
        check(state(d) == st0 and leases(d) == ls0,
              "the refusal changed the hypervisor or the leases (an SPI bound half-way?)")
        # Another domain holds it: refused for any domain, naming the holder.
        d.sim("CreateDomain", {"name": "g", "passthrough": False})
        p = expect(lambda: d.broker("Assign", {"domain": "g", "devices": [GPIO]}), "DeviceBusy")
        check(p.get("domid") == xl1, "DeviceBusy names domid %s, not %d" % (p.get("domid"), xl1))
        check("xl1" in p["message"], "the message does not name the domain: %s" % p["message"])
        # The device without the routed SPI goes through.
        d.broker("Assign", {"domain": "g", "devices": [UART]})


run_cases([
    ("guest pages of one domain never overlap", test_pages_of_one_domain),
    ("R-Car: DMA controller then GPIO, both relocated", test_rcar_dmac_then_gpio),
    ("an SPI routed outside any lease is adopted and refused to others",
     test_spi_routed_outside),
])
