#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The end-to-end test that runs inside dom0 of a real Xen (tests/xen/boot
# puts it in the payload as /payload/run).  It drives the real assignd on
# the real xen backend with assignctl and xl, and checks what the guest
# sees through its console log.  Each step prints "ok STEP" or
# "FAIL STEP: why" (or "skip STEP: why" for what the daemon cannot do yet,
# not counted), a "# time STEP SECONDS" line, and the last line is
# "N passed, N failed".  Exit status: 0 when nothing failed.
#
# assignd reads the device tree Xen wrote for dom0 (/sys/firmware/fdt, its
# default), as it would in production.  The payload directory holds
# assignd, assignctl, host.dtb (the device tree Xen booted with: the pl031
# and pl061 carry xen,passthrough, fw-cfg is disabled), qemu.dtb (QEMU's dump
# before the harness edited it), host-smmu.dtb, guest-pl031.dtb, host-epoch
# (the host's clock when the payload was made) and xen-version.  The guest
# kit is in /guest.  The helpers are dom0-lib.sh's.

. /payload/dom0-lib.sh

echo "# dom0: $(uname -r), Xen $XV expected, $(grep -c ^processor /proc/cpuinfo) vCPUs"

# ---- Xen itself ------------------------------------------------------------
begin xen-info
xl info >/tmp/xl-info 2>&1
ver=$(sed -n 's/^xen_version *: //p' /tmp/xl-info)
caps=$(sed -n 's/^virt_caps *: //p' /tmp/xl-info)
case "$ver" in
"$XV".*) ok ;;
*) fail "xl info says xen_version '$ver', expected $XV.x"; show /tmp/xl-info ;;
esac
echo "# xen_version $ver, virt_caps: $caps"

# ---- QEMU's own device tree, unedited, scans ------------------------------
begin inventory-qemu-dtb
if start_assignd --dtb $P/qemu.dtb --db /tmp/qemu.db; then
        ok
else
        fail "assignd refuses QEMU's own DTB: $(grep -m1 'error' "$LOG" | sed 's/^assignd: //')"
fi
stop_assignd

# ---- step 1: the inventory from dom0's own device tree -------------------------
# No --dtb: the default, /sys/firmware/fdt, the tree Xen wrote for dom0.
begin daemon-start
if start_assignd; then
        backend=$(assignctl status | sed -n 's/.*backend \([a-z]*\).*/\1/p' | head -1)
        if [ "$backend" = xen ]; then ok; else fail "status reports backend '$backend'"; fi
else
        fail "assignd --hypervisor xen (default --dtb /sys/firmware/fdt) did not come up"
        show "$LOG"
fi

# Xen turned the xen,passthrough nodes to status "disabled" in dom0's tree
# and dropped the marker; the two firmware-disabled nodes look the same
# there.  assignd must offer the first two; refuse the one whose SPI Xen
# routed to dom0 (asked of Xen itself at start-up); and leave fw-cfg, which
# has no SPI to tell by, to the administrator's policy.
begin inventory-dom0-fdt
assignctl list >/tmp/list-fdt 2>&1
why=
for d in $RTC $GPIO; do
        grep -q "^$d " /tmp/list-fdt || why="$why; $d not in the inventory"
        assignctl show --json $d >/tmp/show.json 2>&1
        grep -q '"dom0_hidden": *true' /tmp/show.json || why="$why; $d not flagged dom0_hidden"
        grep -q '"assignable": *true' /tmp/show.json || why="$why; $d not assignable: $(grep -o '"reason": *"[^"]*"' /tmp/show.json)"
done
assignctl show --json $FWDIS >/tmp/show.json 2>&1
grep -q '"assignable": *false' /tmp/show.json && grep -q 'routed its SPI to dom0' /tmp/show.json ||
        why="$why; firmware-disabled $FWDIS not refused as dom0's own: $(tr '\n' ' ' </tmp/show.json | head -c 300)"
assignctl show --json $FWCFG >/tmp/show.json 2>&1
grep -q '"assignable": *false' /tmp/show.json && grep -q 'assignable=yes' /tmp/show.json ||
        why="$why; $FWCFG (no SPI) not left to policy: $(tr '\n' ' ' </tmp/show.json | head -c 300)"
if [ -z "$why" ]; then ok; else fail "${why#; }"; show /tmp/list-fdt; fi

begin list
assignctl list >/tmp/list 2>&1
show /tmp/list | grep -E 'PATH|pl0|fw-cfg|disabled@'
why=
line=$(grep "^$RTC " /tmp/list); set -- $line
[ "$2" = none ] || why="$why; $RTC coverage '$2', expected none"
[ "$4" = 0x9010000+0x1000 ] || why="$why; $RTC region '$4'"
[ "$5" = 34 ] || why="$why; $RTC SPIs '$5', expected 34"
[ "$7" = "-" ] || why="$why; $RTC owner '$7'"
line=$(grep "^$GPIO " /tmp/list); set -- $line
[ "$2" = none ] || why="$why; $GPIO coverage '$2', expected none"
[ "$4" = 0x9030000+0x1000 ] || why="$why; $GPIO region '$4'"
[ "$5" = 39 ] || why="$why; $GPIO SPIs '$5', expected 39"
if [ -z "$why" ]; then ok; else fail "${why#; }"; fi

# What Xen itself says: it hid both nodes from dom0 (status disabled in the
# DT it built for dom0, with the same reg and interrupts), and it runs
# without an IOMMU, which the inventory's "0 protected" must agree with.
begin inventory-agrees-with-xen
why=
be32() { od -An -tu1 -v "$1" | tr -s ' \n' ' '; }
for d in $RTC $GPIO; do
        n=/sys/firmware/devicetree/base$d
        [ "$(tr -d '\0' <$n/status 2>/dev/null)" = disabled ] || why="$why; Xen did not hide $d from dom0"
done
[ "$(be32 /sys/firmware/devicetree/base$RTC/reg)" = " 0 0 0 0 9 1 0 0 0 0 0 0 0 0 16 0 " ] ||
        why="$why; dom0 DT reg of $RTC is$(be32 /sys/firmware/devicetree/base$RTC/reg)"
[ "$(be32 /sys/firmware/devicetree/base$RTC/interrupts)" = " 0 0 0 0 0 0 0 2 0 0 0 4 " ] ||
        why="$why; dom0 DT interrupts of $RTC are$(be32 /sys/firmware/devicetree/base$RTC/interrupts)"
xl dmesg >/tmp/xl-dmesg 2>&1
if grep -q 'I/O virtualisation disabled' /tmp/xl-dmesg; then
        assignctl status | grep -q ' 0 protected' || why="$why; Xen has no IOMMU but status does not say 0 protected"
        grep -q 'IOMMU not enabled' "$LOG" || why="$why; hv-xen did not detect that the IOMMU is off"
else
        why="$why; xl dmesg does not say 'I/O virtualisation disabled'"
fi
if [ -z "$why" ]; then ok; else fail "${why#; }"; fi

# ---- no IOMMU on this platform -----------------------------------------------
# QEMU's virt machine has no IOMMU Xen drives, so to see how the backend
# handles an IOMMU-protected device on a platform without one, assignd gets
# a copy of the host DTB in which the pl061 sits behind a made-up SMMU.
# Xen booted without it, so Xen's answer is its real one: the IOMMU is off,
# no domain can have it, and the daemon must say so, not crash or map.
begin no-iommu
xl create -p "$(guest_cfg g0)" >/tmp/xl-create.log 2>&1
stop_assignd
DB=/tmp/smmu.db
start_assignd --dtb $P/host-smmu.dtb
cov=$(assignctl list | awk -v p=$GPIO '$1 == p { print $2 }')
assignctl assign g0 $GPIO >/tmp/assign.out 2>&1
rc=$?
DB=/tmp/assignd.db
show /tmp/assign.out
if [ "$cov" = protected ] && [ $rc -ne 0 ] && grep -q IommuNotEnabled /tmp/assign.out; then
        ok
else
        fail "protected $GPIO (coverage '$cov') on a platform without IOMMU: rc $rc, expected IommuNotEnabled"
fi
stop_assignd
xl destroy g0
start_assignd || echo "# assignd did not come back up"

# ---- step 2: refusals and policy, on a real paused domain ----------------------
begin create-paused
xl create -p "$(guest_cfg g1)" >/tmp/xl-create.log 2>&1
D1=$(domid_of g1)
if [ -n "$D1" ]; then ok; else fail "xl create -p g1: $(tail -1 /tmp/xl-create.log)"; fi

begin refuse-unprotected
assignctl policy $RTC dma=unknown --note "e2e: pretend the RTC may do DMA" >/dev/null 2>&1
assignctl assign g1 $RTC >/tmp/assign.out 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q UnprotectedDevice /tmp/assign.out && [ "$(owner_of $RTC)" = "-" ]; then
        ok
else
        fail "assign without force or dma=none: rc $rc, $(head -1 /tmp/assign.out)"
fi

begin policy-dma-none
if assignctl policy $RTC dma=none --note "e2e: the pl031 is not a bus master" >/tmp/policy.out 2>&1 &&
   grep -q 'dma: *none (from policy)' /tmp/policy.out; then
        ok
else
        fail "policy dma=none: $(head -3 /tmp/policy.out | tr '\n' ' ')"
fi

# ---- step 3: toolstack mode ------------------------------------------------
# assignctl reserve holds the pl031 for a domain that does not exist yet and
# prints the xl.cfg lines (irqs, iomem, device_tree naming the partial DTB
# the daemon generated from dom0's tree); xl create makes the hypercalls;
# the lease binds to the new domid and is verified.
begin toolstack-reserve
assignctl reserve g5 $RTC -o /tmp/g5-fragment.cfg >/tmp/reserve.out 2>&1
rc=$?
show /tmp/g5-fragment.cfg | grep -vE '^ *#'
guest_base g5 >/tmp/g5.cfg
cat /tmp/g5-fragment.cfg >>/tmp/g5.cfg
HELD_G5=
if [ $rc -ne 0 ]; then
        fail "assignctl reserve g5 $RTC: rc $rc: $(tr '\n' ' ' </tmp/reserve.out)"
elif [ "$(lease_of g5)" != "- reserved" ]; then
        fail "after reserve the lease is '$(lease_of g5)', expected '- reserved'"
elif ! xl create /tmp/g5.cfg >/tmp/xl-create.log 2>&1; then
        fail "xl create with the reserved fragment: $(tail -3 /tmp/xl-create.log | tr '\n' ' ')"
else
        D5=$(domid_of g5)
        if within 30 "[ \"\$(lease_of g5)\" = '$D5 assigned' ]"; then
                HELD_G5=1
                ok
        else
                fail "lease of g5 is '$(lease_of g5)', expected '$D5 assigned' (g5 is domid $D5)"
                grep -E 'lease|reserv|verif' "$LOG" | tail -8 | show
        fi
fi

begin toolstack-guest-uses-rtc
if [ -z "$D5" ]; then
        fail "no g5 guest (toolstack-reserve failed)"
elif wait_guest g5; then
        check_rtc_guest g5
else
        fail "guest g5 did not report its devices (it panicked or took over 120 s)"
        grep -E 'Unable|panic|pl031|rtc' "$CONLOG/guest-g5.log" 2>/dev/null | tail -8 | show
        xl destroy g5 2>/dev/null
fi

begin toolstack-release
if [ -z "$HELD_G5" ]; then
        xl destroy g5 2>/dev/null
        fail "g5 never held $RTC, so there was nothing to release"
elif wait_gone g5 && wait_free $RTC; then
        ok
else
        fail "$RTC still held by '$(owner_of $RTC)' after g5 powered off"
        xl destroy g5 2>/dev/null
fi

# ---- step 4: direct mode ---------------------------------------------------
begin assign-direct
t0=$(uptime_s)
assignctl assign g1 $RTC >/tmp/assign.out 2>&1
rc=$?
t1=$(uptime_s)
# The lease must name the domain by the domid Xen gave it.
lease=$(assignctl leases | awk '$2 == "g1" { print $3, $4 }')
HELD_G1=
if [ $rc -eq 0 ] && [ "$lease" = "$D1 assigned" ]; then
        HELD_G1=1
        ok
        echo "# assign latency: $(sub "$t0" "$t1")s for assignctl, $(call_ms Assign) ms inside assignd"
else
        fail "assignctl assign g1 $RTC: rc $rc, lease '$lease' (g1 is domid $D1): $(cat /tmp/assign.out | tr '\n' ' ')"
fi

begin guest-uses-rtc
if [ -z "$HELD_G1" ]; then
        # Its DT describes a pl031 it does not have: it would die on the first access.
        xl destroy g1 2>/dev/null
        fail "g1 does not hold $RTC (assign-direct failed): not started"
else
        unpause_rtc_guest g1
fi

# ---- step 5: the domain dies, the lease goes --------------------------------
begin release-on-destroy
if [ -z "$HELD_G1" ]; then
        wait_gone g1 || xl destroy g1
        fail "g1 never held $RTC (assign-direct failed), so there was nothing to release"
elif wait_gone g1; then
        tg=$(uptime_s)
        if wait_free $RTC; then
                ok
                echo "# lease released $(sub "$tg" "$(uptime_s)")s after g1 was gone"
        else
                fail "$RTC still held ($(assignctl show $RTC | sed -n 's/^ *owner: *//p')) 30 s after g1 was gone"
                xl list | show
                grep -iE 'domain|watch|settle|releas' "$LOG" | tail -15 | show
        fi
else
        fail "g1 did not go away after powering off"
        xl destroy g1
fi

begin second-guest
xl create -p "$(guest_cfg g2)" >/tmp/xl-create.log 2>&1
HELD_G2=
if assignctl assign g2 $RTC >/tmp/assign.out 2>&1; then
        HELD_G2=1
        ok
else
        fail "assign to g2 after g1 died: $(cat /tmp/assign.out | tr '\n' ' ')"
fi

# ---- step 6: Xen's limits ---------------------------------------------------
# Releasing from a live domain: Xen cannot unbind an SPI unless the domain
# is dying, so the lease must stay "releasing" and say why, then end free
# when the domain is destroyed.  A Xen built with hv-patches/ takes the SPI
# back from the paused domain: there the device is free at once.
begin release-live
assignctl release g2 >/tmp/release.out 2>&1
rc=$?
state=$(assignctl leases | awk '$2 == "g2" { print $4 }' | head -1)
show /tmp/release.out
if assignctl status | grep -q 'live-spi-release'; then
        if [ $rc -eq 0 ] && [ "$(owner_of $RTC)" = - ]; then
                ok
        else
                fail "release from live g2 on a Xen with live-spi-release: rc $rc, lease state '$state', owner '$(owner_of $RTC)'"
        fi
# Xen (4.17 and upstream alike) unbinds an SPI only from a dying domain.
elif [ "$state" = releasing ] && grep -q 'until the domain dies' /tmp/release.out; then
        ok
else
        fail "release from live g2: rc $rc, lease state '$state'"
fi
begin release-after-destroy
xl destroy g2
if [ -z "$HELD_G2" ]; then
        fail "g2 never held $RTC (second-guest failed), so there was nothing to release"
elif wait_free $RTC; then ok; else fail "$RTC still held by '$(owner_of $RTC)' after g2 was destroyed"; fi

# Binding after the domain ran: refused on 4.17 (gic_route_irq_to_guest
# checks creation_finished), allowed from 4.19.
begin bind-after-run
xl create -p "$(guest_cfg g3)" >/tmp/xl-create.log 2>&1
xl unpause g3
usleep 500000
assignctl assign g3 $RTC >/tmp/assign.out 2>&1
rc=$?
show /tmp/assign.out
case "$XV" in
4.17|4.18)
        if [ $rc -ne 0 ] && grep -qiE 'run|started|unpause' /tmp/assign.out && [ "$(owner_of $RTC)" = "-" ]; then
                ok
        else
                fail "assign to a domain that has run: rc $rc (expected a refusal that says the domain has run, and the device left free)"
        fi ;;
*)
        if [ $rc -eq 0 ] && [ "$(owner_of $RTC)" != "-" ]; then ok; else fail "assign to a running domain on Xen $XV: rc $rc"; fi ;;
esac
xl destroy g3 2>/dev/null
wait_free $RTC

# Kill assignd in the middle of an assignment (failpoint: crash right
# before the SPI binding, after the MMIO and permissions), restart it:
# the lease and Xen must agree afterwards.
begin crash-and-reconcile
stop_assignd
xl create -p "$(guest_cfg g4)" >/tmp/xl-create.log 2>&1
export ASSIGND_FAILPOINTS=bind_spi=crash-before
start_assignd
unset ASSIGND_FAILPOINTS
assignctl assign g4 $RTC >/tmp/assign.out 2>&1
sleep 1
if kill -0 "$ASSIGND_PID" 2>/dev/null; then
        fail "assignd did not crash at the failpoint: $(cat /tmp/assign.out | tr '\n' ' ')"
        stop_assignd
else
        wait "$ASSIGND_PID" 2>/dev/null
        ASSIGND_PID=
        start_assignd
        assignctl leases --all >/tmp/leases.out 2>&1
        show /tmp/leases.out
        state=$(awk '$2 == "g4" { print $4 }' /tmp/leases.out | tail -1)
        # Either way the daemon goes, a second assign must now work or be
        # refused because the first one holds the device, never hit Xen's EBUSY.
        assignctl assign g4 $RTC >/tmp/assign2.out 2>&1
        rc=$?
        case "$state" in
        assigned) [ "$(owner_of $RTC)" != "-" ] && ok || fail "lease assigned but device free" ;;
        failed|free)
                if [ $rc -eq 0 ]; then ok; else fail "lease $state after restart, then assign: $(cat /tmp/assign2.out | tr '\n' ' ')"; fi ;;
        *) fail "lease state after restart: '$state'" ;;
        esac
fi
xl destroy g4 2>/dev/null
wait_free $RTC || true

stop_assignd
echo "# assignd log: $(wc -l <"$LOG") lines; warnings and errors:"
grep -E 'warning|error' "$LOG" | tail -20 | show
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
