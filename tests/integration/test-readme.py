# SPDX-License-Identifier: GPL-2.0-or-later
"""The README's tour runs as written.

Every command of the code blocks from "A short tour" to "Layout" is run,
in order, by one bash from the repository root, after the README's first
command (the build, which meson has done).  Blocks that begin "# on a Xen
dom0" are for a real dom0, and those that begin "# with ImageBuilder" need
ImageBuilder on a build host: both are left out.  What this test changes, and
only this: the tour's scratch directory /tmp/a becomes a directory of its
own (tests may run next to each other), build/ becomes the build
directory when it is elsewhere, a command the README says runs "until
interrupted" is interrupted after a second, and after the line that starts
the daemon in the background the test waits for its socket, as a person
typing would.  A command that fails fails the test, naming it.
"""

import os
import re
import shutil
import subprocess
import tempfile

from harness import Skip, check, run_cases

TEST_SRC_DIR = os.environ.get("TEST_SRC_DIR", os.path.join(os.path.dirname(__file__), ".."))
ROOT = os.path.realpath(os.path.join(TEST_SRC_DIR, ".."))
README = os.path.join(ROOT, "README.md")
BUILD_ROOT = os.environ.get("BUILD_ROOT", os.path.join(ROOT, "build"))
FIRST = "## A short tour"
LAST = "## Layout"
DOM0 = "# on a Xen dom0"
IMAGEBUILDER = "# with ImageBuilder"


def tour_blocks():
    """The code blocks of the tour: lists of commands (continuation lines joined)."""
    with open(README) as f:
        text = f.read()
    check(FIRST in text and LAST in text, "the README has no %r ... %r" % (FIRST, LAST))
    text = text[text.index(FIRST):text.index(LAST)]
    blocks, cur = [], None
    for line in text.split("\n"):
        if line.startswith("    "):
            if cur is None:
                cur = []
                blocks.append(cur)
            cur.append(line[4:])
        elif line.strip():
            cur = None
    commands = []
    for block in blocks:
        if block[0].startswith((DOM0, IMAGEBUILDER)):
            continue
        joined = "\n".join(block).replace("\\\n", " ")
        lines = [l.strip() for l in joined.split("\n")]
        commands.append([l for l in lines if l and not l.startswith("#")])
    return [b for b in commands if b]


def script(blocks, scratch):
    """One bash script running every command, stopping at the first that fails."""
    out = ['cd "%s"' % ROOT,
           'trap \'kill $(jobs -p) 2>/dev/null; wait\' EXIT']
    build = os.path.realpath(BUILD_ROOT)
    for block in blocks:
        for cmd in block:
            run = cmd.replace("/tmp/a", scratch)
            if build != os.path.join(ROOT, "build"):
                run = re.sub(r"(?<![\w/])(\$PWD/)?build/", build + "/", run)
            quoted = cmd.replace("'", "'\\''")
            out.append("printf '%%s\\n' '$ %s' >&2" % quoted)
            if run.endswith("&"):
                out.append(run)
                # As a person would: the next command once the daemon answers.
                out.append('for i in $(seq 200); do assignctl status >/dev/null 2>&1 && break; '
                           'sleep 0.05; done')
                continue
            if re.search(r"\bmonitor\b", run):
                out.append("timeout -s INT 1 %s; rc=$?; [ $rc = 124 ] && rc=0" % run)
            else:
                out.append(run + "; rc=$?")
            out.append("[ $rc = 0 ] || { echo 'README command failed (exit '$rc'): %s' >&2; "
                       "exit 1; }" % quoted)
    return "\n".join(out) + "\n"


def case_tour():
    if os.geteuid() != 0:
        raise Skip("the tour's writes need root, as the README says")
    if not shutil.which("timeout"):
        raise Skip("no timeout (coreutils)")
    blocks = tour_blocks()
    flat = [c for b in blocks for c in b]
    check(any(c.startswith("assignd ") for c in flat), "the tour does not start the daemon")
    check(sum(c.startswith("assignctl ") for c in flat) >= 15, "the tour has few commands: %r" % flat)
    scratch = tempfile.mkdtemp(prefix="readme-tour-")
    try:
        env = dict(os.environ)
        env.pop("ASSIGND_SOCKET", None)
        env.pop("COLUMNS", None)
        p = subprocess.run(["bash", "-c", script(blocks, scratch)], capture_output=True,
                           text=True, timeout=300, env=env)
        check(p.returncode == 0, "the tour failed:\n%s" % p.stderr[-4000:])
        # It did what it says: a reservation taken up, files where the tour put them.
        check("web" in p.stdout and "assigned" in p.stdout, "no lease of web:\n%s" % p.stdout[-2000:])
        for f in ("web.cfg", "web.dtb", "rtc.dtb", "domU1-pt.dtb"):
            check(os.path.exists(os.path.join(scratch, f)), "the tour wrote no %s" % f)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # Nothing the tour wrote landed in the checkout.
    for f in ("web.cfg", "web.dtb", "rtc.dtb", "domU1-pt.dtb"):
        check(not os.path.exists(os.path.join(ROOT, f)), "the tour left %s in the checkout" % f)


if __name__ == "__main__":
    run_cases([("the README's tour, as written", case_tour)])
