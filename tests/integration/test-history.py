# SPDX-License-Identifier: GPL-2.0-or-later
"""History that does not grow without bound, on the simulator.

ListLeases and GetAuditLog answer a page at a time (cursor and limit, with
next saying where the following page starts), assignctl follows the pages,
the retention of assignd.conf's [History] deletes finished leases and
audit entries by number and by age (never a lease that is not final), and
SetDevicePolicy with only a note stores the note.
"""

import os
import sqlite3
import time

from harness import Daemon, VarlinkError, check, run_cases, wait_for

UART = "/soc/serial@9000000"        # dma none, SPI 33


def pairs(d, n):
    """n Assign+Release pairs of the UART: n free leases, 2n audit entries."""
    ids = []
    for _ in range(n):
        dom = d.sim("CreateDomain", {"name": "h", "passthrough": True})["domid"]
        ids.append(d.broker("Assign", {"domain": str(dom), "devices": [UART]})["lease"]["id"])
        d.sim("KillDomain", {"domid": dom})
        d.broker("Release", {"domain": str(dom)})
        d.sim("ReapDomain", {"domid": dom})
    return ids


def expect_invalid(fn, field):
    try:
        fn()
    except VarlinkError as e:
        check(e.name == "io.assignd.Broker.InvalidArgument" and e.parameters["field"] == field,
              "expected InvalidArgument on %s: %s %s" % (field, e.name, e.parameters))
        return
    raise AssertionError("no InvalidArgument on %s" % field)


def test_paging():
    with Daemon() as d:
        ids = pairs(d, 12)
        whole = d.broker("ListLeases", {"all": True})
        check([l["id"] for l in whole["leases"]] == ids and whole["next"] is None,
              "one page of everything: %s" % whole)
        got, after, calls = [], 0, 0
        while True:
            page = d.broker("ListLeases", {"all": True, "after": after, "limit": 5})
            calls += 1
            got += page["leases"]
            if page["next"] is None:
                break
            check(page["next"] == page["leases"][-1]["id"], "next is not the last id: %s" %
                  page["next"])
            after = page["next"]
        check(got == whole["leases"] and calls == 3, "pages of 5: %d calls, %s" %
              (calls, [l["id"] for l in got]))
        check(d.broker("ListLeases", {"all": False})["leases"] == [], "a free lease listed")
        expect_invalid(lambda: d.broker("ListLeases", {"limit": -1}), "limit")
        expect_invalid(lambda: d.broker("ListLeases", {"after": -3}), "after")

        audit = d.broker("GetAuditLog", {"limit": 0})
        check(len(audit["entries"]) == 24 and audit["next"] is None,
              "limit 0 is the largest page: %d entries" % len(audit["entries"]))
        back, before = [], 0
        while True:
            page = d.broker("GetAuditLog", {"limit": 7, "before": before})
            check([e["id"] for e in page["entries"]] == sorted(e["id"] for e in page["entries"]),
                  "a page is not oldest first")
            back = page["entries"] + back
            if page["next"] is None:
                break
            check(page["next"] == page["entries"][0]["id"], "next is not the oldest id")
            before = page["next"]
        check(back == audit["entries"], "pages back in time differ from the whole log")
        expect_invalid(lambda: d.broker("GetAuditLog", {"before": -1}), "before")

        # assignctl follows the pages, or shows one and says where to go on.
        rows = d.ctl_json("leases", "--all")
        check([l["id"] for l in rows] == ids, "assignctl leases --all: %s" % rows)
        rows = d.ctl_json("leases", "--all", "--after", str(ids[3]), "--limit", "4")
        check([l["id"] for l in rows] == ids[4:8], "--after/--limit: %s" % rows)
        p = d.ctl("leases", "--all", "--limit", "4", check=True)
        check("--after %d" % ids[3] in p.stdout, "no hint of the next page:\n%s" % p.stdout)
        rows = d.ctl_json("audit", "--limit", "0")
        check(len(rows) == 24, "assignctl audit --limit 0: %d rows" % len(rows))
        rows = d.ctl_json("audit", "--limit", "5", "--before", str(audit["entries"][10]["id"]))
        check([e["id"] for e in rows] == [e["id"] for e in audit["entries"][5:10]],
              "audit --before: %s" % [e["id"] for e in rows])
        p = d.ctl("audit", "--limit", "3", check=True)
        check("--before %d" % audit["entries"][-3]["id"] in p.stdout,
              "no hint of older entries:\n%s" % p.stdout)


def write_conf(d, text):
    with open(os.path.join(d.config_dir, "assignd.conf"), "w") as f:
        f.write(text)


def test_retention():
    with Daemon() as d:
        ids = pairs(d, 10)
        dom = d.sim("CreateDomain", {"name": "live", "passthrough": True})["domid"]
        live = d.broker("Assign", {"domain": str(dom), "devices": [UART]})["lease"]["id"]
        n_audit = len(d.broker("GetAuditLog", {"limit": 0})["entries"])
        d.stop()
        # Leases 0-2 ended long ago, and so did the first audit entries.
        con = sqlite3.connect(d.db)
        old = int(time.time()) - 200 * 86400
        con.execute("UPDATE leases SET updated_at = ? WHERE id IN (?, ?, ?)",
                    (old, ids[0], ids[1], ids[2]))
        con.execute("UPDATE audit SET at = ? WHERE id <= 4", (old,))
        con.execute("UPDATE leases SET updated_at = ? WHERE id = ?", (old, live))
        con.commit()
        con.close()
        write_conf(d, "[History]\nMaxAgeDays = 90\nMaxFinishedLeases = 5\n"
                      "MaxAuditEntries = 12\n")
        d.start()
        # Pruned a second after start-up: by age, then the five that ended last.
        wait_for(lambda: len(d.broker("ListLeases", {"all": True})["leases"]) == 6,
                 "pruning the leases")
        left = [l["id"] for l in d.broker("ListLeases", {"all": True})["leases"]]
        check(left == ids[5:] + [live], "kept %s, expected %s" % (left, ids[5:] + [live]))
        entries = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check(len(entries) <= 12 and entries[0]["id"] > 4 and
              entries[-1]["id"] >= n_audit, "audit kept: %s" % [e["id"] for e in entries])
        # The lease that is not final stays, whatever its age; it still holds the UART.
        check(d.broker("GetDevice", {"path": UART})["device"]["owner"]["lease"] == live,
              "the live lease lost its device")
        p = d.ctl("history", UART, check=True)
        check("%d" % ids[0] not in p.stdout.split(), "a pruned lease in the history")


def test_policy_note_alone():
    with Daemon() as d:
        dev = d.broker("SetDevicePolicy", {"path": UART, "note": "bench UART"})["device"]
        check(dev["policy"] is not None and dev["policy"]["note"] == "bench UART" and
              dev["policy"]["dma"] is None and dev["policy"]["assignable"] is None,
              "the note was not stored: %s" % dev["policy"])
        check(dev["dma"] == "none" and dev["assignable"], "a note changed the verdict: %s" % dev)
        dev = d.broker("GetDevice", {"path": UART})["device"]
        check(dev["policy"]["note"] == "bench UART", "GetDevice: %s" % dev["policy"])
        d.restart()
        dev = d.broker("GetDevice", {"path": UART})["device"]
        check(dev["policy"]["note"] == "bench UART", "after a restart: %s" % dev["policy"])
        dev = d.broker("SetDevicePolicy", {"path": UART, "note": ""})["device"]
        check(dev["policy"] is None, "an empty note leaves a policy: %s" % dev["policy"])
        audit = d.broker("GetAuditLog", {"limit": 0})["entries"]
        check([e["action"] for e in audit].count("SetDevicePolicy") == 2,
              "policy changes not audited: %s" % audit)


run_cases([
    ("ListLeases and GetAuditLog a page at a time; assignctl follows", test_paging),
    ("retention by age and by number, never a live lease", test_retention),
    ("SetDevicePolicy with only a note stores it", test_policy_note_alone),
])
