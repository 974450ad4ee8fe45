# SPDX-License-Identifier: GPL-2.0-or-later
"""Raw Varlink against the real assignd binary.

Speaks the wire protocol by hand (NUL-terminated JSON over the UNIX socket)
to check what any Varlink client sees: introspection, the standard errors
for unknown interfaces, methods and bad parameters, what happens to
malformed and oversized messages (that connection gets an error and is
closed, everyone else is served), in-order answers to pipelined calls,
clients vanishing mid-call, the per-uid connection limit, and the
permission rules for callers that are not root.
"""

import json
import os
import re
import shutil
import socket
import sys
import time

from harness import Daemon, Fail, Skip, VarlinkError, check, daemon_with_nofile, run_cases

SRC = os.environ.get("TEST_SRC_DIR", "")
ROOT = os.path.normpath(os.path.join(SRC, "..")) if SRC else ""
MAX_MESSAGE = 64 * 1024

D = None    # the shared daemon for most cases


def limit(name):
    """A constant from daemon/api/limit.h, so the test follows the source."""
    path = os.path.join(ROOT, "daemon", "api", "limit.h")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise Skip("cannot read %s (TEST_SRC_DIR unset?)" % path)
    m = re.search(r"#define %s \(?(\d+)" % name, text)
    if not m:
        raise Fail("%s not found in %s" % (name, path))
    return int(m.group(1))


def err(reply):
    return reply.get("error")


def params(reply):
    return reply.get("parameters", {})


def expect_error(name, p, error, **fields):
    reply = D.call(name, p)
    check(err(reply) == error, "%s(%s): got %r, want %s" % (name, p, reply, error))
    for k, v in fields.items():
        check(params(reply).get(k) == v,
              "%s: %s=%r, want %r" % (error, k, params(reply).get(k), v))
    return reply


def alive():
    check(D.proc and D.proc.poll() is None, "assignd died:\n" + D.log())
    r = D.call("org.varlink.service.GetInfo")
    check(err(r) is None, "GetInfo after the case failed: %r" % r)


def served_anew(d, what):
    """A new connection to d gets an answer."""
    c = d.connect()
    try:
        check("interfaces" in c.call("org.varlink.service.GetInfo"), what)
    finally:
        c.close()


def device_paths():
    devs = D.broker("ListDevices")["devices"]
    check(len(devs) >= 2, "demo board has fewer than 2 devices")
    return [d["path"] for d in devs]


# ---- cases -------------------------------------------------------------------


def case_getinfo():
    r = D.call("org.varlink.service.GetInfo")
    p = params(r)
    check(err(r) is None, "GetInfo failed: %r" % r)
    check(p["vendor"] == "assignd" and p["product"] == "assignd", "vendor/product %r" % p)
    check(isinstance(p["version"], str) and p["version"], "no version")
    check(isinstance(p["url"], str) and p["url"], "no url")
    ifaces = p["interfaces"]
    check("org.varlink.service" in ifaces and "io.assignd.Broker" in ifaces,
          "interfaces %r" % ifaces)
    sim_file = os.path.join(ROOT, "proto", "io.assignd.Simulator.varlink")
    if os.path.exists(sim_file):
        check("io.assignd.Simulator" in ifaces, "sim backend without Simulator: %r" % ifaces)


def case_interface_description():
    path = os.path.join(ROOT, "proto", "io.assignd.Broker.varlink")
    if not os.path.exists(path):
        raise Skip("%s not found" % path)
    with open(path) as f:
        want = f.read()
    r = D.call("org.varlink.service.GetInterfaceDescription",
               {"interface": "io.assignd.Broker"})
    check(params(r).get("description") == want,
          "description differs from proto/io.assignd.Broker.varlink")
    expect_error("org.varlink.service.GetInterfaceDescription", {"interface": "org.nope"},
                 "org.varlink.service.InterfaceNotFound", interface="org.nope")


def raw_error(data):
    """Send raw bytes; expect ProtocolError and then the connection closed."""
    c = D.connect()
    try:
        try:
            c.send_raw(data)
        except (BrokenPipeError, ConnectionResetError):
            pass    # the daemon may close before reading it all: fine, checked below
        first = c.recv_raw()
        check(first, "no reply at all to %r" % data[:60])
        reply = json.loads(first)
        check(err(reply) == "io.assignd.Broker.ProtocolError",
              "reply to %r: %r" % (data[:60], reply))
        check(isinstance(params(reply).get("message"), str), "no message")
        check(c.recv_raw() == b"", "connection still open after a protocol error")
    finally:
        c.close()
    alive()


def case_malformed_json():
    raw_error(b'{"method": "org.varlink.service.GetInfo"\0')
    raw_error(b"{nope\0")
    raw_error(b"\0")
    raw_error(b'{"method": "org.varlink.service.GetInfo"} trailing\0')


def case_not_an_object():
    raw_error(b"[1, 2]\0")
    raw_error(b'"org.varlink.service.GetInfo"\0')
    raw_error(b"42\0")


def case_missing_method():
    raw_error(b'{"parameters": {}}\0')
    raw_error(b'{"method": 5}\0')
    raw_error(b'{"method": "GetInfo"}\0')
    raw_error(b'{"method": "org.varlink.service.GetInfo", "parameters": [1]}\0')
    raw_error(b'{"method": "org.varlink.service.GetInfo", "bogus": 1}\0')


def case_unknown_interface_and_method():
    expect_error("org.example.Nope", None, "org.varlink.service.InterfaceNotFound",
                 interface="org.example")
    expect_error("io.assignd.Broker.Nope", None, "org.varlink.service.MethodNotFound",
                 method="io.assignd.Broker.Nope")
    expect_error("io.assignd.Broker.getStatus", None, "org.varlink.service.MethodNotFound",
                 method="io.assignd.Broker.getStatus")


def case_parameters():
    IP = "org.varlink.service.InvalidParameter"
    expect_error("io.assignd.Broker.GetDevice", None, IP, parameter="path")
    expect_error("io.assignd.Broker.GetDevice", {}, IP, parameter="path")
    expect_error("io.assignd.Broker.GetDevice", {"path": 5}, IP, parameter="path")
    expect_error("io.assignd.Broker.GetDevice", {"path": None}, IP, parameter="path")
    expect_error("io.assignd.Broker.GetDevice", {"path": "/", "bogus": 1}, IP,
                 parameter="bogus")
    expect_error("io.assignd.Broker.ListDevices", {"assignable": "yes"}, IP,
                 parameter="assignable")
    expect_error("io.assignd.Broker.SetDevicePolicy", {"path": "/x", "assignable": 1}, IP,
                 parameter="assignable")
    expect_error("org.varlink.service.GetInfo", {"x": 1}, IP, parameter="x")
    # Well-formed but out of the value set: the Broker's own error, naming the field.
    r = expect_error("io.assignd.Broker.ListDevices", {"coverage": "shiny"},
                     "io.assignd.Broker.InvalidArgument", field="coverage")
    check("protected" in params(r)["message"], "message does not list the values")
    expect_error("io.assignd.Broker.ListDevices", {"dma": "maybe"},
                 "io.assignd.Broker.InvalidArgument", field="dma")
    expect_error("io.assignd.Broker.GetDevice", {"path": "/no/such/node"},
                 "io.assignd.Broker.DeviceNotFound", path="/no/such/node")
    # "more" on a method that does not stream: one final reply, as sd-varlink does.
    c = D.connect()
    try:
        c.send("io.assignd.Broker.GetStatus", more=True)
        r = c.recv()
        check(err(r) is None and "version" in params(r) and not r.get("continues"),
              "GetStatus with more: %r" % r)
        # The connection serves the next call: nothing else was queued.
        c.send("org.varlink.service.GetInfo")
        r = c.recv()
        check(err(r) is None and params(r).get("vendor") == "assignd", "after more: %r" % r)
    finally:
        c.close()
    # A streaming method without "more" is the standard ExpectedMore.
    expect_error("io.assignd.Broker.Monitor", None, "org.varlink.service.ExpectedMore")
    # Absent or null parameters mean {} (Go's varlink library sends null).
    for raw in (b'{"method": "io.assignd.Broker.GetStatus", "parameters": null}\0',
                b'{"method": "io.assignd.Broker.ListDevices", "parameters": null}\0',
                b'{"method": "io.assignd.Broker.ListLeases"}\0'):
        r = json.loads(D.raw(raw))
        check(err(r) is None, "%r refused: %r" % (raw, r))
    r = json.loads(D.raw(b'{"method": "io.assignd.Broker.GetDevice", "parameters": null}\0'))
    check(err(r) == IP and params(r).get("parameter") == "path", "null for {}: %r" % r)
    # Nothing here supports "upgrade".
    r = json.loads(D.raw(b'{"method": "io.assignd.Broker.GetStatus", "upgrade": true}\0'))
    check(err(r) == IP and params(r).get("parameter") == "upgrade", "upgrade accepted: %r" % r)
    # Null for a nullable filter is "any".
    r = D.call("io.assignd.Broker.ListDevices", {"coverage": None, "owner": None})
    check(err(r) is None, "null filters refused: %r" % r)


def case_malformed_behind_monitor():
    """A Monitor stream does not hold back the protocol error of a malformed message
    behind it (found by fuzz-varlink; the connection used to stay until the idle timeout,
    even after the peer closed it)."""
    for pipelined in (False, True):
        c = D.connect()
        try:
            c.send("io.assignd.Broker.Monitor", {}, more=True)
            if pipelined:
                c.send("io.assignd.Broker.GetStatus")
            else:
                first = c.recv()
                check(first.get("continues") is True, "Monitor did not start: %r" % first)
            c.send_raw(b'{"method": "io.assignd.Broker.GetSt\x01atus"}\0')
            c.sock.settimeout(5)
            replies = []
            while True:
                raw = c.recv_raw()
                if not raw:
                    break
                replies.append(json.loads(raw))
        finally:
            c.close()
        check(replies and err(replies[-1]) == "io.assignd.Broker.ProtocolError",
              "no ProtocolError behind the stream: %r" % replies)
        if pipelined:
            check(any("dtb" in params(r) for r in replies), "GetStatus was not answered")
    st = D.broker("GetStatus")
    check(st["connections"] == 1, "connections left behind: %d" % st["connections"])


def case_oversized():
    # Exactly the maximum: a valid call padded with spaces to 64 KiB.
    call = json.dumps({"method": "org.varlink.service.GetInfo"}).encode()
    exact = call + b" " * (MAX_MESSAGE - len(call)) + b"\0"
    check(len(exact) == MAX_MESSAGE + 1, "test bug")
    reply = json.loads(D.raw(exact))
    check(err(reply) is None, "a 64 KiB request was refused: %r" % reply)

    # One byte more, with and without its NUL, and much more.
    raw_error(call + b" " * (MAX_MESSAGE - len(call) + 1) + b"\0")
    raw_error(b"x" * (MAX_MESSAGE + 1))
    # A client hanging on to an oversized connection does not block a second client.
    hog = D.connect()
    try:
        try:
            hog.send_raw(b"y" * (4 * MAX_MESSAGE))
        except (BrokenPipeError, ConnectionResetError):
            pass
        other = D.connect()
        try:
            r = other.call("io.assignd.Broker.GetStatus")
            check(r["devices"]["total"] > 0, "second client: %r" % r)
        finally:
            other.close()
    finally:
        hog.close()
    alive()


def case_pipelined():
    paths = device_paths()
    a, b = paths[0], paths[-1]
    msgs = [
        {"method": "io.assignd.Broker.GetDevice", "parameters": {"path": a}},
        {"method": "io.assignd.Broker.GetDevice", "parameters": {"path": b}},
        {"method": "io.assignd.Broker.GetDevice", "parameters": {"path": "/nope"}},
        {"method": "org.varlink.service.GetInfo"},
        {"method": "io.assignd.Broker.ListDevices"},
    ]
    c = D.connect()
    try:
        c.send_raw(b"".join(json.dumps(m).encode() + b"\0" for m in msgs))
        r = [c.recv() for _ in msgs]
    finally:
        c.close()
    check(params(r[0])["device"]["path"] == a, "first reply is not for %s" % a)
    check(params(r[1])["device"]["path"] == b, "second reply is not for %s" % b)
    check(err(r[2]) == "io.assignd.Broker.DeviceNotFound", "third: %r" % r[2])
    check("interfaces" in params(r[3]), "fourth: %r" % r[3])
    check(len(params(r[4])["devices"]) == len(paths), "fifth: %r" % r[4])

    # oneway: no reply; the next call's reply is the next message.
    c = D.connect()
    try:
        c.send("io.assignd.Broker.GetStatus", oneway=True)
        r = c.call("io.assignd.Broker.GetDevice", {"path": a})
        check(r["device"]["path"] == a, "reply after oneway: %r" % r)
    finally:
        c.close()


def case_disconnect_mid_call():
    # Requests sent, connection gone before any reply is read.
    for _ in range(20):
        s = D.connect()
        s.send("io.assignd.Broker.ListDevices")
        s.send("io.assignd.Broker.GetStatus")
        s.close()
    # Half a message, then gone.
    s = D.connect()
    s.send_raw(b'{"method": "io.assignd.Broker.GetSt')
    s.close()
    # Shut down only the sending side: the answer still comes (socat-style clients).
    s = D.connect()
    s.send("org.varlink.service.GetInfo")
    s.sock.shutdown(socket.SHUT_WR)
    r = s.recv()
    check("interfaces" in params(r), "half-closed client got %r" % r)
    check(s.recv_raw() == b"", "connection kept after the half-closed client's answer")
    s.close()
    time.sleep(0.1)
    alive()
    st = D.broker("GetStatus")
    check(st["connections"] == 1, "connections left behind: %d" % st["connections"])


def case_connection_limit_per_uid():
    per_uid = limit("LIMIT_CONNECTIONS_PER_UID")
    conns = []
    try:
        for i in range(per_uid):
            c = D.connect()
            conns.append(c)
            r = c.call("org.varlink.service.GetInfo")
            check("interfaces" in r, "connection %d refused" % i)
        st = conns[0].call("io.assignd.Broker.GetStatus")
        check(st["connections"] == per_uid, "GetStatus counts %d" % st["connections"])
        extra = D.connect()    # the kernel accepts it; the daemon closes it at once
        try:
            try:
                extra.send("org.varlink.service.GetInfo")
            except (BrokenPipeError, ConnectionResetError):
                pass
            check(extra.recv_raw() == b"", "connection %d of one uid was served" % (per_uid + 1))
        finally:
            extra.close()
        conns.pop().close()
        time.sleep(0.1)
        served_anew(D, "a freed slot cannot be used again")
    finally:
        for c in conns:
            c.close()
    time.sleep(0.1)
    alive()


def proc_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])    # utime + stime


def case_emfile():
    """Out of descriptors: accepting pauses (no busy loop) and resumes."""
    d = daemon_with_nofile(24)
    with d:
        conns = []
        served = 0
        try:
            for _ in range(30):
                c = d.connect()
                c.sock.settimeout(0.1)
                conns.append(c)
            for c in conns:
                try:
                    c.send("org.varlink.service.GetInfo")
                    if c.recv_raw():
                        served += 1
                except (socket.timeout, OSError):
                    pass
            check(0 < served < 30, "served %d of 30 with 24 descriptors" % served)
            # The daemon's own pid is prlimit's: prlimit execs it.
            t0 = proc_cpu_ticks(d.proc.pid)
            time.sleep(1.0)
            ticks = proc_cpu_ticks(d.proc.pid) - t0
            check(ticks < 20, "daemon used %d ticks of CPU in 1 s while out of fds" % ticks)
        finally:
            for c in conns:
                c.close()
        time.sleep(0.6)
        served_anew(d, "not served after descriptors were freed")
        check("pausing new connections" in d.log(), "no pause was logged")


def case_socket_activation():
    """Started by systemd socket activation: serves the socket it was given."""
    tool = shutil.which("systemd-socket-activate")
    if not tool:
        raise Skip("systemd-socket-activate not installed")
    d = Daemon()
    unused = d.socket + ".unused"
    plain_args = d.args

    def activated_args():
        a = plain_args()
        a[a.index("--socket") + 1] = unused
        return [tool, "-l", d.socket, "--"] + a
    d.args = activated_args
    with d:
        r = d.call("io.assignd.Broker.GetStatus")
        check(err(r) is None and params(r)["devices"]["total"] > 0, "GetStatus: %r" % r)
        check(not os.path.exists(unused), "the daemon bound --socket despite activation")
        d.stop()
        check(os.path.exists(d.socket), "the daemon removed the socket systemd owns")


def as_nobody(fn, gid=65534, groups=()):
    """Run fn() in a child as uid 65534; returns its exit status (0 = passed)."""
    if os.geteuid() != 0:
        raise Skip("needs root to switch to uid 65534")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups(list(groups))
            os.setgid(gid)
            os.setuid(65534)
            fn()
            code = 0
        except BaseException as e:    # report and exit; never return into the parent's code
            print("as nobody: %s: %s" % (type(e).__name__, e), flush=True)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def refused(method, p=None):
    r = D.call(method, p)
    check(err(r) == "org.varlink.service.PermissionDenied", "%s not refused: %r" % (method, r))
    check(params(r) == {}, "the standard PermissionDenied declares no parameters: %r" % params(r))


def allowed(method, p=None):
    r = D.call(method, p)
    check(err(r) is None, "%s refused: %r" % (method, r))


def case_non_root():
    global D
    path = device_paths()[0]
    policy = {"path": path, "dma": "none", "note": "as nobody"}

    def outsider():
        allowed("org.varlink.service.GetInfo")
        refused("io.assignd.Broker.GetStatus")
        refused("io.assignd.Broker.GetDevice", {"path": path})
        refused("io.assignd.Broker.ListDevices")
        refused("io.assignd.Broker.SetDevicePolicy", policy)

    def reader():
        allowed("io.assignd.Broker.GetStatus")
        allowed("io.assignd.Broker.GetDevice", {"path": path})
        refused("io.assignd.Broker.SetDevicePolicy", policy)

    def writer():
        allowed("io.assignd.Broker.GetStatus")
        allowed("io.assignd.Broker.SetDevicePolicy", policy)

    # The default group ("assignd") normally does not exist here: only root may.
    check(as_nobody(outsider) == 0, "outsider case failed")

    try:
        import grp
        if grp.getgrnam("nogroup").gr_gid != 65534:
            raise KeyError
    except KeyError:
        raise Skip("no group 'nogroup' with gid 65534 for the member cases")

    shared = D
    try:
        # Group member by supplementary group, then by primary group.
        with Daemon(extra_args=["--group", "nogroup"]) as d:
            D = d
            check(as_nobody(outsider, gid=65533) == 0, "non-member was served")
            check(as_nobody(reader, gid=65533, groups=[65534]) == 0, "member (supplementary)")
            check(as_nobody(reader, gid=65534) == 0, "member (primary)")
        with Daemon(extra_args=["--group", "nogroup", "--group-may-write"]) as d:
            D = d
            check(as_nobody(writer, gid=65534) == 0, "--group-may-write not honoured")
            dev = d.broker("GetDevice", {"path": path})["device"]
            check(dev["policy"] and dev["policy"]["set_by_uid"] == 65534,
                  "policy not recorded as set by uid 65534: %r" % dev["policy"])
    finally:
        D = shared


def main():
    global D
    cases = [
        ("GetInfo", case_getinfo),
        ("GetInterfaceDescription", case_interface_description),
        ("malformed JSON", case_malformed_json),
        ("not an object", case_not_an_object),
        ("missing or malformed method", case_missing_method),
        ("unknown interface and method", case_unknown_interface_and_method),
        ("missing, mistyped, unknown parameters", case_parameters),
        ("malformed message behind a Monitor stream", case_malformed_behind_monitor),
        ("oversized message", case_oversized),
        ("pipelined calls answered in order", case_pipelined),
        ("client disconnecting mid-call", case_disconnect_mid_call),
        ("connection limit per uid", case_connection_limit_per_uid),
        ("EMFILE pauses accepting", case_emfile),
        ("systemd socket activation", case_socket_activation),
        ("non-root callers", case_non_root),
    ]
    try:
        D = Daemon()
    except Skip as e:
        print("SKIP: %s" % e)
        sys.exit(77)
    with D:
        run_cases(cases)


if __name__ == "__main__":
    main()
