#!/usr/bin/env bash
# VFIO tests against a real Linux kernel: boots Debian's kernel in QEMU (q35, TCG, emulated Intel
# IOMMU), binds QEMU's edu and ivshmem-doorbell devices to vfio-pci, runs the evnic-driver tests
# inside (tests/vm/guest), powers off, and reports. Ends by itself (QEMU runs under a timeout).
#
# Needs: root or sudo-less apt (for qemu-system-x86 when missing), cargo, python3. Downloads only
# Debian packages (kernel, busybox-static) with apt-get download; nothing is installed from them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
VM=$ROOT/target/vm
QEMU_TIMEOUT=${EVNIC_VM_TIMEOUT:-200}
mkdir -p "$VM/debs"
T0=$EPOCHREALTIME

log() { echo "vm: $*"; }
die() { echo "vm: $*" >&2; echo "vm: 0 passed, 1 failed"; exit 1; }

# --- 1. QEMU ----------------------------------------------------------------------------------
if ! command -v qemu-system-x86_64 >/dev/null; then
  log "installing qemu-system-x86"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q qemu-system-x86 >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && apt-get install -y -q qemu-system-x86 >/dev/null
  } || die "could not install qemu-system-x86"
fi

if ! command -v python3 >/dev/null; then  # for the ivshmem server
  apt-get install -y -q python3-minimal >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && apt-get install -y -q python3-minimal >/dev/null
  } || die "could not install python3"
fi

# --- 2. Debian kernel + busybox-static, unpacked (not installed) ------------------------------
apt_cache_ok() { apt-cache show linux-image-amd64 busybox-static >/dev/null 2>&1; }
apt_cache_ok || { log "apt-get update"; apt-get update -q >/dev/null || true; }
apt_cache_ok || die "apt-cache knows no linux-image-amd64/busybox-static"
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$KPKG" ] || die "cannot tell which kernel linux-image-amd64 depends on"
KUNPACK=$VM/$KPKG
if [ ! -e "$KUNPACK/.done" ]; then
  log "downloading $KPKG and busybox-static"
  rm -rf "$KUNPACK" "$VM/busybox" && (cd "$VM/debs" && rm -f ./*.deb &&
    apt-get download -q "$KPKG" busybox-static 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  ls "$VM/debs/$KPKG"_*.deb "$VM"/debs/busybox-static_*.deb >/dev/null || die "apt-get download failed"
  dpkg-deb -x "$VM/debs/$KPKG"_*.deb "$KUNPACK"
  dpkg-deb -x "$VM"/debs/busybox-static_*.deb "$VM/busybox"
  touch "$KUNPACK/.done"
fi
KERNEL=$(ls "$KUNPACK"/boot/vmlinuz-*)
MODDIR=$(ls -d "$KUNPACK"/lib/modules/*)
BUSYBOX=$VM/busybox/bin/busybox

# --- 3. The guest test binary, static glibc -----------------------------------------------------
log "building the guest tests (static)"
HOST_TRIPLE=$(rustc -vV | awk '/^host:/ {print $2}')
( cd "$ROOT" && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build -q -p evnic-vm-guest --target "$HOST_TRIPLE" ) || die "guest build failed"
GUEST=$TARGET_DIR/$HOST_TRIPLE/debug/evnic-vm-guest
T_BUILT=$EPOCHREALTIME

# --- 4. initramfs ---------------------------------------------------------------------------
IRD=$VM/initramfs
rm -rf "$IRD" && mkdir -p "$IRD"/{bin,dev,proc,sys,modules}
cp "$BUSYBOX" "$IRD/bin/busybox"
cp "$ROOT/tests/vm/init" "$IRD/init"
cp "$GUEST" "$IRD/evnic-vm-guest"
for m in vfio vfio_iommu_type1 irqbypass vfio_virqfd vfio-pci-core vfio-pci uio uio_pci_generic; do
  f=$(find "$MODDIR" -name "$m.ko" -o -name "$m.ko.xz" | head -n1)
  # Newer kernels build some of these in (irqbypass, vfio_virqfd): then there is no file.
  if [ -n "$f" ]; then
    case $f in *.xz) xz -dc "$f" > "$IRD/modules/$m.ko" ;; *) cp "$f" "$IRD/modules/$m.ko" ;; esac
  fi
done
(cd "$IRD" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) > "$VM/initramfs.cpio"

# --- 5. ivshmem server ------------------------------------------------------------------------
SOCK=$VM/ivshmem.sock SHM=$VM/ivshmem.shm READY=$VM/ivshmem.ready
rm -f "$READY" "$SHM"
python3 "$ROOT/tests/vm/ivshmem_server.py" "$SOCK" "$SHM" --vectors 2 --ready "$READY" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -e "$READY" ] && break; sleep 0.05; done
[ -e "$READY" ] || die "ivshmem server did not start"

# --- 6. boot ----------------------------------------------------------------------------------
# boot NAME LOG QEMU-ARGS... : runs one VM under the timeout, console to LOG; sets QEMU_RC.
boot() {
  local name=$1 log=$2; shift 2
  log "booting $(basename "$KERNEL") under TCG: $name (timeout ${QEMU_TIMEOUT}s)"
  set +e
  timeout --kill-after=5 "$QEMU_TIMEOUT" qemu-system-x86_64 \
    -machine q35,kernel-irqchip=split -accel tcg -smp 2 -m 512 \
    -nodefaults -display none -serial stdio -no-reboot \
    -kernel "$KERNEL" -initrd "$VM/initramfs.cpio" "$@" \
    </dev/null 2>&1 | while IFS= read -r line; do
      line=${line%$'\r'}
      case $line in EVNIC-INIT*) echo "EVNIC-HOST-INIT-AT $EPOCHREALTIME" ;; esac
      printf '%s\n' "$line"
    done > >(tee "$log")
  QEMU_RC=${PIPESTATUS[0]}
  set -e
  sleep 0.2
}

# The main VM: emulated Intel IOMMU with interrupt remapping; see init for the device roles.
LOG=$VM/console.log
T_BOOT=$EPOCHREALTIME
boot "devices behind an IOMMU" "$LOG" \
  -device intel-iommu,intremap=on \
  -device edu,addr=03.0 \
  -device edu,addr=04.0 \
  -device edu,addr=05.0,multifunction=on -device edu,addr=05.1 \
  -device pcie-root-port,id=rp1,chassis=1,slot=1,addr=06.0 \
  -chardev socket,path="$SOCK",id=ivsh -device ivshmem-doorbell,chardev=ivsh,vectors=2,bus=rp1 \
  -append "console=ttyS0 intel_iommu=on rdinit=/init panic=-1 quiet loglevel=3 evnic_mode=iommu"
QEMU_RC_MAIN=$QEMU_RC
T_END=$EPOCHREALTIME
kill $SERVER 2>/dev/null || true

# A second, short VM without an IOMMU: the "no IOMMU" error.
LOG2=$VM/console-noiommu.log
T_BOOT2=$EPOCHREALTIME
boot "no IOMMU" "$LOG2" \
  -device edu,addr=03.0 \
  -append "console=ttyS0 rdinit=/init panic=-1 quiet loglevel=3 evnic_mode=noiommu"
QEMU_RC_NOIOMMU=$QEMU_RC
T_END2=$EPOCHREALTIME

# --- 7. report --------------------------------------------------------------------------------
PASSED=$(cat "$LOG" "$LOG2" | grep -c '^EVNIC-TEST PASS' || true)
FAILED=$(cat "$LOG" "$LOG2" | grep -c '^EVNIC-TEST FAIL' || true)
check() { # name, condition result (0 ok)
  if [ "$2" = 0 ]; then PASSED=$((PASSED + 1)); echo "vm: PASS $1"; else FAILED=$((FAILED + 1)); echo "vm: FAIL $1"; fi
}
for rc in "$QEMU_RC_MAIN" "$QEMU_RC_NOIOMMU"; do
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "vm: QEMU hit the ${QEMU_TIMEOUT}s timeout"; fi
done
r=0; grep -q '^EVNIC-DONE rc=0' "$LOG" || r=1
check "IOMMU VM: guest ran to the end and powered off (qemu rc $QEMU_RC_MAIN)" $r
r=0; grep -q '^EVNIC-DONE rc=0' "$LOG2" || r=1
check "no-IOMMU VM: guest ran to the end and powered off (qemu rc $QEMU_RC_NOIOMMU)" $r
# The guest wrote a marker into the ivshmem shared memory: the host sees it in the file.
r=0; dd if="$SHM" bs=1 skip=4096 count=30 2>/dev/null | grep -q 'EVNIC-IVSHMEM-GUEST-WROTE-THIS' || r=1
check "ivshmem write by the guest visible to the host" $r

sec() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
HOST_INIT=$(awk '/^EVNIC-HOST-INIT-AT/ {print $2; exit}' "$LOG")
BOOT_S='?'; [ -z "$HOST_INIT" ] || BOOT_S=$(sec "$T_BOOT" "$HOST_INIT")
GUEST_UPTIME=$(sed -n 's/^EVNIC-INIT uptime=//p' "$LOG" | head -n1)
echo "vm: build+prepare $(sec "$T0" "$T_BUILT") s; IOMMU VM: QEMU start -> init $BOOT_S s (kernel uptime at init ${GUEST_UPTIME:-?} s), VM total $(sec "$T_BOOT" "$T_END") s; no-IOMMU VM total $(sec "$T_BOOT2" "$T_END2") s; whole run $(sec "$T0" "$T_END2") s"
grep -h '^EVNIC-METRIC' "$LOG" | sed 's/^EVNIC-METRIC /vm: metric /' || true
cat "$LOG" "$LOG2" | grep '^EVNIC-TEST FAIL' | sed 's/^/vm: /' || true
echo "vm: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ] && [ "$PASSED" -gt 3 ]
