# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared settings for the real-Xen harness (fetch, cross-build, boot, run).
# Every script sources this file: it fixes where the work directory lives
# (outside the repository, so nothing downloaded or built can end up in git),
# which Debian suite and Xen version a run is about, and the exit status
# convention (77 = cannot run here, with the reason printed).

XEN_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$XEN_SRC_DIR/../.." && pwd)

: "${XEN_WORK:=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/assignd-xen}"
: "${XEN_SUITE:=bookworm}"

# The Xen and kernel a suite ships.  Only these two suites are known; a
# third needs its own line, not a guess.
case "$XEN_SUITE" in
bookworm) XEN_VER=4.17 ;;
trixie) XEN_VER=4.20 ;;
*)
        echo "unknown suite '$XEN_SUITE' (bookworm or trixie)" >&2
        exit 2
        ;;
esac

SUITE_DIR=$XEN_WORK/$XEN_SUITE
DEB_DIR=$SUITE_DIR/debs
SYSROOT=$SUITE_DIR/sysroot
BUILD_ARM64=$SUITE_DIR/build-arm64
# assignctl for the build host itself: boot --dom0less runs its --offline mode.
BUILD_HOST=$SUITE_DIR/build-host
OUT_DIR=$SUITE_DIR/out

say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { say "$*"; exit 1; }
skip() { say "SKIP: $*"; exit 77; }

# Seconds since the epoch with milliseconds, for the timing lines.
now() { date +%s.%N | cut -c1-14; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The host tools the harness needs, and the Debian package that has each.
# Missing ones are installed with apt-get when we are root; otherwise the
# run is skipped with the list.
need_host_tools() {
        local missing=() pkg tool
        for pair in "$@"; do
                tool=${pair%%:*}
                pkg=${pair#*:}
                command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                say "installing host tools: ${missing[*]}"
                if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                        "${missing[@]}" >"$XEN_WORK/host-apt.log" 2>&1; then
                        tail -5 "$XEN_WORK/host-apt.log" >&2
                        skip "cannot install host packages: ${missing[*]}"
                fi
        else
                skip "missing host packages (install them): ${missing[*]}"
        fi
}
