# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon through Debian's Go Varlink library (golang-github-varlink-go-dev).

A tiny client (tests/clients/varlink-go) is built here against the
library as Debian 12 installs it (GOPATH mode over /usr/share/gocode, no
network) and calls GetInfo, GetStatus and ListDevices with "parameters":
null, GetStatus with "more", and a GetDevice the daemon refuses, all over
one connection.  What it prints is checked against the daemon's own raw
answers.  Exits 77, saying why, without Go or the library.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import Daemon, Skip, check, run_cases

TEST_SRC_DIR = os.environ.get("TEST_SRC_DIR", os.path.join(os.path.dirname(__file__), ".."))
SOURCE = os.path.join(TEST_SRC_DIR, "clients", "varlink-go", "main.go")
GOPATH = "/usr/share/gocode"
LIBRARY = os.path.join(GOPATH, "src", "github.com", "varlink", "go", "varlink")
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                     os.path.join(os.environ.get("HOME", "/tmp"), ".cache"), "assignd-go-build")


def build(outdir):
    go = shutil.which("go")
    if not go:
        raise Skip("no go (package golang-go)")
    if not os.path.isdir(LIBRARY):
        raise Skip("%s missing (package golang-github-varlink-go-dev)" % LIBRARY)
    binary = os.path.join(outdir, "varlink-go")
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOCACHE=CACHE, GOFLAGS="",
               GOPROXY="off", CGO_ENABLED="0")
    p = subprocess.run([go, "build", "-o", binary, SOURCE], capture_output=True, text=True,
                       timeout=600, env=env)
    check(p.returncode == 0, "go build failed:\n%s" % p.stderr)
    return binary


def case_go_client():
    tmp = tempfile.mkdtemp(prefix="varlink-go-")
    try:
        binary = build(tmp)
        with Daemon() as d:
            p = subprocess.run([binary, d.socket], capture_output=True, text=True, timeout=60)
            check(p.returncode == 0, "the Go client failed: %s\n%s" % (p.stderr, d.log()))
            got = json.loads(p.stdout)
            info = d.call("org.varlink.service.GetInfo")["parameters"]
            status = d.broker("GetStatus")
            devices = d.broker("ListDevices")["devices"]
            check(got["vendor"] == info["vendor"] and got["version"] == info["version"] and
                  sorted(got["interfaces"]) == sorted(info["interfaces"]), "GetInfo: %r" % got)
            check(got["status_version"] == status["version"] and got["backend"] == "sim" and
                  got["total"] == status["devices"]["total"], "GetStatus: %r" % got)
            check(got["paths"] == [x["path"] for x in devices], "ListDevices: %r" % got["paths"])
            check(got["more_continues"] is False and got["more_version"] == status["version"],
                  "GetStatus with more: %r" % got)
            check(got["not_found_error"] == "io.assignd.Broker.DeviceNotFound",
                  "the refusal: %r" % got)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_cases([("Go varlink client, null parameters", case_go_client)])
