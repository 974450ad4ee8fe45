# SPDX-License-Identifier: GPL-2.0-or-later
"""The owner of record when the database cannot be written, on the simulator.

A step the database cannot record is undone at once; an outcome it cannot
record either is kept and written again every second, and until then
every change is refused with StorageError naming the file and the errno,
while reads go on.  Checked with an injected failure at each commit of an
Assign and a Release, with a real full tmpfs and a real read-only one
(root only), with another process holding the database's lock, and with a
database file that is another application's (refused) or emptied (made
anew).
"""

import json
import os
import socket
import sqlite3
import subprocess
import threading
import time

from harness import (Connection, Daemon, Fail, Skip, VarlinkError, check, daemon_with_nofile,
                     run_cases, wait_for)

UART = "/soc/serial@9000000"        # dma none, SPI 33: three steps
SATA = "/soc/sata@9010000"


def state(d):
    return d.sim("GetState")["state"]


def leases(d):
    return d.broker("ListLeases", {"all": True})["leases"]


def expect_storage(fn, errno_name=None):
    try:
        fn()
    except VarlinkError as e:
        check(e.name == "io.assignd.Broker.StorageError", "expected StorageError, got %s: %s" %
              (e.name, e.parameters))
        if errno_name:
            check(e.parameters.get("errno_name") == errno_name, "errno %s, expected %s" %
                  (e.parameters.get("errno_name"), errno_name))
        return e.parameters
    raise Fail("expected StorageError, the call succeeded")


def reads_answer(d):
    """Reads go on while writes are refused."""
    d.broker("GetDevice", {"path": UART})
    d.broker("ListDevices")
    d.broker("GetStatus")
    d.broker("ListLeases", {"all": True})


def lease_state(d, lid):
    for l in leases(d):
        if l["id"] == lid:
            return l["state"]
    return None


def test_full_at_each_assign_commit():
    # Commit 1 records the lease, 2-4 its three steps, 5 marks it assigned.  A
    # step that cannot be recorded is undone at once (the SPI binding cannot
    # be: the lease keeps the device, releasing, until the domain dies); an
    # assignment whose steps are all recorded stands, its state follows.
    outcomes = {2: "failed", 3: "failed", 4: "releasing", 5: "assigned"}
    for nth, outcome in sorted(outcomes.items()):
        with Daemon() as d:
            dom = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
            st0 = state(d)
            d.sim("SetFailpoint", {"step": "db_commit:%d" % nth, "action": "error:ENOSPC"})
            p = expect_storage(lambda: d.broker("Assign", {"domain": "g", "devices": [UART]}),
                               "ENOSPC")
            check(p["file"] == d.db, "StorageError names %s, not the database" % p["file"])
            lid = leases(d)[-1]["id"]
            held = [x for x in state(d)["domains"] if x["domid"] == dom][0]
            if outcome == "failed":
                check(state(d) == st0, "commit %d: the hypervisor keeps a step no record "
                      "shows" % nth)
            elif outcome == "releasing":
                check(held["spis"] == [33] and not held["mappings"] and not held["iomem"],
                      "commit %d: only the SPI may stay: %s" % (nth, held))
            else:
                check(held["spis"] == [33] and held["mappings"], "commit %d: the assignment "
                      "did not stand: %s" % (nth, held))
            check(lease_state(d, lid) == "assigning", "commit %d: lease is %s before the "
                  "database is writable again" % (nth, lease_state(d, lid)))
            # Until the outcome is recorded, changes are refused; reads go on.
            expect_storage(lambda: d.broker("Assign", {"domain": "g", "devices": [SATA]}))
            expect_storage(lambda: d.broker("SetDevicePolicy", {"path": SATA, "dma": "none"}))
            reads_answer(d)
            d.sim("SetFailpoint", {"step": "db_commit", "action": "off"})
            wait_for(lambda: lease_state(d, lid) == outcome, "lease %s becoming %s" %
                     (lid, outcome))
            owner = d.broker("GetDevice", {"path": UART})["device"]["owner"]
            check((owner is None) == (outcome == "failed"), "owner after recording: %s" % owner)
            d.broker("SetDevicePolicy", {"path": SATA, "dma": "none"})
            if outcome == "failed":
                r = d.broker("Assign", {"domain": "g", "devices": [UART]})
                check(r["lease"]["state"] == "assigned", "the device cannot be assigned again")


def test_full_during_release():
    with Daemon() as d:
        dom = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
        lid = d.broker("Assign", {"domain": "g", "devices": [SATA]})["lease"]["id"]
        d.sim("KillDomain", {"domid": dom})     # dying: everything can be undone
        # Commit 1 records the intent; the next ones the steps and the end.
        d.sim("SetFailpoint", {"step": "db_commit:2", "action": "error:ENOSPC"})
        expect_storage(lambda: d.broker("Release", {"domain": "g"}), "ENOSPC")
        dom_state = [x for x in state(d)["domains"] if x["domid"] == dom]
        check(dom_state and not dom_state[0]["spis"] and not dom_state[0]["mappings"] and
              not dom_state[0]["dt_devices"], "the release stopped in the hypervisor: %s" %
              dom_state)
        check(lease_state(d, lid) == "releasing", "lease %s" % lease_state(d, lid))
        expect_storage(lambda: d.broker("Assign", {"domain": "g", "devices": [UART]}))
        d.sim("SetFailpoint", {"step": "db_commit", "action": "off"})
        wait_for(lambda: lease_state(d, lid) == "free", "the release being recorded")


def need_root():
    if os.geteuid() != 0:
        raise Skip("mounting a small tmpfs needs root")


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("cannot mount a tmpfs: %s" % r.stderr.strip())


def fill(path):
    """Fill the file system path is on; returns the filler's path."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_real_full_disk():
    need_root()
    with Daemon() as d0:
        work = d0.dir
    mnt = os.path.join(work + "-full")
    mount_tmpfs(mnt, "16m")
    try:
        with Daemon(workdir=mnt) as d:
            d.stop()
            d.sim_state = os.path.join(work, "sim-state.json")     # the simulator keeps room
            os.makedirs(work, exist_ok=True)
            d.start()
            d.sim("CreateDomain", {"name": "g", "passthrough": True})
            st0, ls0 = state(d), leases(d)
            filler = fill(mnt)
            p = expect_storage(lambda: d.broker("Assign", {"domain": "g", "devices": [UART]}))
            check(p["errno_name"] in ("ENOSPC", "EIO"), "errno %s" % p["errno_name"])
            check(p["file"] == d.db, "StorageError names %s" % p["file"])
            check(state(d) == st0, "a refused Assign changed the hypervisor")
            reads_answer(d)
            os.unlink(filler)
            wait_for(lambda: not _storage_refuses(d), "writes being accepted again")
            check(leases(d)[-1:] == [] or all(l["state"] in ("failed", "free", "assigned")
                                               for l in leases(d)), "leases: %s" % leases(d))
            r = d.broker("Assign", {"domain": "g", "devices": [UART]})
            check(r["lease"]["state"] == "assigned", "no assignment once there is room")
    finally:
        subprocess.run(["umount", "-l", mnt])


def _storage_refuses(d):
    try:
        d.broker("SetDevicePolicy", {"path": SATA, "note": "probe", "dma": "master"})
        return False
    except VarlinkError as e:
        if e.name == "io.assignd.Broker.StorageError":
            return True
        raise


def loop_ext4(image, path):
    """An ext4 image mounted on path that an error turns read-only; its sysfs node."""
    subprocess.run(["truncate", "-s", "32M", image], check=True)
    r = subprocess.run(["mkfs.ext4", "-q", image], capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("cannot make an ext4 image: %s" % r.stderr.strip())
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-o", "loop,errors=remount-ro", image, path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip("cannot mount a loop device: %s" % r.stderr.strip())
    dev = subprocess.run(["findmnt", "-n", "-o", "SOURCE", path], capture_output=True,
                         text=True).stdout.strip()
    node = "/sys/fs/ext4/%s/trigger_fs_error" % os.path.basename(dev)
    if not os.path.exists(node):
        subprocess.run(["umount", path])
        raise Skip("this kernel cannot trigger an ext4 error (%s)" % node)
    return node


def test_real_read_only():
    need_root()
    with Daemon() as d0:
        work = d0.dir
    os.makedirs(work, exist_ok=True)
    mnt = work + "-ext4"
    node = loop_ext4(work + ".img", mnt)
    try:
        with Daemon(workdir=mnt) as d:
            d.stop()
            d.sim_state = os.path.join(work, "sim-state.json")
            d.start()
            d.sim("CreateDomain", {"name": "g", "passthrough": True})
            st0 = state(d)
            with open(node, "w") as f:      # the file system errs: ext4 goes read-only
                f.write("1")
            p = expect_storage(lambda: d.broker("Assign", {"domain": "g", "devices": [UART]}))
            check(p["errno_name"] in ("EROFS", "EIO"), "errno %s" % p["errno_name"])
            check(p["file"] == d.db, "StorageError names %s" % p["file"])
            check(state(d) == st0, "a refused Assign changed the hypervisor")
            reads_answer(d)
            d.stop()
    finally:
        subprocess.run(["umount", "-l", mnt])
        os.unlink(work + ".img")


def test_locked_database():
    with Daemon() as d:
        holder = sqlite3.connect(d.db, timeout=0, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.monotonic()
            p = expect_storage(lambda: d.broker("SetDevicePolicy", {"path": UART,
                                                                    "dma": "none"}), "EBUSY")
            took = time.monotonic() - t0
            check(took < 2.0, "a locked write took %.1f s to fail" % took)
            check(p["file"] == d.db and "lock" in p["message"], "message: %s" % p["message"])
            t0 = time.monotonic()
            reads_answer(d)
            check(time.monotonic() - t0 < 1.0, "reads waited for the lock")
        finally:
            holder.execute("COMMIT")
            holder.close()
        d.broker("SetDevicePolicy", {"path": UART, "dma": "none"})


def test_foreign_and_emptied_database():
    with Daemon() as d:
        d.stop()
        os.unlink(d.db)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(d.db + suffix):
                os.unlink(d.db + suffix)
        other = sqlite3.connect(d.db)
        other.execute("PRAGMA application_id = 1234")
        other.execute("CREATE TABLE notes (x)")
        other.commit()
        other.close()
        rc = d.start(expect_fail=True)
        check(rc != 0, "assignd started on another application's database")
        check(d.db in d.log() and "another application" in d.log(), "the refusal does not "
              "name the file: %s" % d.log()[-400:])
        con = sqlite3.connect(d.db)
        check(con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 1,
              "assignd wrote into the foreign database")
        con.close()
        os.unlink(d.db)
        open(d.db, "w").close()         # emptied: 0 bytes
        d.start()
        d.broker("GetStatus")


def test_simulator_out_of_descriptors():
    """The simulator cannot write its state: it is left as the failed call found it.

    With every descriptor of the daemon taken, the first hypercall of an
    Assign cannot write the simulator's state (EMFILE), so it fails; the
    simulator must then hold nothing of it (reading the file back would
    fail for the same reason: the state last written is kept in memory),
    and the lease says failed.  Before, the permission stayed granted in
    the simulator while the daemon believed it refused.
    """
    d = daemon_with_nofile(24)
    with d:
        dom = d.sim("CreateDomain", {"name": "g", "passthrough": True})["domid"]
        before = state(d)
        ctl = d.connect()
        hog = []
        try:
            # Connections until the daemon cannot accept one more.
            for _ in range(64):
                c = Connection(d.socket, timeout=0.5)
                hog.append(c)
                try:
                    c.call("org.varlink.service.GetInfo")
                except (socket.timeout, OSError):
                    break
            else:
                raise Fail("the daemon never ran out of descriptors")
            try:
                ctl.call("io.assignd.Broker.Assign", {"domain": str(dom), "devices": [UART]})
                raise Fail("Assign succeeded without descriptors for the simulator's state")
            except VarlinkError as e:
                check(e.name == "io.assignd.Broker.HypervisorError",
                      "expected HypervisorError, got %s: %s" % (e.name, e.parameters))
                check(e.parameters.get("errno_name") == "EMFILE",
                      "the failure is not EMFILE: %s" % e.parameters)
        finally:
            for c in hog:
                c.close()
            ctl.close()
        time.sleep(0.6)         # accepting resumes within 250 ms
        after = state(d)
        check(after == before, "the failed Assign left its mark in the simulator:\n%s\n%s" %
              (json.dumps(before), json.dumps(after)))
        ls = leases(d)
        check(len(ls) == 1 and ls[0]["state"] == "failed", "the lease: %s" % ls)
        # With descriptors again, the same Assign goes through.
        lease = d.broker("Assign", {"domain": str(dom), "devices": [UART]})["lease"]
        check(lease["state"] == "assigned", "Assign afterwards: %s" % lease["state"])


run_cases([
    ("the disk fills up at each commit of an Assign", test_full_at_each_assign_commit),
    ("the disk fills up during a Release", test_full_during_release),
    ("a real full tmpfs", test_real_full_disk),
    ("a real read-only file system", test_real_read_only),
    ("another process holds the database's lock", test_locked_database),
    ("the simulator cannot write its state: nothing of the call stays",
     test_simulator_out_of_descriptors),
    ("another application's database is refused, an emptied one made anew",
     test_foreign_and_emptied_database),
])
