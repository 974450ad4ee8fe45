# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile strings against the real daemon (issue 15, items 6 and 7).

A message that is not UTF-8, or holds a raw control character or an
unpaired surrogate escape, is not JSON: the daemon answers ProtocolError
without echoing the bytes and closes that connection.  A string of a call
that is JSON but holds NUL or a control character is refused with
InvalidParameter naming it, before anything is stored.  Whatever the daemon
stored before (rows written by an older version) or read from a host
device tree with hostile names, every reply stays valid UTF-8 JSON, and
every generated xl.cfg line is a comment or a setting.
"""

import json
import os
import re
import sqlite3
import sys

from harness import TEST_DATA_DIR, Daemon, Fail, Skip, VarlinkError, check, run_cases

HOSTILE_DTB = os.path.join(TEST_DATA_DIR, "hostile-names.dtb")
IP = "org.varlink.service.InvalidParameter"
PROTOCOL = "io.assignd.Broker.ProtocolError"

D = None    # the daemon on the demo board
H = None    # the daemon on the hostile-names board


def strict(raw, what):
    """A reply as the strictest reader sees it: UTF-8, then JSON."""
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise Fail("%s: the reply is not UTF-8 (%s): %r" % (what, e, raw[:200]))
    try:
        return json.loads(text)
    except ValueError as e:
        raise Fail("%s: the reply is not JSON (%s)" % (what, e))


def call_raw(d, method, params_json):
    """Call with a parameters object given as JSON text (so that escapes stay as written)."""
    msg = b'{"method": "%s", "parameters": %s}\0' % (method.encode(), params_json.encode())
    return strict(d.raw(msg), method)


def all_reads_valid(d):
    for method in ("GetStatus", "ListDevices", "ListLeases", "GetAuditLog"):
        r = strict(d.raw(b'{"method": "io.assignd.Broker.%s"}\0' % method.encode()), method)
        check("error" not in r, "%s failed: %r" % (method, r))
    for dev in strict(d.raw(b'{"method": "io.assignd.Broker.ListDevices"}\0'),
                      "ListDevices")["parameters"]["devices"]:
        if re.search(r"[\x00-\x1f\x7f-\x9f\ufffd]", dev["path"]):
            continue    # a path no call may name (see case_hostile_inventory)
        r = strict(d.raw(json.dumps({"method": "io.assignd.Broker.GetDevice",
                                     "parameters": {"path": dev["path"]}}).encode() + b"\0"),
                   "GetDevice " + dev["path"])
        check("error" not in r, "GetDevice %s failed: %r" % (dev["path"], r))


def protocol_error(d, data, what):
    """data is refused whole: ProtocolError, the bytes not echoed, the connection closed."""
    c = d.connect()
    try:
        try:
            c.send_raw(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        first = c.recv_raw()
        reply = strict(first, what)
        check(reply.get("error") == PROTOCOL, "%s: %r" % (what, reply))
        message = reply["parameters"].get("message", "")
        check("offset" in message, "%s: the error does not say where: %r" % (what, message))
        check(c.recv_raw() == b"", "%s: connection still open" % what)
    finally:
        c.close()
    r = d.call("org.varlink.service.GetInfo")
    check("error" not in r, "not served after %s: %r" % (what, r))


def xl_lines_ok(config, what):
    """The Python twin of tests/fuzz/gen-oracle.h's xl.cfg check."""
    atom = r'(?:"[^"\\\x00-\x1f\x7f]*"|0x[0-9a-f]+|[0-9]+)'
    setting = re.compile(r'^(name|passthrough|dtdev|irqs|iomem|nr_spis|device_tree) = '
                         r'(%s|\[ %s(?:, %s)* \])$' % (atom, atom, atom))
    check(config.endswith("\n"), "%s: no final newline" % what)
    for line in config[:-1].split("\n"):
        if line == "" or (line.startswith("#") and re.fullmatch(r"[\x20-\x7e]*", line)):
            continue
        check(setting.match(line), "%s: line %r is neither a comment nor a setting" %
              (what, line))


# ---- the demo board: what callers send ----------------------------------------


def case_not_utf8():
    path = D.broker("ListDevices")["devices"][0]["path"].encode()
    cases = [
        (b'{"method": "io.assignd.Broker.GetDevice", "parameters": {"path": "/x\xff"}}\0',
         "path"),
        (b'{"method": "io.assignd.Broker.SetDevicePolicy", "parameters": {"path": "%s", '
         b'"dma": "none", "note": "bad\xfe"}}\0' % path, "note"),
        (b'{"method": "io.assignd.Broker.Assign", "parameters": {"domain": "dom\xff", '
         b'"devices": ["%s"]}}\0' % path, "domain"),
        (b'{"method": "io.assignd.Simulator.CreateDomain", "parameters": {"name": '
         b'"evil\xc0\xaf", "passthrough": true}}\0', "overlong"),
        (b'{"method": "io.assignd.Simulator.CreateDomain", "parameters": {"name": '
         b'"\xed\xa0\x80", "passthrough": true}}\0', "encoded surrogate"),
        (b'{"method": "io.assignd.Broker.GetStatus\xff"}\0', "method"),
        (b'{"method": "io.assignd.Broker.GetDevice", "parameters": {"pa\xffth": "/"}}\0',
         "key"),
    ]
    for data, what in cases:
        protocol_error(D, data, "bytes that are not UTF-8 in " + what)
        raw = D.raw(data)
        for byte in (b"\xff", b"\xfe", b"\xc0", b"\xed"):
            check(byte not in raw, "%s: the reply echoes the bytes: %r" % (what, raw))


def case_not_json():
    protocol_error(D, b'{"method": "io.assignd.Broker.GetDevice", "parameters": '
                      b'{"path": "/a\nb"}}\0', "a raw newline in a string")
    protocol_error(D, b'{"method": "io.assignd.Broker.GetDevice", "parameters": '
                      b'{"path": "/a\x1b[2J"}}\0', "a raw ESC in a string")
    protocol_error(D, b'{"method": "io.assignd.Broker.GetDevice", "parameters": '
                      b'{"path": "/a\\ud800"}}\0', "an unpaired surrogate escape")
    protocol_error(D, b'{"method": "io.assignd.Broker.GetDevice", "parameters": '
                      b'{"path": "/a\\udc00\\ud800"}}\0', "surrogates in the wrong order")


def invalid(d, method, params_json, parameter):
    r = call_raw(d, method, params_json)
    check(r.get("error") == IP and r["parameters"].get("parameter") == parameter,
          "%s(%s): %r, want InvalidParameter %s" % (method, params_json, r, parameter))


def case_control_characters():
    paths = [dv["path"] for dv in D.broker("ListDevices", {"assignable": True})["devices"]]
    p0, p1 = paths[0], paths[1]
    B = "io.assignd.Broker."
    invalid(D, B + "GetDevice", '{"path": "/soc/\\u0000"}', "path")
    invalid(D, B + "SetDevicePolicy", json.dumps({"path": p0, "dma": "none",
                                                  "note": "ok\nforged line"}), "note")
    invalid(D, B + "SetDevicePolicy", json.dumps({"path": p0, "dma": "none",
                                                  "note": "\u001b]0;title\u0007"}), "note")
    invalid(D, B + "Assign", json.dumps({"domain": "guest\nassigned", "devices": [p0]}),
            "domain")
    invalid(D, B + "Assign", json.dumps({"domain": "guest", "devices": [p0, p1 + "\t"]}),
            "devices[1]")
    invalid(D, B + "Reserve", json.dumps({"domain_name": "g\u0085", "devices": [p0]}),
            "domain_name")
    invalid(D, B + "Release", json.dumps({"domain": "g\u007f"}), "domain")
    invalid(D, B + "XlConfig", json.dumps({"devices": [p0], "name": "a\rb"}), "name")
    invalid(D, "io.assignd.Simulator.CreateDomain",
            json.dumps({"name": "evil\n", "passthrough": True}), "name")
    # Nothing of it was stored: no policy, no audit row, no domain.
    dev = D.broker("GetDevice", {"path": p0})["device"]
    check(dev["policy"] is None, "a refused policy was stored: %r" % dev["policy"])
    for e in D.broker("GetAuditLog")["entries"]:
        check(not re.search(r"[\x00-\x1f\x7f-\x9f]", json.dumps(e, ensure_ascii=False)
                            .replace("\\n", "")),
              "an audit row holds a control character: %r" % e)
    state = D.sim("GetState")
    check(not any("evil" in json.dumps(dm) for dm in state.get("domains", [])),
          "the simulator stored a refused domain: %r" % state)
    # Text that is fine stays fine: UTF-8 beyond ASCII is not refused.
    D.broker("SetDevicePolicy", {"path": p0, "dma": "none", "note": "caf\u00e9 \u2713"})
    check(D.broker("GetDevice", {"path": p0})["device"]["policy"]["note"] == "caf\u00e9 \u2713",
          "a UTF-8 note did not round-trip")
    all_reads_valid(D)


def case_stored_before():
    """Rows an older daemon stored with bytes that are not UTF-8 do not break any reply."""
    path = [dv["path"] for dv in D.broker("ListDevices", {"assignable": True})["devices"]][2]
    D.broker("SetDevicePolicy", {"path": path, "dma": "none", "note": "to be spoiled"})
    try:
        D.broker("Assign", {"domain": "no-such-domain", "devices": [path]})
    except VarlinkError:
        pass
    D.stop()
    db = sqlite3.connect(D.db)
    db.execute("UPDATE policy SET note = CAST(X'73706f696c6564fffe' AS TEXT) "
               "WHERE path = ?", (path,))
    db.execute("UPDATE audit SET target = CAST(X'646f6dc0af' AS TEXT), "
               "detail = CAST(X'6c696e650aff' AS TEXT) WHERE id = (SELECT max(id) FROM audit)")
    db.commit()
    db.close()
    D.start()
    dev = strict(D.raw(json.dumps({"method": "io.assignd.Broker.GetDevice",
                                   "parameters": {"path": path}}).encode() + b"\0"),
                 "GetDevice")["parameters"]["device"]
    check(dev["policy"]["note"] == "spoiled\ufffd\ufffd", "note %r" % dev["policy"]["note"])
    entries = strict(D.raw(b'{"method": "io.assignd.Broker.GetAuditLog"}\0'),
                     "GetAuditLog")["parameters"]["entries"]
    check(any(e.get("target") == "dom\ufffd\ufffd" for e in entries),
          "the spoiled audit row is not there, repaired: %r" % entries[-3:])
    all_reads_valid(D)


# ---- the hostile-names board: what the host DT holds -----------------------------


def case_hostile_inventory():
    devs = strict(H.raw(b'{"method": "io.assignd.Broker.ListDevices"}\0'),
                  "ListDevices")["parameters"]["devices"]
    paths = [dv["path"] for dv in devs]
    check('/soc/serial\n"evil="' in paths, "the newline node is missing: %r" % paths)
    check("/soc/uart\ufffd\ufffd@9020000" in paths, "the non-UTF-8 node is not repaired: %r" %
          paths)
    rtc = [dv for dv in devs if dv["path"] == "/soc/rtc@9050000"][0]
    check(rtc["compatible"][:2] == ["arm,pl031\n[evil]=1", "vendor,\ufffd\ufffd\ufffd\ufffd"],
          "rtc compatible %r" % rtc["compatible"])
    status = strict(H.raw(b'{"method": "io.assignd.Broker.GetStatus"}\0'), "GetStatus")
    check(status["parameters"]["dtb"]["model"] == "hostile names board \ufffd\ufffd",
          "model %r" % status["parameters"]["dtb"]["model"])
    all_reads_valid(H)
    # A path with a control character names nothing a call may name.
    invalid(H, "io.assignd.Broker.GetDevice", json.dumps({"path": '/soc/serial\n"evil="'}),
            "path")


def case_hostile_generators():
    B = "io.assignd.Broker."
    for path in ("/soc/rtc@9050000", "/soc/gpio@9060000", "/soc/serial@9000000"):
        r = H.broker("XlConfig", {"devices": [path]})
        xl_lines_ok(r["config"], "XlConfig " + path)
        for note in r["notes"]:
            check(re.fullmatch(r"[\x20-\x7e]*", note), "note %r is not printable ASCII" % note)
        r = H.broker("ImageBuilderConfig", {"devices": [path]})
        for line in r["config"].split("\n"):
            check(line == "" or line.startswith("#") or
                  re.fullmatch(r'NUM_DOMUS=\$\(\( \$\{NUM_DOMUS:-0\} > (\d+) \? '
                               r'\$\{NUM_DOMUS:-0\} : \1 \)\)', line) or
                  re.fullmatch(r'DOMU_PASSTHROUGH_(DTB|PATHS)\[\d+\]="[^"\\$`\x00-\x1f]*"', line),
                  "ImageBuilder line %r" % line)
    for path in ("/soc/gpio$(reboot)@9030000", "/soc/i2c 'q' \"x\"@9040000"):
        for method, extra in (("XlConfig", {}), ("ImageBuilderConfig", {}),
                              ("GuestDeviceTree", {}), ("Reserve", {"domain_name": "g1"})):
            p = dict(extra, devices=[path])
            r = strict(H.raw(json.dumps({"method": B + method, "parameters": p}).encode() +
                             b"\0"), method)
            check(r.get("error") == "io.assignd.Broker.DeviceNotAssignable" and
                  r["parameters"].get("path") == path,
                  "%s of %r: %r" % (method, path, r))
    # Reserve writes the partial DTB and returns the xl.cfg lines for a safe device.
    r = H.broker("Reserve", {"domain_name": "g2", "devices": ["/soc/rtc@9050000"]})
    xl_lines_ok(r["config"], "Reserve")
    check(os.path.exists(r["device_tree"]), "no partial DTB at %s" % r["device_tree"])
    # Direct assignment refuses the shell-syntax device, takes the safe one.
    domid = H.sim("CreateDomain", {"name": "g3", "passthrough": False})["domid"]
    try:
        H.broker("Assign", {"domain": str(domid), "devices": ["/soc/gpio$(reboot)@9030000"]})
        raise Fail("a device with shell syntax in its path was assigned")
    except VarlinkError as e:
        check(e.name == "io.assignd.Broker.DeviceNotAssignable", "Assign: %s" % e)
    H.broker("Assign", {"domain": str(domid), "devices": ["/soc/gpio@9060000"]})
    all_reads_valid(H)


def main():
    global D, H
    if not os.path.exists(HOSTILE_DTB):
        print("SKIP: %s not built" % HOSTILE_DTB)
        sys.exit(77)
    try:
        D = Daemon()
        H = Daemon(dtb=HOSTILE_DTB)
    except Skip as e:
        print("SKIP: %s" % e)
        sys.exit(77)
    with D, H:
        run_cases([
            ("bytes that are not UTF-8: ProtocolError, not echoed", case_not_utf8),
            ("raw control characters and lone surrogates: not JSON", case_not_json),
            ("control characters: InvalidParameter, nothing stored", case_control_characters),
            ("rows stored before with bad bytes: replies repaired", case_stored_before),
            ("a host DT with hostile names: replies stay JSON", case_hostile_inventory),
            ("a host DT with hostile names: generated files", case_hostile_generators),
        ])


if __name__ == "__main__":
    main()
