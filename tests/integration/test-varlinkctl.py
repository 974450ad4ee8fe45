# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon through systemd's varlinkctl, a Varlink client assignd did not write.

varlinkctl is Debian 13's (systemd 257), fetched as amd64 packages with
apt's own options by tests/clients/fetch-varlinkctl into ~/.cache and run
with the packages' own dynamic loader and libraries (Debian 12's systemd
has no varlinkctl).  $VARLINKCTL names another varlinkctl to use instead.
The script exits 77, saying why, when the packages cannot be had.

Exercised: info, list-interfaces, list-methods, introspect and validate-idl
of every interface, a call of every method that only reads (checked
against what the daemon answers a raw call), --more on Monitor and on a
single-reply method, --collect, a call the daemon refuses to an outsider,
and parameters that are wrong in type and in value.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import Daemon, Fail, Skip, check, run_cases

TEST_SRC_DIR = os.environ.get("TEST_SRC_DIR", os.path.join(os.path.dirname(__file__), ".."))
FETCH = os.path.join(TEST_SRC_DIR, "clients", "fetch-varlinkctl")
PROTO = os.path.join(TEST_SRC_DIR, "..", "proto")
ENV = dict(os.environ, SYSTEMD_PAGER="cat", PAGER="cat", SYSTEMD_COLORS="0")

BROKER = "io.assignd.Broker"
SIM = "io.assignd.Simulator"
SERVICE = "org.varlink.service"

# Methods that change state, called here by the raw harness only; every
# other method is a read and is called through varlinkctl below.
WRITES = {"SetDevicePolicy", "Assign", "Release", "Reserve", "CancelReservation",
          "CreateDomain", "DestroyDomain", "ReapDomain", "KillDomain", "PopulateMemory",
          "UnpauseDomain", "FinishBuilding", "SetFailpoint"}
# Replies that change from one call to the next.
VOLATILE = {"uptime_seconds", "connections", "monitors"}

VARLINKCTL = None
D = None


def find_varlinkctl():
    if os.environ.get("VARLINKCTL"):
        return [os.environ["VARLINKCTL"]]
    if not os.path.exists(FETCH):
        raise Skip("%s not found" % FETCH)
    p = subprocess.run(["bash", FETCH], capture_output=True, text=True, timeout=1200)
    if p.returncode == 77:
        raise Skip("Debian 13's varlinkctl cannot be had here: %s" %
                   (p.stderr.strip().splitlines() or ["(no reason given)"])[-1])
    if p.returncode != 0:
        raise Fail("fetch-varlinkctl failed (%d):\n%s" % (p.returncode, p.stderr))
    loader, libs, binary = p.stdout.split("\n")[:3]
    return [loader, "--library-path", libs, binary]


def vctl(*args, user=None, cmd=None, timeout=30):
    return subprocess.run((cmd or VARLINKCTL) + list(args), capture_output=True, text=True,
                          timeout=timeout, env=ENV, user=user, group=user,
                          extra_groups=[] if user is not None else None)


def vcall(method, params=None, *flags):
    """varlinkctl call; returns the completed process (stdout: the reply, one JSON line)."""
    return vctl("call", "--json=short", *flags, D.socket, method, json.dumps(params or {}))


def raw(method, params=None):
    r = D.call(method, params)
    check("error" not in r, "raw %s failed: %r" % (method, r))
    return r.get("parameters", {})


def steady(o):
    if isinstance(o, dict):
        return {k: steady(v) for k, v in o.items() if k not in VOLATILE}
    if isinstance(o, list):
        return [steady(v) for v in o]
    return o


def replies(out):
    """The replies of a --more call: JSON texts, each line maybe led by RS (JSON-SEQ)."""
    return [json.loads(x) for x in out.replace("\x1e", "\n").split("\n") if x.strip()]


def declared_methods(iface):
    text = raw(SERVICE + ".GetInterfaceDescription", {"interface": iface})["description"]
    return sorted(l.split()[1].split("(")[0] for l in text.splitlines() if l.startswith("method "))


# ---- cases ------------------------------------------------------------------


def case_info():
    p = vctl("info", D.socket)
    check(p.returncode == 0, "info: %d %s" % (p.returncode, p.stderr))
    check("assignd" in p.stdout, "info does not name the vendor: %r" % p.stdout)
    p = vctl("--json=short", "info", D.socket)
    info = json.loads(p.stdout)
    want = raw(SERVICE + ".GetInfo")
    check(info["vendor"] == want["vendor"] and info["version"] == want["version"] and
          sorted(info["interfaces"]) == sorted(want["interfaces"]), "info %r, GetInfo %r" %
          (info, want))
    check(sorted(want["interfaces"]) == [BROKER, SIM, SERVICE], "interfaces %r" % want)


def case_list_interfaces_and_methods():
    p = vctl("list-interfaces", D.socket)
    check(p.returncode == 0 and sorted(p.stdout.split()) == [BROKER, SIM, SERVICE],
          "list-interfaces: %r %s" % (p.stdout, p.stderr))
    for iface in (BROKER, SIM, SERVICE):
        p = vctl("list-methods", D.socket, iface)
        got = sorted(l.rsplit(".", 1)[1] for l in p.stdout.split())
        check(p.returncode == 0 and got == declared_methods(iface),
              "list-methods %s: %r" % (iface, p.stdout))


def case_introspect_and_validate():
    for iface in (BROKER, SIM, SERVICE):
        p = vctl("introspect", D.socket, iface)
        check(p.returncode == 0, "introspect %s: %s" % (iface, p.stderr))
        for m in declared_methods(iface):
            check("method %s(" % m in p.stdout, "introspect %s lacks %s" % (iface, m))
        # What it printed, and the file the daemon serves, both validate.
        v = subprocess.run(VARLINKCTL + ["validate-idl"], input=p.stdout, capture_output=True,
                           text=True, timeout=30, env=ENV)
        check(v.returncode == 0, "validate-idl of introspect %s: %s" % (iface, v.stderr))
        path = os.path.join(PROTO, iface + ".varlink")
        v = vctl("validate-idl", path)
        check(v.returncode == 0, "validate-idl %s: %s" % (path, v.stderr))
    # The validator does refuse a broken definition, so the passes above mean something.
    v = subprocess.run(VARLINKCTL + ["validate-idl"], input="interface a.b\nmethod X(\n",
                       capture_output=True, text=True, timeout=30, env=ENV)
    check(v.returncode != 0, "validate-idl accepted a broken definition")


def read_calls():
    devs = raw(BROKER + ".ListDevices")["devices"]
    path = devs[0]["path"]
    free = [x["path"] for x in devs if x["assignable"] and x["dma"] == "none" and not x["group"]]
    check(free, "no free register-only device on the demo board")
    gen = {"devices": [free[0]]}
    return {
        SERVICE + ".GetInfo": {},
        SERVICE + ".GetInterfaceDescription": {"interface": BROKER},
        BROKER + ".GetStatus": {},
        BROKER + ".ListDevices": {},
        BROKER + ".GetDevice": {"path": path},
        BROKER + ".ListLeases": {"all": True},
        BROKER + ".GetAuditLog": {"limit": 0},
        BROKER + ".GetDeviceHistory": {"path": path},
        BROKER + ".GuestDeviceTree": gen,
        BROKER + ".XlConfig": dict(gen, name="web"),
        BROKER + ".ImageBuilderConfig": gen,
        SIM + ".GetState": {},
        SIM + ".GetCounters": {},
    }


def case_call_every_read_method():
    # Something in the leases and the audit log first.
    path = raw(BROKER + ".ListDevices")["devices"][0]["path"]
    raw(BROKER + ".SetDevicePolicy", {"path": path, "note": "varlinkctl test"})
    calls = read_calls()
    for iface in (BROKER, SIM, SERVICE):
        for m in declared_methods(iface):
            q = "%s.%s" % (iface, m)
            check(q in calls or m in WRITES or m == "Monitor",
                  "%s is neither a read this test calls nor a known write" % q)
    for method, params in calls.items():
        p = vcall(method, params)
        check(p.returncode == 0, "call %s: %d %s" % (method, p.returncode, p.stderr))
        got = json.loads(p.stdout)
        check(steady(got) == steady(raw(method, params)),
              "%s through varlinkctl differs from the raw answer" % method)


def case_more_on_monitor():
    """--more on Monitor: the opening reply, then an event as it happens."""
    path = raw(BROKER + ".ListDevices")["devices"][1]["path"]
    # varlinkctl prints what it got when its timeout ends the stream.
    mon = subprocess.Popen(VARLINKCTL + ["call", "--more", "--json=short", "--timeout=3",
                                         D.socket, BROKER + ".Monitor", "{}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 10
        while raw(BROKER + ".GetStatus")["monitors"] < 1:
            check(time.monotonic() < deadline, "varlinkctl's Monitor never connected")
            time.sleep(0.05)
        raw(BROKER + ".SetDevicePolicy", {"path": path, "note": "an event for varlinkctl"})
        out, err = mon.communicate(timeout=20)
    finally:
        if mon.poll() is None:
            mon.kill()
            mon.wait()
    got = replies(out)
    check(len(got) >= 2, "Monitor --more gave %r (%s)" % (out, err))
    check(got[0]["event"] is None and got[0]["boot_id"], "opening reply %r" % got[0])
    ev = got[-1]["event"]
    check(ev and ev["type"] == "inventory-changed" and ev["devices"] == [path],
          "event %r" % got[-1])
    # Without --more, the standard ExpectedMore.
    p = vcall(BROKER + ".Monitor")
    check(p.returncode != 0 and "org.varlink.service.ExpectedMore" in p.stderr,
          "Monitor without --more: %d %s" % (p.returncode, p.stderr))


def case_more_on_single_reply():
    p = vcall(BROKER + ".GetStatus", {}, "--more")
    check(p.returncode == 0, "GetStatus --more: %d %s" % (p.returncode, p.stderr))
    got = replies(p.stdout)
    check(len(got) == 1 and got[0]["version"], "GetStatus --more: %r" % p.stdout)


def case_collect():
    for method in (BROKER + ".ListLeases", BROKER + ".ListDevices"):
        p = vcall(method, {}, "--collect")
        check(p.returncode == 0, "%s --collect: %d %s" % (method, p.returncode, p.stderr))
        got = json.loads(p.stdout)
        check(isinstance(got, list) and len(got) == 1 and got[0] == raw(method),
              "%s --collect: %r" % (method, p.stdout[:200]))


def case_denied():
    if os.geteuid() != 0:
        raise Skip("needs root to call as uid 65534")
    cmd = VARLINKCTL
    tmp = None
    if not os.environ.get("VARLINKCTL"):
        # The cache is in root's home, which uid 65534 cannot enter: a hard-linked copy.
        tmp = tempfile.mkdtemp(prefix="varlinkctl-")
        os.chmod(tmp, 0o755)
        root = os.path.dirname(os.path.dirname(os.path.dirname(VARLINKCTL[-1])))
        copy = os.path.join(tmp, "root")
        if subprocess.run(["cp", "-al", root, copy], capture_output=True).returncode != 0:
            shutil.copytree(root, copy, symlinks=True)
        cmd = [a.replace(root, copy) for a in VARLINKCTL]
    try:
        p = vctl("call", D.socket, BROKER + ".GetStatus", "{}", user=65534, cmd=cmd)
        check(p.returncode != 0 and "org.varlink.service.PermissionDenied" in p.stderr,
              "GetStatus as uid 65534: %d %r %r" % (p.returncode, p.stdout, p.stderr))
        p = vctl("call", D.socket, SERVICE + ".GetInfo", "{}", user=65534, cmd=cmd)
        check(p.returncode == 0, "introspection refused to uid 65534: %s" % p.stderr)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def case_bad_parameters():
    p = vcall(BROKER + ".GetDevice", {"path": 5})
    check(p.returncode != 0 and "org.varlink.service.InvalidParameter" in p.stderr and
          json.loads(p.stdout) == {"parameter": "path"}, "wrong type: %r %r" % (p.stdout, p.stderr))
    p = vcall(BROKER + ".GetDevice", {"path": "/", "colour": "blue"})
    check(p.returncode != 0 and json.loads(p.stdout) == {"parameter": "colour"},
          "unknown field: %r" % p.stdout)
    p = vcall(BROKER + ".ListDevices", {"coverage": "shiny"})
    check(p.returncode != 0 and "io.assignd.Broker.InvalidArgument" in p.stderr and
          json.loads(p.stdout)["field"] == "coverage", "bad value: %r %r" % (p.stdout, p.stderr))
    p = vcall(BROKER + ".GetDevice", {"path": "/no/such@0"})
    check(p.returncode != 0 and "io.assignd.Broker.DeviceNotFound" in p.stderr,
          "unknown device: %r" % p.stderr)


def main():
    global VARLINKCTL, D
    try:
        VARLINKCTL = find_varlinkctl()
        p = subprocess.run(VARLINKCTL + ["--version"], capture_output=True, text=True,
                           timeout=30, env=ENV)
        if p.returncode != 0:
            raise Skip("varlinkctl does not run here: %s" % p.stderr.strip())
        print("# %s" % p.stdout.splitlines()[0])
        D = Daemon()
    except Skip as e:
        print("SKIP: %s" % e)
        print("0 passed, 0 failed, 1 skipped")
        sys.exit(77)
    with D:
        run_cases([
            ("info", case_info),
            ("list-interfaces, list-methods", case_list_interfaces_and_methods),
            ("introspect, validate-idl", case_introspect_and_validate),
            ("call every read method", case_call_every_read_method),
            ("--more on Monitor", case_more_on_monitor),
            ("--more on a single-reply method", case_more_on_single_reply),
            ("--collect", case_collect),
            ("denied call", case_denied),
            ("bad parameters", case_bad_parameters),
        ])


if __name__ == "__main__":
    main()
