#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What the scripts that run in dom0 of the real-Xen suites share (sourced
# by tests/xen/dom0-test.sh and tests/xen/dom0-patched.sh from /payload):
# the step bookkeeping (begin, ok, fail, skip: "ok STEP" or "FAIL STEP:
# why", a "# time STEP SECONDS" line), starting and stopping assignd on the
# test socket, guest configurations and waits, and the paths of the
# devices the harness gives Xen.

export PATH=/payload:$PATH
P=/payload
XV=$(cat $P/xen-version)
export ASSIGND_SOCKET=/run/assignd/sock
DB=/tmp/assignd.db
LOG=/tmp/assignd.log
CONLOG=/var/log/xen/console
passed=0
failed=0
cur=
t_step=0

uptime_s() { cut -d' ' -f1 /proc/uptime; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

begin() {
        cur=$1
        t_step=$(uptime_s)
}
ok() {
        echo "ok $cur"
        echo "# time $cur $(sub "$t_step" "$(uptime_s)")"
        passed=$((passed + 1))
}
fail() {
        echo "FAIL $cur: $*"
        echo "# time $cur $(sub "$t_step" "$(uptime_s)")"
        failed=$((failed + 1))
}
skip() { echo "skip $1: $2"; }
# Show a command's output indented, so it stays apart from the step lines.
show() { sed 's/^/    /' "$@"; }

# assignd in the background on the test socket; extra arguments go to it.
# Waits until the socket answers.  ASSIGND_PID is its pid.
start_assignd() {
        rm -f "$ASSIGND_SOCKET"
        # ASSIGND_WRAP: a command assignd runs under (the unit's sandbox).
        $ASSIGND_WRAP assignd --hypervisor xen --db "$DB" --socket "$ASSIGND_SOCKET" --foreground \
                --log-level debug "$@" >>"$LOG" 2>&1 &
        ASSIGND_PID=$!
        i=0
        while [ $i -lt 200 ]; do
                assignctl status >/dev/null 2>&1 && return 0
                kill -0 $ASSIGND_PID 2>/dev/null || return 1
                usleep 50000
                i=$((i + 1))
        done
        return 1
}
stop_assignd() {
        [ -n "$ASSIGND_PID" ] || return 0
        kill $ASSIGND_PID 2>/dev/null
        wait $ASSIGND_PID 2>/dev/null
        ASSIGND_PID=
}

# The lines every test guest has: the kit's kernel and busybox initrd.
guest_base() {
        cat <<EOF
name = "$1"
kernel = "/guest/Image"
ramdisk = "/guest/initrd.cpio"
extra = "console=hvc0 rdinit=/init"
memory = 128
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
EOF
}
# xl.cfg of a guest for direct mode: the pl031's partial DT, and irqs=[39]
# so that xl 4.17 gives the domain enough SPIs (nr_spis comes only from
# irqs= there) to cover the pl031's SPI 34.  INTID 39 is the pl061's SPI:
# such a guest holds the pl061 outside assignd, which adopts it (a lease of
# KIND adopted) when the guest appears.
guest_cfg() {
        guest_base "$1" >/tmp/$1.cfg
        cat >>/tmp/$1.cfg <<EOF
irqs = [ 39 ]
device_tree = "$P/guest-pl031.dtb"
EOF
        echo /tmp/$1.cfg
}
domid_of() { xl domid "$1" 2>/dev/null; }
# Poll a condition (a shell command) for up to $1 seconds of dom0 uptime.
within() {
        _end=$(awk -v a="$(uptime_s)" -v d="$1" 'BEGIN { print a + d }')
        shift
        while :; do
                eval "$*" && return 0
                awk -v a="$(uptime_s)" -v e="$_end" 'BEGIN { exit !(a > e) }' && return 1
                usleep 200000
        done
}
# Wait for a guest's "@@guest done" line; the guest powers off after it.
# A panicking guest ends the wait too: it will never print that line.
wait_guest() {
        within 120 "grep -qE '^@@guest done|Kernel panic' '$CONLOG/guest-$1.log' 2>/dev/null" &&
                grep -q '^@@guest done' "$CONLOG/guest-$1.log"
}
guest_line() { sed -n "s/^@@guest $2: //p" "$CONLOG/guest-$1.log" | tr -d '\r' | tail -1; }
# Wait until a domain is gone.
wait_gone() { within 60 "! xl domid '$1' >/dev/null 2>&1"; }
# The owner column of a device in 'assignctl list', "-" when free.
owner_of() { assignctl list | awk -v p="$1" '$1 == p { print $NF }'; }
# Wait until assignd says the device is free again.
wait_free() { within "${2:-30}" "[ \"\$(owner_of '$1')\" = - ]"; }
# A lease's "domid state" in 'assignctl leases'.
# (Adopted leases left out: a guest_cfg guest holds the pl061's SPI, see there.)
lease_of() { assignctl leases | awk -v g="$1" '$2 == g && $5 != "adopted" { print $3, $4 }' | tail -1; }
# Check what a guest that had the pl031 reported: the RTC driver probed,
# hwclock reads the host's time, and the RTC's interrupt arrived.
check_rtc_guest() {
        rtc=$(guest_line "$1" rtc)
        epoch=$(guest_line "$1" rtc-epoch)
        irq=$(guest_line "$1" rtc-irq)
        host=$(cat $P/host-epoch)
        echo "# guest $1: rtc '$rtc', rtc-epoch $epoch (host $host), irq $irq"
        why=
        case "$rtc" in *pl031*) ;; *) why="$why; no pl031 RTC in the guest ('$rtc')" ;; esac
        d=$(( ${epoch:-0} - host ))
        [ $d -ge -600 ] && [ $d -le 3600 ] || why="$why; hwclock reads $epoch, host clock was $host"
        b=$(echo "$irq" | sed -n 's/before=\([0-9]*\).*/\1/p')
        a=$(echo "$irq" | sed -n 's/.*after=\([0-9]*\).*/\1/p')
        [ -n "$a" ] && [ -n "$b" ] && [ "$a" -gt "$b" ] || why="$why; no RTC interrupt reached the guest ($irq)"
        if [ -z "$why" ]; then ok; else fail "${why#; }"; fi
}
# Check what a running guest given the pl031 reports (a step's ok or
# fail); one that never reports is shown and destroyed.
expect_rtc_guest() {
        if wait_guest "$1"; then
                check_rtc_guest "$1"
        else
                fail "guest $1 did not report its devices (it panicked or took over 120 s)"
                grep -E 'Unable|panic|pl031|rtc' "$CONLOG/guest-$1.log" 2>/dev/null | tail -8 | show
                xl destroy "$1" 2>/dev/null
        fi
}
# The same for a paused guest, unpaused first.
unpause_rtc_guest() {
        if ! xl unpause "$1"; then
                fail "xl unpause $1 failed"
                xl destroy "$1" 2>/dev/null
                return
        fi
        expect_rtc_guest "$1"
}
# Duration assignd logged for its last call of a method, in ms.
call_ms() { sed -n "s/.*call io.assignd.Broker.$1 .*(\([0-9.]*\) ms).*/\1/p" "$LOG" | tail -1; }

RTC=/pl031@9010000
GPIO=/pl061@9030000
FWCFG=/fw-cfg@9020000
FWDIS=/disabled@9f10000
