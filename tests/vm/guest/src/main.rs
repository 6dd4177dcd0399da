//! Runs inside the test VM (as a static binary started by `tests/vm/init`), against the real
//! kernel's vfio-pci, the emulated Intel IOMMU, and QEMU's `edu` and `ivshmem-doorbell` devices.
//!
//! Prints one `EVNIC-TEST PASS|FAIL name` line per test and `EVNIC-METRIC` lines; the harness
//! (`tests/vm/run.sh`) counts them. Exit status is non-zero when any test failed.
//!
//! Usage: `evnic-vm-guest run --edu=ADDR --ivshmem=ADDR --unbound=ADDR --notviable=ADDR`
//!        `evnic-vm-guest open ADDR` (used by the permission test: prints the open error).

use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use evnic_driver::{Bar, BarAccess, Error, Interrupt, IrqKind, VfioPciDevice};

type TestResult = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn e2s(e: Error) -> String {
    format!("{e} [{e:?}]")
}

// QEMU edu device (docs/specs/edu.txt).
const EDU_ID: u64 = 0x00;
const EDU_LIVENESS: u64 = 0x04;
const EDU_FACTORIAL: u64 = 0x08;
const EDU_STATUS: u64 = 0x20;
const EDU_IRQ_STATUS: u64 = 0x24;
const EDU_IRQ_RAISE: u64 = 0x60;
const EDU_IRQ_ACK: u64 = 0x64;
const EDU_DMA_SRC: u64 = 0x80;
const EDU_DMA_DST: u64 = 0x88;
const EDU_DMA_CNT: u64 = 0x90;
const EDU_DMA_CMD: u64 = 0x98;
const EDU_DMA_BUF: u64 = 0x40000;
const EDU_DMA_IRQ: u32 = 0x100;
/// Bytes per edu DMA test transfer (QEMU 7.2 refuses a transfer of the whole 4 KiB buffer).
const DMA_LEN: usize = 2048;

// ivshmem (docs/specs/ivshmem-spec.txt), BAR0.
const IVSHMEM_INTR_MASK: u64 = 0x00;
const IVSHMEM_IVPOSITION: u64 = 0x08;
const IVSHMEM_DOORBELL: u64 = 0x0c;
/// Written by tests/vm/ivshmem_server.py at offset 0 of the shared memory.
const HOST_MAGIC: &[u8] = b"EVNIC-IVSHMEM-HOST";
/// Written by the guest at offset 4096; the harness checks the host file after the VM ends.
const GUEST_MARKER: &[u8] = b"EVNIC-IVSHMEM-GUEST-WROTE-THIS";

struct Ctx {
    edu: String,
    ivshmem: String,
    unbound: String,
    notviable: String,
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::InvalidAddress { .. } => "InvalidAddress",
        Error::NoSuchDevice { .. } => "NoSuchDevice",
        Error::NotBoundToVfio { .. } => "NotBoundToVfio",
        Error::NoIommu { .. } => "NoIommu",
        Error::VfioNotLoaded => "VfioNotLoaded",
        Error::GroupNotViable { .. } => "GroupNotViable",
        Error::PermissionDenied { .. } => "PermissionDenied",
        Error::GroupBusy { .. } => "GroupBusy",
        Error::NoSuchBar { .. } => "NoSuchBar",
        Error::BarTooSmall { .. } => "BarTooSmall",
        Error::BadAccess { .. } => "BadAccess",
        Error::BadDmaRequest { .. } => "BadDmaRequest",
        Error::DmaMap { .. } => "DmaMap",
        Error::IrqUnsupported { .. } => "IrqUnsupported",
        Error::ResetUnsupported { .. } => "ResetUnsupported",
        Error::Io { .. } => "Io",
    }
}

fn open(addr: &str) -> Result<VfioPciDevice, String> {
    VfioPciDevice::open(addr).map_err(|e| format!("open {addr}: {}", e2s(e)))
}

fn wait_edu_dma(bar: &Bar) -> TestResult {
    let t = Instant::now();
    while bar.read32(EDU_DMA_CMD).map_err(e2s)? & 1 != 0 {
        ensure!(
            t.elapsed() < Duration::from_secs(5),
            "edu DMA did not finish in 5 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Starts an edu DMA of `cnt` bytes; `to_ram` selects EDU buffer -> RAM.
fn edu_dma(bar: &Bar, src: u64, dst: u64, cnt: u32, to_ram: bool, irq: bool) -> TestResult {
    bar.write64(EDU_DMA_SRC, src).map_err(e2s)?;
    bar.write64(EDU_DMA_DST, dst).map_err(e2s)?;
    bar.write64(EDU_DMA_CNT, cnt as u64).map_err(e2s)?;
    let cmd = 1 | if to_ram { 2 } else { 0 } | if irq { 4 } else { 0 };
    bar.write32(EDU_DMA_CMD, cmd).map_err(e2s)
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let n = v.len();
    format!(
        "n={n} min_us={:.0} median_us={:.0} p99_us={:.0} max_us={:.0}",
        us(v[0]),
        us(v[n / 2]),
        us(v[(n * 99 / 100).min(n - 1)]),
        us(v[n - 1])
    )
}

/// Measures register write -> eventfd wakes a thread blocked in poll on it, `n` times.
fn irq_latency(
    irq: Arc<Interrupt>,
    n: usize,
    mut fire: impl FnMut() -> TestResult,
) -> Result<Vec<Duration>, String> {
    let (tx, rx) = mpsc::channel::<Result<Instant, String>>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let waiter = std::thread::spawn(move || {
        for _ in 0..n {
            if go_rx.recv().is_err() {
                return;
            }
            let r = irq.wait(Some(Duration::from_secs(5)));
            let now = Instant::now();
            let msg = match r {
                Ok(c) if c > 0 => Ok(now),
                Ok(_) => Err("no interrupt within 5 s".to_string()),
                Err(e) => Err(e2s(e)),
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        go_tx.send(()).map_err(|e| e.to_string())?;
        // Let the waiter block in poll before firing.
        std::thread::sleep(Duration::from_millis(2));
        let t0 = Instant::now();
        fire()?;
        let t1 = rx.recv().map_err(|e| e.to_string())??;
        out.push(t1.duration_since(t0));
    }
    drop(go_tx);
    waiter.join().map_err(|_| "waiter panicked".to_string())?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

fn t_wrong_address(c: &Ctx) -> TestResult {
    let _ = c;
    match VfioPciDevice::open("0000:00:1f.7") {
        Err(e @ Error::NoSuchDevice { .. }) => println!("  message: {e}"),
        other => return Err(format!("expected NoSuchDevice, got {other:?}")),
    }
    match VfioPciDevice::open("00:03") {
        Err(e @ Error::InvalidAddress { .. }) => println!("  message: {e}"),
        other => return Err(format!("expected InvalidAddress, got {other:?}")),
    }
    Ok(())
}

fn t_unbound_device(c: &Ctx) -> TestResult {
    match VfioPciDevice::open(&c.unbound) {
        Err(e @ Error::NotBoundToVfio { driver: None, .. }) => {
            println!("  message: {e}");
            ensure!(
                e.to_string().contains("driver_override"),
                "fix not named: {e}"
            );
            Ok(())
        }
        other => Err(format!("expected NotBoundToVfio, got {other:?}")),
    }
}

fn group_status_viable(group: u32) -> Result<bool, String> {
    // VFIO_GROUP_GET_STATUS = _IO(';', 103); struct vfio_group_status { argsz, flags }.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/dev/vfio/{group}"))
        .map_err(|e| format!("open /dev/vfio/{group}: {e}"))?;
    let mut st = [8u32, 0u32];
    // SAFETY: valid fd and an 8-byte vfio_group_status.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), 0x3b67 as _, st.as_mut_ptr()) };
    ensure!(
        r == 0,
        "VFIO_GROUP_GET_STATUS: {}",
        std::io::Error::last_os_error()
    );
    Ok(st[1] & 1 != 0)
}

fn t_group_not_viable(c: &Ctx) -> TestResult {
    match VfioPciDevice::open(&c.notviable) {
        Err(e @ Error::GroupNotViable { .. }) => {
            println!("  message: {e}");
            let Error::GroupNotViable {
                group,
                ref blockers,
                ..
            } = e
            else {
                unreachable!()
            };
            ensure!(
                blockers
                    .iter()
                    .any(|b| b.driver.as_deref() == Some("uio_pci_generic")),
                "blocker not named: {blockers:?}"
            );
            // The kernel agrees: the group is not viable.
            ensure!(
                !group_status_viable(group)?,
                "kernel says group {group} is viable"
            );
            Ok(())
        }
        other => Err(format!("expected GroupNotViable, got {other:?}")),
    }
}

fn t_permission_denied(c: &Ctx) -> TestResult {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["open", &c.edu])
        .uid(65534)
        .gid(65534)
        .output()
        .map_err(|e| format!("spawn as nobody: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    println!("  child (uid 65534): {}", text.trim());
    ensure!(
        text.contains("KIND=PermissionDenied"),
        "expected PermissionDenied from the child"
    );
    ensure!(text.contains("/dev/vfio/"), "the group file is not named");
    Ok(())
}

fn t_group_busy(c: &Ctx) -> TestResult {
    let d = open(&c.edu)?;
    let r = VfioPciDevice::open(&c.edu);
    drop(d);
    match r {
        Err(e @ Error::GroupBusy { .. }) => println!("  message: {e}"),
        other => return Err(format!("expected GroupBusy, got {other:?}")),
    }
    // Once closed, it opens again.
    open(&c.edu).map(drop)
}

fn t_edu_identify(c: &Ctx) -> TestResult {
    let d = open(&c.edu)?;
    let (v, id) = d.ids().map_err(e2s)?;
    ensure!(
        (v, id) == (0x1234, 0x11e8),
        "config space IDs {v:04x}:{id:04x}"
    );
    ensure!(d.num_regions() >= 8, "{} regions", d.num_regions());
    let r0 = d.region_info(0).map_err(e2s)?;
    println!("  BAR0: {r0:?}");
    ensure!(
        r0.size == 1 << 20 && r0.mmap,
        "edu BAR0 should be 1 MiB and mappable"
    );
    let bar = d.map_bar(0, 0x100).map_err(e2s)?;
    ensure!(bar.access() == BarAccess::Mmap, "BAR0 not mmapped");
    let idr = bar.read32(EDU_ID).map_err(e2s)?;
    println!("  edu ID register {idr:#010x}");
    ensure!(
        idr & 0xff == 0xed && idr >> 24 >= 1,
        "not an edu ID: {idr:#x}"
    );
    Ok(())
}

fn t_edu_registers(c: &Ctx) -> TestResult {
    let d = open(&c.edu)?;
    let bar = d.map_bar(0, 0x100).map_err(e2s)?;
    for v in [0u32, 1, 0x1234_5678, 0xdead_beef, u32::MAX] {
        bar.write32(EDU_LIVENESS, v).map_err(e2s)?;
        let r = bar.read32(EDU_LIVENESS).map_err(e2s)?;
        ensure!(
            r == !v,
            "liveness: wrote {v:#x}, read {r:#x}, want {:#x}",
            !v
        );
    }
    bar.write32(EDU_FACTORIAL, 10).map_err(e2s)?;
    let t = Instant::now();
    while bar.read32(EDU_STATUS).map_err(e2s)? & 1 != 0 {
        ensure!(
            t.elapsed() < Duration::from_secs(2),
            "factorial never finished"
        );
    }
    let f = bar.read32(EDU_FACTORIAL).map_err(e2s)?;
    ensure!(f == 3_628_800, "10! read back as {f}");
    // Out-of-range and misaligned accesses are refused before reaching the device.
    match bar.read32(1 << 20) {
        Err(Error::BadAccess { .. }) => {}
        other => return Err(format!("read past BAR: {other:?}")),
    }
    match bar.write32(2, 0) {
        Err(Error::BadAccess { .. }) => {}
        other => return Err(format!("misaligned write: {other:?}")),
    }
    Ok(())
}

fn t_bar_too_small(c: &Ctx) -> TestResult {
    let d = open(&c.ivshmem)?;
    match d.map_bar(0, 0x1000) {
        Err(
            e @ Error::BarTooSmall {
                size: 256,
                need: 0x1000,
                ..
            },
        ) => println!("  message: {e}"),
        other => return Err(format!("ivshmem BAR0 (256 B) for a 4 KiB map: {other:?}")),
    }
    let e = open(&c.edu)?;
    match e.map_bar(0, 2 << 20) {
        Err(Error::BarTooSmall { size, .. }) if size == 1 << 20 => {}
        other => return Err(format!("edu BAR0 for a 2 MiB map: {other:?}")),
    }
    match e.map_bar(3, 0) {
        Err(Error::NoSuchBar { bar: 3, .. }) => {}
        other => return Err(format!("edu BAR3: {other:?}")),
    }
    Ok(())
}

fn t_edu_dma(c: &Ctx) -> TestResult {
    let d = open(&c.edu)?;
    d.set_bus_master(true).map_err(e2s)?;
    let bar = d.map_bar(0, 0x100).map_err(e2s)?;
    let irq = d.enable_msi(1).map_err(e2s)?.remove(0);
    // edu masks DMA addresses to 28 bits: IOVAs below 2^28.
    let iova = 0x20_0000u64;
    let mut buf = d.alloc_dma(3 * 4096, iova).map_err(e2s)?;
    // Request checks.
    match d.alloc_dma(4096, iova + 4096) {
        Err(Error::BadDmaRequest { .. }) => {}
        other => return Err(format!("overlapping DMA buffer: {other:?}")),
    }
    match d.alloc_dma(4096, 0x123) {
        Err(Error::BadDmaRequest { .. }) => {}
        other => return Err(format!("unaligned IOVA: {other:?}")),
    }
    let pattern: Vec<u8> = (0..DMA_LEN as u32)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 3)) as u8)
        .collect();
    buf.write(0, &pattern);
    buf.fill(4096, 4096, 0x5a);

    // RAM -> EDU, completion by polling.
    edu_dma(&bar, iova, EDU_DMA_BUF, DMA_LEN as u32, false, false)?;
    wait_edu_dma(&bar)?;
    // EDU -> RAM into the second page, completion by MSI (DMA irq 0x100).
    irq.take().map_err(e2s)?;
    edu_dma(&bar, EDU_DMA_BUF, iova + 4096, DMA_LEN as u32, true, true)?;
    let n = irq.wait(Some(Duration::from_secs(5))).map_err(e2s)?;
    ensure!(n > 0, "no MSI for DMA completion");
    let st = bar.read32(EDU_IRQ_STATUS).map_err(e2s)?;
    ensure!(
        st & EDU_DMA_IRQ != 0,
        "irq status {st:#x} lacks the DMA bit"
    );
    bar.write32(EDU_IRQ_ACK, st).map_err(e2s)?;
    wait_edu_dma(&bar)?;
    let mut back = vec![0u8; DMA_LEN];
    buf.read(4096, &mut back);
    ensure!(
        back == pattern,
        "round trip through the device changed the data"
    );
    println!("  {DMA_LEN} bytes RAM->device->RAM through IOVA {iova:#x}: identical");

    // Unmapped IOVA: the IOMMU blocks the device's write.
    let kmsg_before = kmsg_dmar_faults();
    buf.fill(4096, 4096, 0xa5);
    buf.unmap().map_err(e2s)?;
    ensure!(!buf.is_mapped(), "still mapped");
    edu_dma(&bar, EDU_DMA_BUF, iova + 4096, DMA_LEN as u32, true, false)?;
    wait_edu_dma(&bar)?;
    buf.read(4096, &mut back);
    ensure!(
        back.iter().all(|&b| b == 0xa5),
        "a DMA to an unmapped IOVA reached memory"
    );
    let kmsg_after = kmsg_dmar_faults();
    println!("  DMA to unmapped IOVA {:#x}: memory untouched; DMAR fault lines in kernel log: {kmsg_before} -> {kmsg_after}", iova + 4096);
    ensure!(
        kmsg_after > kmsg_before,
        "the IOMMU reported no fault for the blocked DMA"
    );
    d.disable_irqs(IrqKind::Msi).map_err(e2s)?;
    Ok(())
}

/// A `MAP_SHARED` mapping of a memfd, unmapped when dropped.
struct SharedMapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is only accessed through volatile copies.
unsafe impl Send for SharedMapping {}
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    fn new(fd: i32, len: usize) -> Result<SharedMapping, String> {
        // SAFETY: a fresh shared mapping of our memfd.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        ensure!(
            p != libc::MAP_FAILED,
            "mmap of the memfd: {}",
            std::io::Error::last_os_error()
        );
        Ok(SharedMapping { ptr: p.cast(), len })
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: our mapping, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// What the hub does with a client's memory on VFIO: a memfd mapped twice (the hub's mapping,
/// given to the IOMMU, and the client's), the device writes through the IOMMU into pages the
/// other mapping sees.
fn t_edu_dma_shared_memfd(c: &Ctx) -> TestResult {
    let d = open(&c.edu)?;
    d.set_bus_master(true).map_err(e2s)?;
    let bar = d.map_bar(0, 0x100).map_err(e2s)?;
    // SAFETY: plain memfd creation and sizing.
    let fd = unsafe { libc::memfd_create(c"evnic-vm-shared".as_ptr(), libc::MFD_CLOEXEC) };
    ensure!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: sizing our memfd.
    ensure!(unsafe { libc::ftruncate(fd, 2 * 4096) } == 0, "ftruncate");
    let hub = SharedMapping::new(fd, 2 * 4096)?;
    let client = SharedMapping::new(fd, 2 * 4096)?;
    // SAFETY: closing our descriptor; the mappings keep the memory.
    unsafe { libc::close(fd) };
    ensure!(hub.ptr != client.ptr, "two mappings");
    let pattern: Vec<u8> = (0..DMA_LEN as u32).map(|i| (i * 7 + 3) as u8).collect();
    for (i, b) in pattern.iter().enumerate() {
        // SAFETY: inside the client's mapping.
        unsafe { client.ptr.add(i).write_volatile(*b) };
    }
    let iova = 0x40_0000u64;
    let ptr = std::ptr::NonNull::new(hub.ptr).ok_or("null mapping")?;
    // SAFETY: the hub's mapping stays mapped until the keeper (the mapping itself) drops,
    // after the IOMMU unmap.
    let buf = unsafe { d.map_shared_dma(ptr, 2 * 4096, iova, Box::new(hub)) }.map_err(e2s)?;
    ensure!(buf.iova() == iova && buf.is_mapped(), "mapped at {iova:#x}");
    // RAM -> EDU from the shared page, then EDU -> RAM into the second one.
    edu_dma(&bar, iova, EDU_DMA_BUF, DMA_LEN as u32, false, false)?;
    wait_edu_dma(&bar)?;
    edu_dma(&bar, EDU_DMA_BUF, iova + 4096, DMA_LEN as u32, true, false)?;
    wait_edu_dma(&bar)?;
    let back: Vec<u8> = (0..DMA_LEN)
        // SAFETY: inside the client's mapping.
        .map(|i| unsafe { client.ptr.add(4096 + i).read_volatile() })
        .collect();
    ensure!(
        back == pattern,
        "the device's write through the hub's IOMMU mapping did not reach the client's mapping"
    );
    println!("  {DMA_LEN} bytes written by the device at IOVA {:#x} read back through another mapping of the memfd", iova + 4096);
    drop(buf);
    Ok(())
}

/// Counts DMAR fault lines in the kernel log.
fn kmsg_dmar_faults() -> usize {
    // /dev/kmsg: each read returns one record; O_NONBLOCK ends with EAGAIN.
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
    else {
        return 0;
    };
    let mut n = 0;
    let mut rec = vec![0u8; 8192];
    while let Ok(len) = f.read(&mut rec) {
        if len == 0 {
            break;
        }
        let s = String::from_utf8_lossy(&rec[..len]);
        if s.contains("DMAR") && s.contains("fault") {
            n += 1;
        }
    }
    n
}

fn t_edu_msi(c: &Ctx, metrics: &mut Vec<String>) -> TestResult {
    let d = open(&c.edu)?;
    ensure!(
        d.irq_count(IrqKind::Msi) == 1,
        "edu offers {} MSI vectors",
        d.irq_count(IrqKind::Msi)
    );
    match d.enable_msix(1) {
        Err(Error::IrqUnsupported {
            kind: "MSI-X",
            available: 0,
            ..
        }) => {}
        other => return Err(format!("edu has no MSI-X, got {other:?}")),
    }
    let bar = Arc::new(d.map_bar(0, 0x100).map_err(e2s)?);
    let irq = Arc::new(d.enable_msi(1).map_err(e2s)?.remove(0));
    // Nothing raised: nothing arrives.
    ensure!(
        irq.wait(Some(Duration::from_millis(100))).map_err(e2s)? == 0,
        "spurious interrupt"
    );
    bar.write32(EDU_IRQ_RAISE, 0x1).map_err(e2s)?;
    if irq.wait(Some(Duration::from_secs(2))).map_err(e2s)? == 0 {
        let mut cfg = [0u8; 0x60];
        d.config_read(0, &mut cfg).map_err(e2s)?;
        let ints = std::fs::read_to_string("/proc/interrupts").unwrap_or_default();
        let ints: Vec<&str> = ints
            .lines()
            .filter(|l| l.contains("vfio") || l.contains("CPU"))
            .collect();
        return Err(format!(
            "MSI did not arrive; irq status {:#x}; config {:02x?}; {}",
            bar.read32(EDU_IRQ_STATUS).map_err(e2s)?,
            cfg,
            ints.join(" | ")
        ));
    }
    let st = bar.read32(EDU_IRQ_STATUS).map_err(e2s)?;
    ensure!(st == 1, "irq status {st:#x}");
    bar.write32(EDU_IRQ_ACK, st).map_err(e2s)?;
    ensure!(
        bar.read32(EDU_IRQ_STATUS).map_err(e2s)? == 0,
        "ack did not clear the status"
    );
    let b = bar.clone();
    let lat = irq_latency(irq.clone(), 200, move || {
        b.write32(EDU_IRQ_RAISE, 0x2).map_err(e2s)?;
        b.write32(EDU_IRQ_ACK, 0x2).map_err(e2s)
    })?;
    let s = stats(lat);
    println!("  edu MSI latency (write IRQ_RAISE -> waiter wakes): {s}");
    metrics.push(format!("edu_msi_latency {s}"));
    // After disabling, a raise no longer reaches the eventfd.
    d.disable_irqs(IrqKind::Msi).map_err(e2s)?;
    irq.take().map_err(e2s)?;
    bar.write32(EDU_IRQ_RAISE, 0x4).map_err(e2s)?;
    ensure!(
        irq.wait(Some(Duration::from_millis(200))).map_err(e2s)? == 0,
        "interrupt after disable"
    );
    bar.write32(EDU_IRQ_ACK, 0x4).map_err(e2s)?;
    Ok(())
}

fn t_edu_intx(c: &Ctx) -> TestResult {
    let d = open(&c.edu)?;
    ensure!(
        d.irq_count(IrqKind::Intx) == 1,
        "edu offers {} INTx lines",
        d.irq_count(IrqKind::Intx)
    );
    let bar = d.map_bar(0, 0x100).map_err(e2s)?;
    let irq = d.enable_irqs(IrqKind::Intx, 1).map_err(e2s)?.remove(0);
    ensure!(
        irq.wait(Some(Duration::from_millis(100))).map_err(e2s)? == 0,
        "spurious INTx"
    );
    bar.write32(EDU_IRQ_RAISE, 0x1).map_err(e2s)?;
    ensure!(
        irq.wait(Some(Duration::from_secs(2))).map_err(e2s)? > 0,
        "INTx did not arrive"
    );
    // VFIO masked the line: a new cause does not interrupt until unmasked.
    bar.write32(EDU_IRQ_ACK, 0x1).map_err(e2s)?;
    bar.write32(EDU_IRQ_RAISE, 0x2).map_err(e2s)?;
    ensure!(
        irq.wait(Some(Duration::from_millis(200))).map_err(e2s)? == 0,
        "INTx while masked"
    );
    d.unmask_intx().map_err(e2s)?;
    ensure!(
        irq.wait(Some(Duration::from_secs(2))).map_err(e2s)? > 0,
        "INTx lost after unmask"
    );
    bar.write32(EDU_IRQ_ACK, 0x2).map_err(e2s)?;
    d.unmask_intx().map_err(e2s)?;
    ensure!(
        irq.wait(Some(Duration::from_millis(100))).map_err(e2s)? == 0,
        "INTx after ack"
    );
    d.disable_irqs(IrqKind::Intx).map_err(e2s)?;
    Ok(())
}

fn t_ivshmem_msix(c: &Ctx, metrics: &mut Vec<String>) -> TestResult {
    let d = open(&c.ivshmem)?;
    let (v, id) = d.ids().map_err(e2s)?;
    ensure!((v, id) == (0x1af4, 0x1110), "ivshmem IDs {v:04x}:{id:04x}");
    let n = d.irq_count(IrqKind::Msix);
    ensure!(n == 2, "ivshmem offers {n} MSI-X vectors, want 2");
    let bar = Arc::new(d.map_bar(0, 0x10).map_err(e2s)?);
    println!("  BAR0 access: {:?}", bar.access());
    let me = bar.read32(IVSHMEM_IVPOSITION).map_err(e2s)?;
    println!("  IVPosition (peer id from the server) = {me}");
    let irqs: Vec<Arc<Interrupt>> = d
        .enable_msix(2)
        .map_err(e2s)?
        .into_iter()
        .map(Arc::new)
        .collect();
    for vec in [1u32, 0] {
        for i in &irqs {
            i.take().map_err(e2s)?;
        }
        bar.write32(IVSHMEM_DOORBELL, (me << 16) | vec)
            .map_err(e2s)?;
        let got = irqs[vec as usize]
            .wait(Some(Duration::from_secs(2)))
            .map_err(e2s)?;
        ensure!(got > 0, "MSI-X vector {vec} did not arrive");
        let other = irqs[1 - vec as usize]
            .wait(Some(Duration::from_millis(50)))
            .map_err(e2s)?;
        ensure!(
            other == 0,
            "doorbell for vector {vec} also fired vector {}",
            1 - vec
        );
    }
    let b = bar.clone();
    let lat = irq_latency(irqs[1].clone(), 200, move || {
        b.write32(IVSHMEM_DOORBELL, (me << 16) | 1).map_err(e2s)
    })?;
    let s = stats(lat);
    println!("  ivshmem MSI-X latency (write doorbell -> waiter wakes): {s}");
    metrics.push(format!("ivshmem_msix_latency {s}"));
    d.disable_irqs(IrqKind::Msix).map_err(e2s)?;
    Ok(())
}

fn t_ivshmem_shared_memory(c: &Ctx) -> TestResult {
    let d = open(&c.ivshmem)?;
    let r2 = d.region_info(2).map_err(e2s)?;
    println!("  BAR2: {r2:?}");
    let bar = d.map_bar(2, 8192).map_err(e2s)?;
    ensure!(
        bar.access() == BarAccess::Mmap,
        "shared memory BAR not mmapped"
    );
    let p = bar.as_ptr().ok_or("no pointer")?;
    let mut got = vec![0u8; HOST_MAGIC.len()];
    for (i, b) in got.iter_mut().enumerate() {
        // SAFETY: inside the mapped BAR (>= 8 KiB checked by map_bar).
        *b = unsafe { p.add(i).read_volatile() };
    }
    ensure!(
        got == HOST_MAGIC,
        "host magic not seen in BAR2: {:?}",
        String::from_utf8_lossy(&got)
    );
    for (i, b) in GUEST_MARKER.iter().enumerate() {
        // SAFETY: inside the mapped BAR.
        unsafe { p.add(4096 + i).write_volatile(*b) };
    }
    Ok(())
}

fn t_reset(c: &Ctx) -> TestResult {
    let d = open(&c.ivshmem)?;
    ensure!(
        d.can_reset(),
        "ivshmem behind a root port should be resettable (bus reset)"
    );
    let bar = d.map_bar(0, 0x10).map_err(e2s)?;
    bar.write32(IVSHMEM_INTR_MASK, 0xffff_ffff).map_err(e2s)?;
    ensure!(
        bar.read32(IVSHMEM_INTR_MASK).map_err(e2s)? == 0xffff_ffff,
        "IntrMask not written"
    );
    d.reset().map_err(e2s)?;
    let m = bar.read32(IVSHMEM_INTR_MASK).map_err(e2s)?;
    ensure!(m == 0, "IntrMask {m:#x} after reset, want 0");
    let e = open(&c.edu)?;
    if e.can_reset() {
        e.reset().map_err(e2s)?;
    } else {
        match e.reset() {
            Err(err @ Error::ResetUnsupported { .. }) => println!("  edu: {err}"),
            other => return Err(format!("edu reset: {other:?}")),
        }
    }
    Ok(())
}

/// In the VM booted without an IOMMU.
/// The library's VFIO backend opens a real vfio-pci device, reads its ID register through the
/// mapped BAR, and refuses it because it is not an evnic device (edu and ivshmem are not).
fn t_backend_refuses_non_evnic(c: &Ctx) -> TestResult {
    for addr in [&c.edu, &c.ivshmem] {
        let pci = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
        match evnic::Nic::open(evnic::DeviceSpec::Vfio(pci)) {
            Ok(_) => return Err(format!("{addr}: opened as an evnic device")),
            Err(e) => {
                let msg = e.to_string();
                println!("  {addr}: {msg}");
                ensure!(
                    msg.contains("EVNC") || msg.contains("too small"),
                    "{addr}: refused for the wrong reason: {msg}"
                );
            }
        }
    }
    // The device is usable again afterwards (the backend closed it).
    open(&c.edu).map(drop)
}

fn t_no_iommu(edu: &str) -> TestResult {
    let groups = std::fs::read_dir("/sys/kernel/iommu_groups")
        .map(|d| d.count())
        .unwrap_or(0);
    ensure!(
        groups == 0,
        "{groups} IOMMU groups in a VM without an IOMMU"
    );
    let drv = std::fs::read_link(format!("/sys/bus/pci/devices/{edu}/driver")).ok();
    ensure!(
        drv.is_none(),
        "vfio-pci bound {edu} without an IOMMU: {drv:?}"
    );
    match VfioPciDevice::open(edu) {
        Err(e @ Error::NoIommu { .. }) => {
            println!("  message: {e}");
            ensure!(e.to_string().contains("intel_iommu=on"), "fix not named");
            Ok(())
        }
        other => Err(format!("expected NoIommu, got {other:?}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("open") {
        // Child of the permission test.
        let addr = args.get(2).cloned().unwrap_or_default();
        match VfioPciDevice::open(&addr) {
            Ok(_) => println!("KIND=Ok"),
            Err(e) => println!("KIND={} {e}", kind(&e)),
        }
        return;
    }
    let opts: HashMap<String, String> = args
        .iter()
        .skip(2)
        .filter_map(|a| {
            a.strip_prefix("--")?
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let get = |k: &str| {
        opts.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("missing --{k}=ADDR"))
    };
    if args.get(1).map(String::as_str) == Some("noiommu") {
        let r = t_no_iommu(&get("edu"));
        match &r {
            Ok(()) => println!("EVNIC-TEST PASS no_iommu"),
            Err(e) => println!("EVNIC-TEST FAIL no_iommu: {e}"),
        }
        std::process::exit(if r.is_ok() { 0 } else { 1 });
    }
    let c = Ctx {
        edu: get("edu"),
        ivshmem: get("ivshmem"),
        unbound: get("unbound"),
        notviable: get("notviable"),
    };
    let mut metrics = Vec::new();
    let start = Instant::now();
    let mut failed = 0;
    let mut passed = 0;
    let mut run = |name: &str, f: &mut dyn FnMut() -> TestResult| {
        let t = Instant::now();
        println!("EVNIC-TEST RUN {name}");
        let r = f();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        match r {
            Ok(()) => {
                passed += 1;
                println!("EVNIC-TEST PASS {name} ({ms:.0} ms)");
            }
            Err(e) => {
                failed += 1;
                println!("EVNIC-TEST FAIL {name} ({ms:.0} ms): {e}");
            }
        }
    };
    run("wrong_address", &mut || t_wrong_address(&c));
    run("unbound_device", &mut || t_unbound_device(&c));
    run("group_not_viable", &mut || t_group_not_viable(&c));
    run("permission_denied", &mut || t_permission_denied(&c));
    run("group_busy", &mut || t_group_busy(&c));
    run("edu_identify", &mut || t_edu_identify(&c));
    run("edu_registers", &mut || t_edu_registers(&c));
    run("bar_too_small", &mut || t_bar_too_small(&c));
    run("edu_dma_both_directions_and_blocked", &mut || t_edu_dma(&c));
    run(
        "edu_dma_into_a_memfd_shared_with_another_mapping",
        &mut || t_edu_dma_shared_memfd(&c),
    );
    run("edu_msi", &mut || t_edu_msi(&c, &mut metrics));
    run("edu_intx", &mut || t_edu_intx(&c));
    run("ivshmem_msix", &mut || t_ivshmem_msix(&c, &mut metrics));
    run("ivshmem_shared_memory", &mut || t_ivshmem_shared_memory(&c));
    run("reset", &mut || t_reset(&c));
    run("backend_refuses_non_evnic", &mut || {
        t_backend_refuses_non_evnic(&c)
    });
    for m in &metrics {
        println!("EVNIC-METRIC {m}");
    }
    println!(
        "EVNIC-METRIC test_time_s={:.2}",
        start.elapsed().as_secs_f64()
    );
    println!("EVNIC-GUEST {passed} passed, {failed} failed");
    std::process::exit(if failed == 0 && passed > 0 { 0 } else { 1 });
}
