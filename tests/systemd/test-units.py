#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What `meson install` puts in place for systemd, checked as installed.

The build is installed with DESTDIR into a scratch root; then:
- `systemd-analyze verify` accepts the units there (with the host's
  standard targets and the commands the units run copied in, since a
  DESTDIR holds only the project's files), and the man pages the units
  name are found in the installed tree;
- `systemd-analyze security --offline=true` prints the service's exposure,
  which must be at most 2.0;
- every path a unit names comes from the build's prefix, so a /usr/local
  build runs under its own unit;
- the journal catalog has one entry per MESSAGE_ID of daemon/util/log.h
  and nothing else, and journalctl compiles it;
- the sysusers and tmpfiles snippets parse, and the Varlink interface file
  is installed (and validated, where varlinkctl can).

Usage: test-units.py BUILD_DIR SOURCE_DIR.  Exits 77 (saying why) without
systemd-analyze.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Fail, Skip, check, run_cases  # noqa: E402

BUILD, SRC = sys.argv[1], sys.argv[2]
EXPOSURE_MAX = 2.0
ROOT = None
INFO = {}


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def install():
    global ROOT
    if not shutil.which("systemd-analyze"):
        raise Skip("no systemd-analyze (package systemd)")
    ROOT = tempfile.mkdtemp(prefix="assignd-install-")
    r = sh(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", ROOT])
    check(r.returncode == 0, "meson install failed:\n%s%s" % (r.stdout, r.stderr))
    r = sh(["meson", "introspect", BUILD, "--buildoptions"])
    import json
    opts = {o["name"]: o["value"] for o in json.loads(r.stdout)}
    prefix = opts["prefix"]
    INFO["prefix"] = prefix
    INFO["sbindir"] = os.path.join(prefix, opts["sbindir"])
    INFO["statedir"] = os.path.join(prefix, opts["localstatedir"], "lib", "assignd")
    INFO["confdir"] = os.path.join(prefix, opts["sysconfdir"], "assignd")
    INFO["unitdir"] = os.path.join(ROOT + prefix, "lib", "systemd", "system")
    INFO["mandir"] = os.path.join(ROOT + prefix, opts["mandir"])


def unit(name):
    return os.path.join(INFO["unitdir"], name)


def case_installed():
    """Everything the issue lists is where systemd and man look for it."""
    p = INFO["prefix"]
    want = [
        INFO["sbindir"] + "/assignd",
        p + "/lib/systemd/system/assignd.service",
        p + "/lib/systemd/system/assignd.socket",
        p + "/lib/sysusers.d/assignd.conf",
        p + "/lib/tmpfiles.d/assignd.conf",
        p + "/lib/systemd/catalog/assignd.catalog",
        INFO["confdir"] + "/assignd.conf",
        INFO["confdir"] + "/dma.d/00-example.conf",
        INFO["confdir"] + "/assignd.conf.d",
        INFO["statedir"],
        p + "/share/varlink/io.assignd.Broker.varlink",
    ]
    missing = [w for w in want if not os.path.exists(ROOT + w)]
    for page in ("man8/assignd.8", "man5/assignd.conf.5", "man1/assignctl.1"):
        if not os.path.exists(os.path.join(INFO["mandir"], page)):
            missing.append(page)
    check(not missing, "not installed: %s" % missing)


def case_paths_from_prefix():
    """The unit's paths are the build's, whatever the prefix."""
    svc = open(unit("assignd.service")).read()
    check("ExecStart=%s/assignd\n" % INFO["sbindir"] in svc, "ExecStart is not %s/assignd" % INFO["sbindir"])
    check("ReadWritePaths=%s\n" % INFO["statedir"] in svc, "ReadWritePaths is not %s" % INFO["statedir"])
    check(not re.search(r"@[A-Za-z_]+@", svc), "an unreplaced @...@ in the unit")
    tmp = open(ROOT + INFO["prefix"] + "/lib/tmpfiles.d/assignd.conf").read()
    check("d %s " % INFO["statedir"] in tmp, "tmpfiles does not create %s" % INFO["statedir"])
    # The daemon's own defaults agree with the unit.
    r = sh([os.path.join(BUILD, "daemon", "assignd"), "--print-config",
            "--config-dir", os.path.join(ROOT, "nonexistent")])
    check("Database = %s/inventory.db ;" % INFO["statedir"] in r.stdout,
          "the daemon's default database is not under %s:\n%s" % (INFO["statedir"], r.stdout))
    r = sh([os.path.join(BUILD, "daemon", "assignd"), "--help"])
    check("(default %s)" % INFO["confdir"] in r.stdout.replace("\n                          ", " "),
          "the daemon's default config dir is not %s" % INFO["confdir"])


def verify_root():
    """A copy of the installed tree with what the units need from the host."""
    root = tempfile.mkdtemp(prefix="assignd-verify-")
    shutil.copytree(ROOT, root, dirs_exist_ok=True, symlinks=True)
    sysd = os.path.join(root, "usr", "lib", "systemd", "system")
    os.makedirs(sysd, exist_ok=True)
    for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f.endswith((".target", ".slice")) and not os.path.islink(os.path.join(d, f)):
                    shutil.copy(os.path.join(d, f), sysd)
    for cmd in ("grep", "kill"):
        path = shutil.which(cmd)
        check(path is not None, "no %s on the host" % cmd)
        os.makedirs(os.path.join(root, "usr", "bin"), exist_ok=True)
        shutil.copy(path, os.path.join(root, "usr", "bin", cmd))
    return root


def case_verify():
    root = verify_root()
    env = dict(os.environ, MANPATH=INFO["mandir"])
    r = sh(["systemd-analyze", "verify", "--root=" + root,
            unit("assignd.service").replace(ROOT, root), unit("assignd.socket").replace(ROOT, root)],
           env=env)
    out = (r.stdout + r.stderr).strip()
    print("    systemd-analyze verify: exit %d%s" % (r.returncode, (": " + out) if out else ""))
    check(r.returncode == 0 and not out, "systemd-analyze verify complains:\n%s" % out)
    shutil.rmtree(root, ignore_errors=True)


def case_security():
    r = sh(["systemd-analyze", "security", "--offline=true", "--root=" + ROOT, unit("assignd.service")])
    m = re.search(r"Overall exposure level for assignd.service: ([0-9.]+)", r.stdout)
    check(m, "no exposure level in:\n%s%s" % (r.stdout, r.stderr))
    level = float(m.group(1))
    print("    exposure: %s (at most %.1f)" % (m.group(0), EXPOSURE_MAX))
    for line in r.stdout.splitlines():
        if line.startswith("\u2717"):
            print("     " + line.rstrip())
    check(level <= EXPOSURE_MAX, "exposure %.1f is over %.1f" % (level, EXPOSURE_MAX))


def case_catalog():
    ids = dict(re.findall(r'#define (LOG_MESSAGE_\w+) "([0-9a-f]{32})"',
                          open(os.path.join(SRC, "daemon", "util", "log.h")).read()))
    cat = open(ROOT + INFO["prefix"] + "/lib/systemd/catalog/assignd.catalog").read()
    in_cat = re.findall(r"(?m)^-- ([0-9a-f]{32})$", cat)
    check(len(ids) >= 11, "log.h defines %d message ids, expected at least 11" % len(ids))
    check(sorted(in_cat) == sorted(ids.values()),
          "catalog and log.h differ: only in log.h %s, only in the catalog %s" %
          (sorted(set(ids.values()) - set(in_cat)), sorted(set(in_cat) - set(ids.values()))))
    check(len(set(ids.values())) == len(ids), "two events share a MESSAGE_ID")
    if not shutil.which("journalctl"):
        return
    root = tempfile.mkdtemp(prefix="assignd-catalog-")
    d = os.path.join(root, "usr", "lib", "systemd", "catalog")
    os.makedirs(d)
    shutil.copy(ROOT + INFO["prefix"] + "/lib/systemd/catalog/assignd.catalog", d)
    r = sh(["journalctl", "--root=" + root, "--update-catalog"])
    check(r.returncode == 0, "journalctl --update-catalog: %s" % r.stderr)
    r = sh(["journalctl", "--root=" + root, "--list-catalog"])
    listed = re.findall(r"(?m)^([0-9a-f]{32}) ", r.stdout)
    check(sorted(listed) == sorted(ids.values()),
          "journalctl lists %d of %d entries: %s" % (len(listed), len(ids), r.stdout + r.stderr))
    shutil.rmtree(root, ignore_errors=True)


def case_sysusers_tmpfiles():
    p = ROOT + INFO["prefix"]
    if shutil.which("systemd-sysusers"):
        r = sh(["systemd-sysusers", "--dry-run", "--root=" + tempfile.mkdtemp(), p + "/lib/sysusers.d/assignd.conf"])
        check(r.returncode == 0 and "assignd" in r.stdout + r.stderr,
              "systemd-sysusers: %s%s" % (r.stdout, r.stderr))
    sysusers = open(p + "/lib/sysusers.d/assignd.conf").read()
    check(re.search(r"(?m)^g assignd ", sysusers), "the sysusers file does not create group assignd")
    if shutil.which("systemd-tmpfiles"):
        root = tempfile.mkdtemp(prefix="assignd-tmpfiles-")
        r = sh(["systemd-tmpfiles", "--root=" + root, "--create", p + "/lib/tmpfiles.d/assignd.conf"])
        check(r.returncode == 0, "systemd-tmpfiles: %s" % r.stderr)
        check(os.path.isdir(root + INFO["statedir"]), "tmpfiles did not create %s" % INFO["statedir"])
        check(os.path.isdir(root + INFO["confdir"] + "/dma.d"), "tmpfiles did not create dma.d")
        shutil.rmtree(root, ignore_errors=True)


def case_varlink_file():
    f = ROOT + INFO["prefix"] + "/share/varlink/io.assignd.Broker.varlink"
    check(open(f).read() == open(os.path.join(SRC, "proto", "io.assignd.Broker.varlink")).read(),
          "the installed interface file differs from proto/'s")
    if shutil.which("varlinkctl"):
        r = sh(["varlinkctl", "validate-idl", f])
        if "Unknown command" not in r.stderr:
            check(r.returncode == 0, "varlinkctl validate-idl: %s" % r.stderr)


def case_example_config_loads():
    """The installed assignd.conf and dma.d example are accepted as they are."""
    r = sh([os.path.join(BUILD, "daemon", "assignd"), "--print-config",
            "--config-dir", ROOT + INFO["confdir"]])
    check(r.returncode == 0, "the installed configuration is refused: %s" % r.stderr)


if __name__ == "__main__":
    try:
        install()
    except Skip as e:
        print("SKIP: %s" % e)
        sys.exit(77)
    try:
        run_cases([
            ("installed", case_installed),
            ("paths from the prefix", case_paths_from_prefix),
            ("systemd-analyze verify", case_verify),
            ("security exposure", case_security),
            ("journal catalog", case_catalog),
            ("sysusers and tmpfiles", case_sysusers_tmpfiles),
            ("varlink interface file", case_varlink_file),
            ("example configuration loads", case_example_config_loads),
        ])
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)
