# SPDX-License-Identifier: GPL-2.0-or-later
"""Domain lifecycle and the Monitor stream, on the simulated hypervisor.

A domain that dies gives its devices back (the leases are settled, the
audit log says so, a monitor hears domain-died and device-released with
cause domain-died, and the devices can be assigned again); a domain that
died while the daemon was down is settled at start-up (cause reconcile);
monitors resume from a sequence number or are told to resynchronise; a
monitor that never reads is dropped while everybody else is served; and a
domain created without the IOMMU is refused protected devices with
IommuNotEnabled.
"""

import json
import os
import queue
import socket
import subprocess
import threading
import time

from harness import (ASSIGNCTL, Connection, Daemon, Fail, VarlinkError, check, run_cases, shared_dtb)

SATA = "/soc/sata@9010000"          # protected
DMAC = "/soc/dma-controller@9011000"  # protected
UART = "/soc/serial@9000000"        # dma none, no IOMMU
I2C0 = "/soc/i2c@9004000"           # shares a page with I2C1, dma none
I2C1 = "/soc/i2c@9004800"

MONITOR = "io.assignd.Broker.Monitor"


def create(d, name, passthrough=True, **kw):
    p = {"name": name, "passthrough": passthrough}
    p.update(kw)
    return d.sim("CreateDomain", p)["domid"]


def assign(d, domain, devices):
    return d.broker("Assign", {"domain": str(domain), "devices": list(devices)})


def leases(d):
    return d.broker("ListLeases", {"all": True})["leases"]


class Monitor:
    """A Monitor call on its own connection."""

    def __init__(self, d, since=None, boot_id=None, timeout=10):
        self.c = Connection(d.socket, timeout=timeout)
        p = {}
        if since is not None:
            p["since"] = since
        if boot_id is not None:
            p["boot_id"] = boot_id
        self.c.send(MONITOR, p, more=True)
        first = self.c.recv()
        if "error" in first:
            self.c.close()
            raise VarlinkError(first["error"], first.get("parameters", {}))
        check(first.get("continues") is True, "Monitor replies continue: %s" % first)
        self.hello = first["parameters"]
        check(self.hello.get("event") is None, "the first reply carries no event")
        self.boot_id = self.hello["boot_id"]
        self.latest = self.hello["latest"]

    def next(self):
        m = self.c.recv()
        if "error" in m:
            raise VarlinkError(m["error"], m.get("parameters", {}))
        check(m.get("continues") is True, "a monitor reply without continues: %s" % m)
        ev = m["parameters"]["event"]
        check(ev["boot_id"] == self.boot_id, "boot_id changed within a stream")
        return ev

    def until(self, pred, what, limit=200):
        seen = []
        for _ in range(limit):
            ev = self.next()
            seen.append(ev)
            if pred(ev):
                return seen
        raise Fail("no %s among %d events: %s" % (what, len(seen), seen[-5:]))

    def close(self):
        self.c.close()


def policy_burst(d, n, path=UART):
    """n SetDevicePolicy calls pipelined on one connection: n inventory-changed events."""
    c = Connection(d.socket, timeout=60)
    msgs = [json.dumps({"method": "io.assignd.Broker.SetDevicePolicy",
                        "parameters": {"path": path, "note": "burst %d" % i}}).encode() + b"\0"
            for i in range(n)]
    # Write from a thread: the daemon stops reading while its replies to us pile up.
    t = threading.Thread(target=lambda: c.send_raw(b"".join(msgs)))
    t.start()
    for i in range(n):
        r = c.recv()
        check("error" not in r, "SetDevicePolicy %d: %s" % (i, r))
    t.join()
    c.close()


def test_domain_death_releases():
    with Daemon() as d:
        dom = create(d, "guest")
        mon = Monitor(d)
        lease = assign(d, "guest", [SATA, DMAC])["lease"]
        ev = mon.until(lambda e: e["type"] == "device-assigned", "device-assigned")[-1]
        check(ev["lease"] == lease["id"] and ev["domid"] == dom and ev["domain"] == "guest" and
              sorted(ev["devices"]) == sorted([SATA, DMAC]), "device-assigned: %s" % ev)
        first_seq = ev["seq"]

        d.sim("DestroyDomain", {"domid": dom})
        seen = mon.until(lambda e: e["type"] == "device-released", "device-released")
        died = [e for e in seen if e["type"] == "domain-died"]
        check(died and died[0]["domid"] == dom and died[0]["domain"] == "guest" and
              died[0]["state"] == "gone", "domain-died before the release: %s" % seen)
        rel = seen[-1]
        check(rel["cause"] == "domain-died" and rel["lease"] == lease["id"] and
              rel["state"] == "free" and sorted(rel["devices"]) == sorted([SATA, DMAC]),
              "device-released: %s" % rel)
        seqs = [first_seq] + [e["seq"] for e in seen]
        check(seqs == list(range(first_seq, first_seq + len(seqs))),
              "sequence numbers without gaps: %s" % seqs)
        check(all(e["time_usec"] > 1.6e15 for e in seen), "timestamps")

        ls = leases(d)
        check([l["state"] for l in ls] == ["free"], "the lease is free: %s" % ls)
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check(any(a["action"] == "DomainChanged" and "gone" in (a["detail"] or "")
                  for a in audit), "the release is audited: %s" % audit[-3:])
        st = d.sim("GetState")["state"]
        check(not st["dt_owners"] or all(v != dom for v in st["dt_owners"].values()),
              "Xen holds nothing for the dead domain")

        # The devices are free: a new domain gets them.
        create(d, "guest2")
        assign(d, "guest2", [SATA, DMAC])
        ev = mon.until(lambda e: e["type"] == "device-assigned", "second device-assigned")[-1]
        check(ev["domain"] == "guest2", "reassigned: %s" % ev)
        mon.close()


def test_kill_then_destroy():
    """A live release leaves SPIs routed; the second event comes when the domain dies."""
    with Daemon() as d:
        dom = create(d, "g")
        assign(d, "g", [SATA])
        mon = Monitor(d)
        d.broker("Release", {"domain": "g"})
        ev = mon.until(lambda e: e["type"] == "device-released", "release")[-1]
        check(ev["cause"] == "request" and ev["state"] == "releasing",
              "a live release keeps the SPI: %s" % ev)
        d.sim("KillDomain", {"domid": dom})
        seen = mon.until(lambda e: e["type"] == "device-released", "release on death")
        check(any(e["type"] == "domain-died" and e["state"] == "dying" for e in seen),
              "dying is announced: %s" % seen)
        check(seen[-1]["cause"] == "domain-died" and seen[-1]["state"] == "free",
              "freed when dying: %s" % seen[-1])
        mon.close()


def test_silent_end_of_dying_domain():
    """The watch fires when a domain starts dying; Xen may send nothing when
    it is finally gone (seen on 4.20): the daemon must notice by itself."""
    with Daemon() as d:
        dom = create(d, "g")
        assign(d, "g", [SATA])
        d.sim("KillDomain", {"domid": dom})
        ls = [l for l in leases(d) if l["domain"] == "g"]
        check(ls and ls[-1]["state"] == "assigned", "held while dying: %s" % ls)
        # No request from here on (each would settle leases itself): only
        # the daemon's own clock can see the end.
        mon = Monitor(d, timeout=10)
        d.sim("ReapDomain", {"domid": dom})
        t0 = time.time()
        try:
            ev = mon.until(lambda e: e["type"] == "device-released", "release")[-1]
        except (socket.timeout, TimeoutError):
            raise Fail("no release within 10 s of the silent end of the domain")
        check(ev["state"] == "free" and ev["cause"] == "domain-died", "release: %s" % ev)
        print("   released %.1f s after the silent end" % (time.time() - t0))
        mon.close()
        create(d, "h")
        assign(d, "h", [SATA])


def test_died_while_down():
    with Daemon() as d:
        dom = create(d, "g")
        lease = assign(d, "g", [SATA])["lease"]
        d.stop()
        # Xen destroyed it while the daemon was down (as test-recovery does).
        with open(d.sim_state) as f:
            st = json.load(f)
        st["domains"] = [x for x in st["domains"] if x["domid"] != dom]
        for k in [k for k, v in st.get("dt_owners", {}).items() if v == dom]:
            del st["dt_owners"][k]
        with open(d.sim_state, "w") as f:
            json.dump(st, f)
        d.start()
        ls = leases(d)
        check([l["state"] for l in ls] == ["free"], "released at start-up: %s" % ls)
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check(any(a["action"] == "Reconcile" and "gone" in (a["detail"] or "")
                  and str(lease["id"]) in (a["target"] or "") for a in audit),
              "the start-up release is audited: %s" % audit[-3:])
        # The ring has it from the start: a monitor from 0 sees the reconciliation.
        mon = Monitor(d, since=0)
        ev = mon.until(lambda e: e["type"] == "device-released", "reconcile event")[-1]
        check(ev["cause"] == "reconcile" and ev["lease"] == lease["id"] and ev["seq"] >= 1,
              "cause reconcile: %s" % ev)
        mon.close()
        create(d, "g2")
        assign(d, "g2", [SATA])


def test_resume_and_resync():
    with Daemon() as d:
        mon = Monitor(d)
        boot = mon.boot_id
        policy_burst(d, 3)
        evs = [mon.next() for _ in range(3)]
        check([e["type"] for e in evs] == ["inventory-changed"] * 3 and
              evs[0]["devices"] == [UART], "policy changes are inventory-changed: %s" % evs)
        last = evs[1]["seq"]
        mon.close()
        policy_burst(d, 2)
        # Resume after the second event: the third and the two new ones are replayed.
        mon = Monitor(d, since=last, boot_id=boot)
        got = [mon.next()["seq"] for _ in range(3)]
        check(got == [last + 1, last + 2, last + 3], "replay after %d: %s" % (last, got))
        check(mon.latest == last + 3, "latest in the first reply: %s" % mon.hello)
        mon.close()
        # Up to date: nothing to replay, then live events.
        mon = Monitor(d, since=last + 3)
        policy_burst(d, 1)
        check(mon.next()["seq"] == last + 4, "live after an empty replay")
        mon.close()

        try:
            Monitor(d, since=-1)
            raise Fail("a negative since was accepted")
        except VarlinkError as e:
            check(e.name == "io.assignd.Broker.InvalidArgument" and
                  e.parameters["field"] == "since", "since=-1: %s" % e.parameters)
        for kw, why in [({"since": 10 ** 6}, "a number from the future"),
                        ({"since": 1, "boot_id": "0" * 32}, "another boot_id")]:
            try:
                Monitor(d, **kw)
                raise Fail("%s was accepted" % why)
            except VarlinkError as e:
                check(e.name == "io.assignd.Broker.ResyncRequired", "%s: %s" % (why, e.name))
                check(e.parameters["latest"] == last + 4 and
                      e.parameters["boot_id"] == boot and "ListLeases" in e.parameters["message"],
                      "%s: %s" % (why, e.parameters))

        # More events than the ring keeps: the start is gone.
        policy_burst(d, 1100)
        try:
            Monitor(d, since=1)
            raise Fail("a resume from a number the ring lost was accepted")
        except VarlinkError as e:
            check(e.name == "io.assignd.Broker.ResyncRequired", e.name)
            check(e.parameters["oldest"] > 2 and e.parameters["latest"] == last + 1104 and
                  e.parameters["latest"] - e.parameters["oldest"] + 1 == 1024,
                  "the ring's range: %s" % e.parameters)
            oldest = e.parameters["oldest"]
        # The newest 1024 are replayable, and a client reading them is not dropped.
        mon = Monitor(d, since=oldest - 1)
        got = [mon.next()["seq"] for _ in range(1024)]
        check(got == list(range(oldest, oldest + 1024)), "the whole ring is replayed")
        mon.close()
        # After a restart the numbers start again under a new boot_id.
        d.restart()
        try:
            Monitor(d, since=last, boot_id=boot)
            raise Fail("a resume across a restart was accepted")
        except VarlinkError as e:
            check(e.name == "io.assignd.Broker.ResyncRequired" and
                  e.parameters["boot_id"] != boot, "restart: %s" % e.parameters)


def test_slow_monitor_dropped():
    with Daemon() as d:
        slow = Monitor(d)
        # It never reads again; make its receive buffer small so it fills quickly.
        slow.c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        fast = Monitor(d)
        got = []
        stop = threading.Event()

        def reader():
            try:
                while not stop.is_set():
                    got.append(fast.next()["seq"])
            except Exception:
                pass

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        status = d.broker("GetStatus")
        check(status.get("monitors") == 2, "two monitors connected: %s" % status.get("monitors"))

        worst = [0.0]
        done = threading.Event()

        def poll_status():
            while not done.is_set():
                t0 = time.monotonic()
                d.broker("GetStatus")
                worst[0] = max(worst[0], time.monotonic() - t0)
                time.sleep(0.05)

        # The slow client wakes up once the daemon has dropped it (its log says so): it
        # has LIMIT_DRAIN_TIMEOUT_MSEC to read the rest, which ends with the error.
        slow_msgs = []

        def wake_slow():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with open(d.log_path) as f:
                    if "dropping it" in f.read():
                        break
                time.sleep(0.02)
            while True:
                raw = slow.c.recv_raw()
                if not raw:
                    break
                slow_msgs.append(json.loads(raw))

        w = threading.Thread(target=wake_slow, daemon=True)
        w.start()
        p = threading.Thread(target=poll_status, daemon=True)
        p.start()
        policy_burst(d, 1500)
        done.set()
        p.join()
        check(worst[0] < 2.0, "GetStatus took %.2fs during the burst" % worst[0])

        # The slow monitor's stream ends with MonitorOverflow, then the connection closes.
        w.join(60)
        check(not w.is_alive(), "the slow monitor's connection was not closed")
        errs = [m for m in slow_msgs if "error" in m]
        err = errs[0] if errs else None
        n = len(slow_msgs) - len(errs)
        check(slow_msgs and slow_msgs[-1] is err, "the error is the last message")
        check(err and err["error"] == "io.assignd.Broker.MonitorOverflow",
              "the slow monitor was told why: %s" % err)
        check("since" in err["parameters"]["message"], err["parameters"]["message"])
        check(0 < n < 1500, "it got %d events before it was dropped" % n)
        slow.close()

        # The fast one got everything, and the daemon still serves.
        deadline = time.monotonic() + 20
        while len(got) < 1500 and time.monotonic() < deadline:
            time.sleep(0.05)
        check(len(got) == 1500 and got == list(range(got[0], got[0] + 1500)),
              "the reading monitor got all %d events (%d)" % (1500, len(got)))
        stop.set()
        status = d.broker("GetStatus")
        check(status["monitors"] == 1, "one monitor left: %s" % status["monitors"])
        with open(d.log_path) as f:
            check("dropping it" in f.read(), "the drop is logged")
        fast.close()


def test_iommu_before_p2m():
    with Daemon() as d:
        # Created without the IOMMU, memory populated later: too late for passthrough.
        dom = create(d, "nopt", passthrough=False)
        d.sim("PopulateMemory", {"domid": dom})
        st0 = d.sim("GetState")["state"]
        for devs in ([SATA], [SATA, UART]):
            try:
                assign(d, "nopt", devs)
                raise Fail("a protected device went to a domain without the IOMMU")
            except VarlinkError as e:
                check(e.name == "io.assignd.Broker.IommuNotEnabled", e.name)
                m = e.parameters["message"]
                check(e.parameters["domid"] == dom and e.parameters["path"] == SATA and
                      'passthrough="enabled"' in m and "nopt" in m,
                      "names the domain, the device and the fix: %s" % e.parameters)
        check(d.sim("GetState")["state"] == st0, "the refusal left nothing behind")
        check(not [l for l in leases(d) if l["state"] not in ("free", "failed")],
              "no lease was made")
        # Devices no IOMMU protects and that do no DMA still go there.
        assign(d, "nopt", [I2C0, I2C1])
        # Populated with the IOMMU from creation: fine.
        create(d, "pt", passthrough=True, populated=True)
        assign(d, "pt", [SATA])


def ctl_monitor(d, *args):
    return subprocess.Popen([ASSIGNCTL, "--socket", d.socket] + list(args) + ["monitor"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_line(p, timeout=10):
    """The next line of p's stdout (a reader thread per process: select() cannot see
    what Python already buffered)."""
    if not hasattr(p, "lines"):
        p.lines = queue.Queue()

        def pump():
            for line in p.stdout:
                p.lines.put(line)
            p.lines.put(None)
        threading.Thread(target=pump, daemon=True).start()
    try:
        line = p.lines.get(timeout=timeout)
    except queue.Empty:
        line = None
    check(line, "assignctl monitor printed nothing in %ds" % timeout)
    return line


def test_assignctl_monitor():
    with Daemon() as d:
        dom = create(d, "guest")
        pj, ph = ctl_monitor(d, "--json"), ctl_monitor(d)
        try:
            deadline = time.monotonic() + 10
            while d.broker("GetStatus")["monitors"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assign(d, "guest", [SATA])
            d.sim("DestroyDomain", {"domid": dom})
            evs = [json.loads(read_line(pj)) for _ in range(3)]
            check([e["type"] for e in evs] == ["device-assigned", "domain-died", "device-released"],
                  "--json: one object per line: %s" % evs)
            check(evs[2]["cause"] == "domain-died", "%s" % evs[2])
            lines = [read_line(ph) for _ in range(3)]
            check(lines[0].startswith("#%d " % evs[0]["seq"]) and "device-assigned" in lines[0] and
                  "domain guest (%d)" % dom in lines[0] and SATA in lines[0],
                  "human line: %r" % lines[0])
            check("device-released" in lines[2] and "cause domain-died" in lines[2] and
                  "state free" in lines[2], "human line: %r" % lines[2])
        finally:
            pj.kill()
            ph.kill()
            pj.communicate()
            ph.communicate()
        # A number from the future exits 1 with the advice; --since replays.
        r = subprocess.run([ASSIGNCTL, "--socket", d.socket, "monitor", "--since", "99"],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 1 and "ResyncRequired" in r.stderr and "ListLeases" in r.stderr,
              "resync: %d %r" % (r.returncode, r.stderr))
        r = subprocess.run([ASSIGNCTL, "--socket", d.socket, "monitor", "--since", "x"],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 2, "a bad --since is a usage error")
        p = subprocess.Popen([ASSIGNCTL, "--socket", d.socket, "--json", "monitor", "--since", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            evs = [json.loads(read_line(p)) for _ in range(3)]
            check([e["seq"] for e in evs] == [1, 2, 3], "replay from 0: %s" % evs)
        finally:
            p.kill()
            p.communicate()


def test_rescan_event():
    """A changed device tree is rescanned at start-up and that is the run's first event."""
    import shutil
    import tempfile
    work = tempfile.mkdtemp(prefix="assignd-test-")
    try:
        for n in (1, 0):
            # The first start scans an empty inventory (an event); the second has nothing new.
            with Daemon(workdir=work) as d:
                mon = Monitor(d, since=0)
                check(mon.latest == n, "start with %d events: %s" % (n, mon.hello))
                mon.close()
        with Daemon(workdir=work, dtb=shared_dtb("qemu-virt-smmuv3.dtb")) as d:
            mon = Monitor(d, since=0)
            ev = mon.next()
            check(ev["seq"] == 1 and ev["type"] == "inventory-changed" and
                  "rescanned" in ev["detail"], "rescan event: %s" % ev)
            mon.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_status():
    with Daemon(sim_xen_version="4.20") as d:
        create(d, "g")
        assign(d, "g", [SATA])
        mon = Monitor(d)
        st = d.broker("GetStatus")
        check(st["backend"] == "sim" and st["xen_version"] == "4.20", "version: %s" % st)
        # The simulator models none of hv-patches/.
        check(st["hypervisor_patches"] == [], "hypervisor_patches: %s" % st)
        check(st["leases"] == {"reserved": 0, "assigning": 0, "assigned": 1, "releasing": 0},
              "lease counts: %s" % st["leases"])
        check(st["monitors"] == 1 and st["uptime_seconds"] >= 0, "monitors: %s" % st)
        mon.close()
        out = d.ctl("status", check=True).stdout
        for want in ("4.20", "monitors", "assigned"):
            check(want in out, "assignctl status shows %s:\n%s" % (want, out))


def test_hazards_real_dtbs():
    # RK3399: seven rockchip,iommu nodes, one disabled (ff670800).  Exynos 5250: 23 sysmmus.
    for name, kind_word, count in [("rk3399-rockpro64.dtb", "rockchip,iommu", 6),
                                   ("exynos5250-snow.dtb", "samsung,exynos-sysmmu", 23),
                                   ("qemu-virt-smmuv3.dtb", None, 0)]:
        with Daemon(dtb=shared_dtb(name)) as d:
            st = d.broker("GetStatus")
            check(st["hazards"] is None, "the list without asking: %s" % st["hazards"])
            hz = d.broker("GetStatus", {"hazards": True})["hazards"]
            kinds = ("inconsistent", "iommu-unsupported", "dma-unknown", "ownership-invisible")
            check(st["hazard_counts"] == {k: len([h for h in hz if h["kind"] == k])
                                          for k in kinds},
                  "%s: counts %s disagree with the list" % (name, st["hazard_counts"]))
            bad = [h for h in hz if h["kind"] == "iommu-unsupported"]
            check(len(bad) == count, "%s: %d unsupported IOMMUs: %s" % (name, len(bad), bad))
            check(all(kind_word in h["message"] and h["path"] in h["message"] for h in bad),
                  "%s: each names the node and its kind" % name)
            check("/iommu@ff670800" not in [h["path"] for h in bad], "a disabled IOMMU is no hazard")
            unknown = [h for h in hz if h["kind"] == "dma-unknown"]
            for h in unknown:
                dev = d.broker("GetDevice", {"path": h["path"]})["device"]
                check(dev["dma"] == "unknown" and dev["iommu"]["coverage"] != "protected" and
                      dev["assignable"], "%s: %s is a hazard" % (name, dev["path"]))
            if name.startswith("qemu"):
                check(unknown, "the QEMU tree has DMA-unknown devices")
                p = unknown[0]["path"]
                d.broker("SetDevicePolicy", {"path": p, "dma": "none"})
                st = d.broker("GetStatus", {"hazards": True})
                hz = st["hazards"]
                check(p not in [h["path"] for h in hz], "declared dma=none: no longer a hazard")
                check(st["hazard_counts"]["dma-unknown"] == len(unknown) - 1,
                      "the count did not follow the policy: %s" % st["hazard_counts"])
                # status counts them by kind; --hazards lists them one by one.
                out = d.ctl("status", check=True).stdout
                check("%d dma-unknown" % len([h for h in hz if h["kind"] == "dma-unknown"]) in out
                      and unknown[1]["path"] not in out,
                      "assignctl status does not count the hazards by kind:\n%s" % out)
                out = d.ctl("status", "--hazards", check=True).stdout
                check(unknown[1]["path"] in out, "assignctl status --hazards lists them:\n%s" % out)


if __name__ == "__main__":
    if os.getuid() != 0:
        print("SKIP: the assignment methods need root (uid %d)" % os.getuid())
        print("0 passed, 0 failed, 1 skipped")
        raise SystemExit(77)
    run_cases([
        ("domain death releases its devices", test_domain_death_releases),
        ("live release, then the domain dies", test_kill_then_destroy),
        ("a dying domain that ends without a signal", test_silent_end_of_dying_domain),
        ("domain died while the daemon was down", test_died_while_down),
        ("monitor resume and resync", test_resume_and_resync),
        ("a monitor that never reads is dropped", test_slow_monitor_dropped),
        ("IOMMU before the first p2m update", test_iommu_before_p2m),
        ("assignctl monitor", test_assignctl_monitor),
        ("a rescan is an inventory-changed event", test_rescan_event),
        ("GetStatus: version, leases, monitors", test_status),
        ("GetStatus: hazards of real device trees", test_hazards_real_dtbs),
    ])
