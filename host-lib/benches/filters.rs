//! Filter placement bench on the simulated device (`cargo bench -p evnic --bench filters`).
//!
//! The cost of `Nic::add_filter` for exact-match filters (1,024 over the four profiles, first
//! with each profile's one-time clearing, then again; one profile filled to its first miss,
//! with moves) and for ternary filters, as register accesses per install (exact: the library
//! counts them) and host time per install, with the ratio of each to a ternary install
//! measured in the same run. A ternary install waits for the device's rewrite of a RAM column
//! (about 2 x 513 cycles); an exact one for one RAM write. Prints a Markdown table.

use evnic::backend::DmaRegion;
use evnic::{Backend, BackendError, FilterHandle, Nic};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The simulated device, counting register accesses.
struct Counting {
    inner: Arc<dyn Backend>,
    accesses: AtomicU64,
}

impl Backend for Counting {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn read32(&self, offset: u32) -> Result<u32, BackendError> {
        self.accesses.fetch_add(1, Ordering::Relaxed);
        self.inner.read32(offset)
    }
    fn write32(&self, offset: u32, value: u32) -> Result<(), BackendError> {
        self.accesses.fetch_add(1, Ordering::Relaxed);
        self.inner.write32(offset, value)
    }
    fn alloc_dma(&self, len: usize) -> Result<DmaRegion, BackendError> {
        self.inner.alloc_dma(len)
    }
    fn irq_fd(&self) -> RawFd {
        self.inner.irq_fd()
    }
}

fn spec(profile: u32, i: u32) -> evnic::FilterSpec {
    let (hi, lo) = (i >> 8, i & 0xff);
    match profile {
        0 => format!(
            "ipv4 src 10.0.{hi}.{lo} ipv4 dst 192.168.1.1 udp src 7000 udp dst 9000 -> vi 1"
        ),
        1 => format!("ipv4 dst 172.{}.{lo}.0/24 udp dst 53 -> vi 1", 16 + hi),
        2 => format!("mac 02:00:00:00:{hi:02x}:{lo:02x} vlan 100 -> vi 1"),
        3 => format!("ipv6 src fd00::{i:x} ipv6 dst fd00::1:1 udp src 7000 udp dst 9000 -> vi 1"),
        // Scattered IPv4 sources: a table of them needs moves as it fills.
        _ => {
            let [a, b, c, d] = (0x0a00_0000 | i.wrapping_mul(2_654_435_761) >> 8).to_be_bytes();
            format!(
                "ipv4 src {a}.{b}.{c}.{d} ipv4 dst 192.168.1.1 udp src 7000 udp dst 9000 -> vi 1"
            )
        }
    }
    .parse()
    .expect("a filter")
}

struct Row {
    what: String,
    installs: usize,
    accesses: f64,
    micros: f64,
}

fn measure(
    dev: &Counting,
    what: &str,
    specs: &[evnic::FilterSpec],
    nic: &Nic,
    keep: &mut Vec<FilterHandle>,
) -> Row {
    let a0 = dev.accesses.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let mut installs = 0;
    for s in specs {
        let h = nic.add_filter(s.clone()).expect("installed");
        let stop = h.ternary_reason().is_some_and(|r| {
            matches!(r, evnic::TernaryReason::Full { .. }) && !what.contains("ternary")
        });
        keep.push(h);
        installs += 1;
        if stop {
            break;
        }
    }
    let micros = t0.elapsed().as_secs_f64() * 1e6 / installs as f64;
    let accesses = (dev.accesses.load(Ordering::Relaxed) - a0) as f64 / installs as f64;
    Row {
        what: what.into(),
        installs,
        accesses,
        micros,
    }
}

fn main() {
    let sim = Nic::open(evnic::DeviceSpec::Sim).expect("simulated device");
    let dev = Arc::new(Counting {
        inner: sim.backend().clone(),
        accesses: AtomicU64::new(0),
    });
    let nic = Nic::with_backend(dev.clone()).expect("the device");
    let mut rows = Vec::new();
    let mut keep = Vec::new();

    let ternary: Vec<_> = (0..nic.filter_count())
        .map(|i| format!("udp dst {} -> vi 1", 100 + i).parse().unwrap())
        .collect();
    rows.push(measure(
        &dev,
        "ternary entries (`udp dst P`)",
        &ternary,
        &nic,
        &mut keep,
    ));
    keep.clear();

    let mixed: Vec<_> = (0..4)
        .flat_map(|p| (0..256).map(move |i| spec(p, i)))
        .collect();
    rows.push(measure(
        &dev,
        "1,024 exact, 4 profiles, first use (each profile's 512 slots cleared once)",
        &mixed,
        &nic,
        &mut keep,
    ));
    keep.clear();
    rows.push(measure(
        &dev,
        "1,024 exact, 4 profiles, again",
        &mixed,
        &nic,
        &mut keep,
    ));
    keep.clear();

    let fill: Vec<_> = (0..512).map(|i| spec(4, i)).collect();
    let row = measure(
        &dev,
        "one profile to its first miss (with moves)",
        &fill,
        &nic,
        &mut keep,
    );
    let filled = keep.len() - 1;
    rows.push(row);
    keep.clear();

    let base = rows[0].micros;
    let base_acc = rows[0].accesses;
    println!("## Filter installs through the library (simulated device)\n");
    println!("| filters | installs | register accesses per install | vs ternary | host µs per install | vs ternary |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.0} | {:.2} |",
            r.what,
            r.installs,
            r.accesses,
            r.accesses / base_acc,
            r.micros,
            r.micros / base
        );
    }
    println!(
        "\nThe profile filled to its first miss took {filled} exact entries of {} slots; the miss went to the ternary table.",
        nic.exact_profiles()[0].slots
    );
}
