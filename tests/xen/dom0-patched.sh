#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The test in dom0 of a Xen built with hv-patches/ (tests/xen/run-patched
# puts it in the payload as /payload/run), 4.17 or 4.20.  It runs the stock
# suite's script first (/payload/dom0-test.sh: a patched Xen must pass it
# too, stock tools and all; the one step adapted to it is named below),
# then the steps only a patched Xen passes:
# - what Xen itself enforces, with raw hypercalls that bypass assignd
#   (/payload/hvp-probe) on bare domains it creates: a second domain is
#   refused the pl031 (EBUSY), and so are its iomem permission for the
#   pl031's page and its SPI, which the owner is given;
# - what test_assign answers in each case;
# - the IOMMU flag getdomaininfo reports;
# - a domain that has no vCPU yet (as xl's are while xl builds them) is
#   refused the SPI calls that crash a stock Xen;
# - assignd: what GetStatus says it found, the owner flag on Assign, and a
#   live release: the pl031 leaves a running guest, which keeps running,
#   and goes to a second guest, which reads the RTC and gets its interrupt.
# Output as dom0-test.sh: "ok STEP" / "FAIL STEP: why", "# time" lines, and
# "N passed, N failed" over both scripts last.

. /payload/dom0-lib.sh

# ---- the stock suite's steps ------------------------------------------------
# adopted-hand-written looks for the SPI of a domain xl created paused.
# The only way to see where an SPI is routed is an unbind that Xen refuses,
# and a Xen with live-spi-release does not refuse it on a paused domain: it
# takes the SPI.  So assignd does not ask about paused domains there, and
# the step runs its domain (kept running) first: ADOPT_RUNNING.
# crash-after-bind_spi expects a live domain's binding to be rolled
# forward, as it cannot be given back; a paused domain gives it back on a
# Xen with live-spi-release, and recovery rolls the assignment back like
# one interrupted before the binding: ROLLBACK_AFTER_BIND.
# The output is passed on as it comes (boot stops a machine silent for
# three minutes), all but the count line, which covers both scripts.
{ ADOPT_RUNNING=1 ROLLBACK_AFTER_BIND=1 sh $P/dom0-test.sh 2>&1; echo $? >/tmp/stock.rc; } |
        tee /tmp/stock.out | grep -vE '^[0-9]+ passed, [0-9]+ failed$'
stock_rc=$(cat /tmp/stock.rc)
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' /tmp/stock.out | tail -1)
if [ -n "$counts" ]; then
        passed=$(echo "$counts" | cut -d' ' -f1)
        failed=$(echo "$counts" | cut -d' ' -f3)
else
        begin stock-script
        fail "dom0-test.sh ended without its count line (exit $stock_rc)"
fi
stop_assignd
for d in $(xl list | awk 'NR > 2 { print $1 }'); do
        echo "# destroying $d, left by dom0-test.sh"
        xl destroy "$d"
done

echo "# ---- steps for a Xen built with hv-patches/"
DB=/tmp/patched.db
PAGE=0x9010             # the pl031's MMIO page
SPI=34                  # its SPI, as a GIC interrupt ID
# Answer of one raw call, as a word ("ok", "EBUSY" ...).
probe() { hvp-probe "$@" 2>&1 | tail -1; }
# Expect a raw call's answer; collects mismatches in $why.
expect() {
        want=$1
        shift
        got=$(probe "$@")
        [ "$got" = "$want" ] || why="$why; hvp-probe $*: $got, expected $want"
        echo "#   hvp-probe $*: $got"
}
# A bare domain for the raw calls (hvp-probe create: 32 SPIs, one vCPU
# unless "novcpu", never run), and its destruction.
bare_domain() { hvp-probe create "$@" 2>/tmp/create.err; }
destroy_bare() { [ "$(probe destroy "$1")" = ok ] || echo "# hvp-probe destroy $1 failed"; }
# The number of "@@guest alive" lines a keep-running guest printed.
alive_count() { grep -c '^@@guest alive' "$CONLOG/guest-$1.log" 2>/dev/null || echo 0; }

begin patched-status
physinfo=$(probe physinfo)
echo "# physinfo: $physinfo"
if start_assignd; then
        assignctl status >/tmp/status.out 2>&1
        line=$(grep 'xen patches:' /tmp/status.out)
        echo "# $line"
        why=
        for p in owner-of-record test-assign live-spi-release; do
                echo "$line" | grep -q "$p" || why="$why; GetStatus lacks $p"
        done
        # Found only where the platform has an IOMMU (dom0 then has the flag).
        case "$physinfo" in
        *directio=0*) echo "$line" | grep -q iommu-flag && why="$why; iommu-flag reported on a platform without IOMMU" ;;
        *) echo "$line" | grep -q iommu-flag || why="$why; GetStatus lacks iommu-flag" ;;
        esac
        if [ -z "$why" ]; then ok; else fail "${why#; }"; show /tmp/status.out; fi
else
        fail "assignd did not start"
        show "$LOG"
fi
stop_assignd

# ---- (1) Xen itself refuses a second domain -----------------------------------
# Bare domains, not xl's: each has SPIs enough for the pl031's (xl 4.17
# sizes a domain's SPIs from irqs= only), so that the second's EBUSY on
# bind is the owner's doing, not too few SPIs: the owner is given it.
begin raw-second-domain-refused
DA=$(bare_domain)
DB_=$(bare_domain)
why=
case "$DA/$DB_" in
[0-9]*/[0-9]*)
        expect ENXIO test invalid $RTC
        expect ok assign "$DA" $RTC
        expect EBUSY assign "$DB_" $RTC
        expect EBUSY iomem "$DB_" $PAGE 1
        expect EBUSY bind "$DB_" $SPI
        # The owner itself may be given them.
        expect ok iomem "$DA" $PAGE 1
        expect ok bind "$DA" $SPI
        if [ -z "$why" ]; then ok; else fail "${why#; }"; fi ;;
*)
        fail "hvp-probe create: '$DA' '$DB_' $(cat /tmp/create.err)"
        DA=0x7ff4
        DB_=0x7ff4      # DOMID_INVALID: the calls below then fail as they should not
        ;;
esac

# ---- (2) test_assign answers per case --------------------------------------------
begin raw-test-assign
why=
expect EEXIST test "$DA" $RTC
expect EBUSY test "$DB_" $RTC
expect EBUSY test invalid $RTC
# Xen's own console, and a device dom0 was given at boot.
expect EBUSY test invalid /pl011@9000000
expect EBUSY test invalid /virtio_mmio@a000000
expect ESRCH test invalid /no-such-node
# The pl061 is free, and no IOMMU protects it.
expect ENXIO test "$DB_" $GPIO
if [ -z "$why" ]; then ok; else fail "${why#; }"; fi

# Deassigning clears the owner; the domain that can still reach the page
# keeps the device from anyone else until it dies, and its death frees it
# (and the SPI it was given).
begin raw-owner-cleared
why=
expect ESRCH deassign "$DB_" $RTC
expect ok deassign "$DA" $RTC
expect ENXIO test invalid $RTC
expect EBUSY assign "$DB_" $RTC
destroy_bare "$DA"
expect ok assign "$DB_" $RTC
expect EEXIST test "$DB_" $RTC
expect ok bind "$DB_" $SPI
destroy_bare "$DB_"
expect ENXIO test invalid $RTC
if [ -z "$why" ]; then ok; else fail "${why#; }"; fi

# ---- (5) a domain without vCPUs ----------------------------------------------------
# Between XEN_DOMCTL_createdomain and XEN_DOMCTL_max_vcpus (xl makes both
# while it builds a domain) a stock Xen takes a data abort on the SPI
# calls: they reach the vGIC through vCPU 0, which does not exist yet.
# The patched one refuses them (EINVAL) and stays up.  This step would
# bring a stock Xen down, so it is here and not in dom0-test.sh.
begin no-vcpu-spi-refused
why=
DN=$(bare_domain novcpu)
case "$DN" in
[0-9]*)
        info=$(probe info "$DN")
        echo "# domain $DN: $info"
        case "$info" in *vcpus=0*) ;; *) why="$why; domain $DN has vCPUs: $info" ;; esac
        expect EINVAL unbind "$DN" $SPI
        expect EINVAL bind "$DN" $SPI
        destroy_bare "$DN"
        # Xen is still up, the domain is gone and the SPI still free.
        probe info "$DN" | grep -q '^no domain' || why="$why; domain $DN still exists"
        xl info >/dev/null 2>&1 || why="$why; xl info fails after the calls"
        expect ENXIO test invalid $RTC
        if [ -z "$why" ]; then ok; else fail "${why#; }"; fi ;;
*)
        fail "hvp-probe create novcpu: '$DN' $(cat /tmp/create.err)" ;;
esac

# ---- (4) the IOMMU flag ---------------------------------------------------------
begin iommu-flag
why=
xl create -p "$(guest_cfg gc)" >/tmp/xl-create.log 2>&1
DC=$(domid_of gc)
dom0=$(probe info 0)
without=$(probe info "$DC")
echo "# dom0: $dom0; gc (created without passthrough): $without"
guest_base gd >/tmp/gd.cfg
echo 'passthrough = "enabled"' >>/tmp/gd.cfg
if xl create -p /tmp/gd.cfg >/tmp/xl-create-pt.log 2>&1; then
        with=$(probe info "$(domid_of gd)")
        echo "# gd (created with passthrough=\"enabled\"): $with"
        case "$with" in *iommu=1*) ;; *) why="$why; gd was created with passthrough but reports $with" ;; esac
        xl destroy gd
else
        # QEMU's virt machine has no IOMMU Xen drives: xl refuses it.
        echo "# passthrough=\"enabled\": $(grep -m1 -i 'passthrough' /tmp/xl-create-pt.log)"
        case "$physinfo" in
        *directio=0*) skip iommu-flag-with "no domain can have the IOMMU on a platform without one (xl refuses passthrough=\"enabled\")" ;;
        *) why="$why; xl create with passthrough=\"enabled\" failed on a platform with an IOMMU" ;;
        esac
fi
case "$without" in *iommu=0*) ;; *) why="$why; gc was created without passthrough but reports $without" ;; esac
case "$physinfo/$dom0" in
*directio=0*/*iommu=0*|*directio=1*/*iommu=1*) ;;
*) why="$why; dom0 reports '$dom0' with physinfo '$physinfo'" ;;
esac
xl destroy gc
if [ -z "$why" ]; then ok; else fail "${why#; }"; fi

# ---- (3) assignd: a device leaves a live guest ------------------------------------
begin assign-records-owner
start_assignd || echo "# assignd did not start"
assignctl policy $RTC dma=none --note "e2e: the pl031 is not a bus master" >/dev/null 2>&1
guest_cfg gl >/dev/null
sed -i 's/^extra = .*/extra = "console=hvc0 rdinit=\/init assignd.keep-running"/' /tmp/gl.cfg
xl create -p /tmp/gl.cfg >/tmp/xl-create.log 2>&1
DL=$(domid_of gl)
assignctl assign gl $RTC >/tmp/assign.out 2>&1
rc=$?
owner=$(probe test "$DL" $RTC)
if [ $rc -eq 0 ] && [ "$owner" = EEXIST ]; then
        ok
else
        fail "assign gl $RTC: rc $rc ($(tr '\n' ' ' </tmp/assign.out)), Xen's test_assign for gl: $owner"
fi

begin live-guest-uses-rtc
if [ $rc -ne 0 ]; then
        xl destroy gl 2>/dev/null
        fail "gl does not hold $RTC"
else
        unpause_rtc_guest gl
fi

# A running guest keeps its SPI: Xen takes it back only while it is paused.
begin unbind-running-refused
why=
expect EBUSY unbind "$DL" $SPI
if [ -z "$why" ]; then ok; else fail "${why#; }"; fi

begin release-live-guest
t0=$(uptime_s)
assignctl release gl >/tmp/release.out 2>&1
rc=$?
show /tmp/release.out
state=$(assignctl leases --all | awk '$2 == "gl" && $5 != "adopted" { print $4 }' | tail -1)
echo "# release took $(sub "$t0" "$(uptime_s)") s, $(call_ms Release) ms inside assignd; lease $state"
a0=$(alive_count gl)
sleep 3
a1=$(alive_count gl)
why=
[ $rc -eq 0 ] || why="$why; release rc $rc"
[ "$(owner_of $RTC)" = - ] || why="$why; $RTC still held by '$(owner_of $RTC)'"
[ "$state" = free ] || why="$why; lease '$state', expected free"
expect ENXIO test "$DL" $RTC
domid_of gl >/dev/null || why="$why; gl is gone"
[ "$a1" -gt "$a0" ] || why="$why; gl stopped running after the release (alive $a0 -> $a1)"
echo "# gl alive: $a0 -> $a1"
if [ -z "$why" ]; then ok; else fail "${why#; }"; grep -iE 'pause|unbind|lease' "$LOG" | tail -10 | show; fi

# Toolstack mode: xl binds the SPI itself, which it could not do had the
# SPI stayed with gl (and xl 4.17 sizes SPIs from irqs= only).
begin second-guest-after-live-release
if assignctl reserve g2 $RTC -o /tmp/g2-fragment.cfg >/tmp/reserve.out 2>&1; then
        guest_base g2 >/tmp/g2.cfg
        cat /tmp/g2-fragment.cfg >>/tmp/g2.cfg
        if ! xl create /tmp/g2.cfg >/tmp/xl-create.log 2>&1; then
                fail "xl create g2 with the fragment: $(tail -3 /tmp/xl-create.log | tr '\n' ' ')"
        else
                expect_rtc_guest g2
        fi
else
        fail "reserve for g2 after the live release: $(tr '\n' ' ' </tmp/reserve.out)"
fi

begin first-guest-keeps-running
a2=$(alive_count gl)
sleep 2
a3=$(alive_count gl)
echo "# gl alive: $a1 -> $a2 -> $a3; $(xl list gl 2>/dev/null | awk 'NR == 2 { print "state " $5 }')"
if domid_of gl >/dev/null && [ "$a3" -gt "$a2" ] && [ "$a2" -gt "$a1" ]; then
        ok
else
        fail "gl did not keep running while g2 used the RTC (alive $a1 -> $a2 -> $a3)"
fi
xl destroy gl 2>/dev/null
wait_gone g2 || xl destroy g2 2>/dev/null

stop_assignd
echo "# assignd log: $(wc -l <"$LOG") lines; warnings and errors:"
grep -E 'warning|error' "$LOG" | tail -20 | show
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
