#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compile a .dts with dtc, then put hostile bytes where dtc cannot.

dtc writes node and property names only of the characters the
Devicetree Specification allows.  A fixture that needs other bytes in a
name writes a placeholder of the same length and lists, in its comment,
lines of the form

    patch: "PLACEHOLDER" "BYTES"

with BYTES in C escapes (\\n, \\", \\\\, \\xNN).  Every occurrence of each
placeholder in the compiled blob (node names in the structure block,
property names in the strings block, alias and other string values) is
replaced by its bytes.  Lengths must match, so the blob's layout does not
change and it stays structurally valid; a placeholder that is missing
from the blob is an error, so a fixture cannot silently lose its point.

Usage: patch-names.py DTC INPUT.dts OUTPUT.dtb
"""
import re
import subprocess
import sys

PATCH = re.compile(r'patch:\s*"((?:[^"\\]|\\.)*)"\s*"((?:[^"\\]|\\.)*)"')


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = text[i + 1]
        if n == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
            continue
        out += {"n": b"\n", "t": b"\t", "r": b"\r", '"': b'"', "\\": b"\\"}[n]
        i += 2
    return bytes(out)


def main():
    dtc, src, dst = sys.argv[1:4]
    with open(src) as f:
        text = f.read()
    patches = [(unescape(a), unescape(b)) for a, b in PATCH.findall(text)]
    blob = subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", src], check=True,
                          stdout=subprocess.PIPE).stdout
    for old, new in patches:
        if len(old) != len(new):
            sys.exit("%s: %r and %r differ in length" % (src, old, new))
        if old not in blob:
            sys.exit("%s: placeholder %r is not in the compiled blob" % (src, old))
        blob = blob.replace(old, new)
    with open(dst, "wb") as f:
        f.write(blob)


if __name__ == "__main__":
    main()
