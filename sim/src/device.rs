//! [`SimDevice`]: the Verilated core with its surroundings, advanced one clock cycle at a time.
//!
//! Around the model it plays the parts of a board: the PCIe side (BAR0 register transactions
//! and the DMA ports served from [`HostMemory`]), the MAC (frames into the receive port, frames
//! out of the transmit port), the device-space ports, and the interrupt line (counted, and
//! written to an eventfd when one is attached).

use crate::ffi::{self, EvnicIn, EvnicOut};
use crate::memory::{Fault, HostBuffer, HostMemory};
use evnic_regs::map::{global as g, global_reg};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::path::Path;

/// Errors of the simulated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// A register access did not complete within the bus timeout: the core is wedged.
    BusTimeout {
        /// The register's byte offset.
        offset: u32,
        /// Cycles waited.
        cycles: u64,
    },
    /// The trace file could not be created.
    Trace(String),
    /// The simulation could not start (a thread or the interrupt eventfd).
    Start(String),
    /// `STATUS.READY` stayed low this many cycles after reset: a block never finished clearing
    /// its state RAM.
    NotReady {
        /// Cycles waited.
        cycles: u64,
    },
    /// A frame of no bytes was offered to the receive port: the MAC stream carries a frame as
    /// one or more beats, so it could never enter the device or get an outcome.
    EmptyFrame,
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::BusTimeout { offset, cycles } => write!(
                f,
                "register access at BAR0+{offset:#x} got no response in {cycles} cycles: the core is wedged (a bug in the RTL)"
            ),
            SimError::Trace(s) => write!(f, "cannot write trace: {s}"),
            SimError::EmptyFrame => write!(
                f,
                "a frame of no bytes cannot be sent to the receive port (the MAC carries at least one beat)"
            ),
            SimError::Start(s) => write!(f, "cannot start the simulated device: {s}"),
            SimError::NotReady { cycles } => write!(
                f,
                "STATUS.READY still low {cycles} cycles after reset: a block never finished clearing its state (a bug in the RTL)"
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// How the simulated board behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Write a VCD waveform of the whole run here.
    pub trace: Option<std::path::PathBuf>,
    /// Cycles from a DMA read request to its response (PCIe round trip).
    pub dma_read_latency: u64,
    /// Cycles of reset at start.
    pub reset_cycles: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            trace: None,
            dma_read_latency: 64,
            reset_cycles: 4,
        }
    }
}

/// A frame that left the transmit port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxFrame {
    /// Cycle of its last beat.
    pub cycle: u64,
    /// Cycle of its first beat.
    pub start: u64,
    /// The frame, FCS included.
    pub bytes: Vec<u8>,
}

/// What the core's debug port reported for one received frame (parser key and filter result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameVerdict {
    /// Cycle of the frame's outcome (`dbg_valid`).
    pub cycle: u64,
    /// Cycle its key was known (`dbg_key_valid`).
    pub key_cycle: u64,
    /// The frame's filter key, word 0 holding bits 31:0.
    pub key: [u32; evnic_regs::key::KEY_WORDS as usize],
    /// Its RX flags.
    pub flags: u8,
    /// Its length, FCS included.
    pub len: u16,
    /// A filter entry matched.
    pub hit: bool,
    /// The entry that matched (`evnic_regs::map::filter::EntryIndex`), with `hit`.
    pub filter: u16,
    /// The action word decided (see `evnic_regs::map::filter`).
    pub action: u16,
}

/// A notification from the device-space output port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceNotification {
    /// The cycle it was notified.
    pub cycle: u64,
    /// The event type code.
    pub kind: u8,
    /// The event's group.
    pub group: u8,
    /// The event's source.
    pub source: u16,
    /// The event's payload.
    pub payload: u32,
}

struct BarOp {
    write: bool,
    offset: u32,
    data: u32,
    strb: u8,
}

struct RxFrame {
    bytes: Vec<u8>,
    err: bool,
    pos: usize,
}

/// Cycles a register access may take before the core is declared wedged.
pub const BUS_TIMEOUT: u64 = 10_000;

/// Cycles after reset within which `STATUS.READY` must rise (the largest state RAM clears in
/// one cycle per word).
pub const READY_TIMEOUT: u64 = 100_000;

/// The Verilated core and its simulated surroundings.
pub struct SimDevice {
    model: *mut ffi::EvnicModel,
    pins: EvnicIn,
    out: EvnicOut,
    cycle: u64,
    config: SimConfig,
    /// Host memory as the device's DMA sees it.
    pub memory: HostMemory,
    bar_current: Option<BarOp>,
    bar_accepted: bool,
    bar_response: Option<u32>,
    rx_queue: VecDeque<RxFrame>,
    rx_frames_sent: u64,
    /// Frames to enter the receive queue at a given cycle, in time order.
    rx_scheduled: VecDeque<(u64, Vec<u8>, bool)>,
    tx_current: Vec<u8>,
    tx_start: u64,
    tx_frames: Vec<TxFrame>,
    loopback: bool,
    loopback_corrupt: Option<fn(&mut Vec<u8>)>,
    dmar_pending: VecDeque<(u64, u8, u64)>,
    dsi_queue: VecDeque<(u8, u32)>,
    dso_log: Vec<DeviceNotification>,
    verdicts: Vec<FrameVerdict>,
    /// Keys reported whose frame's outcome has not come yet: (cycle, key).
    dbg_keys: VecDeque<(u64, [u32; evnic_regs::key::KEY_WORDS as usize])>,
    irq_count: u64,
    /// The first cycle at which a RAM was read at an address written in that cycle.
    ram_collision_at: Option<u64>,
    irq_fd: Option<RawFd>,
    tx_ready: bool,
    dmaw_log: Option<Vec<(u64, u64)>>,
    /// The last cycle with traffic at a port other than the register bus.
    last_activity: u64,
}

// SAFETY: the model pointer is owned exclusively by this value and only used through &mut self.
unsafe impl Send for SimDevice {}

impl SimDevice {
    /// Builds the model, resets it, waits for `STATUS.READY` (see [`SimDevice::wait_ready`])
    /// and returns it ready for register access.
    pub fn new(config: SimConfig) -> Result<SimDevice, SimError> {
        let path = match &config.trace {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| SimError::Trace(e.to_string()))?;
                }
                std::fs::File::create(p)
                    .map_err(|e| SimError::Trace(format!("{}: {e}", p.display())))?;
                Some(std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap())
            }
            None => None,
        };
        // SAFETY: the shim allocates and owns the model until evnic_model_free.
        let model =
            unsafe { ffi::evnic_model_new(path.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())) };
        let mut dev = SimDevice {
            model,
            pins: EvnicIn::default(),
            out: EvnicOut::default(),
            cycle: 0,
            config,
            memory: HostMemory::default(),
            bar_current: None,
            bar_accepted: false,
            bar_response: None,
            rx_queue: VecDeque::new(),
            rx_frames_sent: 0,
            rx_scheduled: VecDeque::new(),
            tx_current: Vec::new(),
            tx_start: 0,
            tx_frames: Vec::new(),
            loopback: false,
            loopback_corrupt: None,
            dmar_pending: VecDeque::new(),
            dsi_queue: VecDeque::new(),
            dso_log: Vec::new(),
            verdicts: Vec::new(),
            dbg_keys: VecDeque::new(),
            irq_count: 0,
            ram_collision_at: None,
            irq_fd: None,
            tx_ready: true,
            dmaw_log: None,
            last_activity: 0,
        };
        dev.reset();
        dev.wait_ready()?;
        Ok(dev)
    }

    /// Polls `STATUS.READY` until it is set, as software does after a reset: until then the
    /// blocks are clearing their state RAMs and refuse their registers.
    pub fn wait_ready(&mut self) -> Result<(), SimError> {
        let (status, ready) = (global_reg(&g::STATUS), &g::STATUS_READY);
        let start = self.cycle;
        while ready.get(self.read32(status)?) == 0 {
            if self.cycle - start > READY_TIMEOUT {
                return Err(SimError::NotReady {
                    cycles: self.cycle - start,
                });
            }
        }
        Ok(())
    }

    /// Holds the reset input for the configured number of cycles.
    pub fn reset(&mut self) {
        self.dbg_keys.clear();
        self.pins.reset = 1;
        for _ in 0..self.config.reset_cycles.max(1) {
            self.step();
        }
        self.pins.reset = 0;
    }

    /// The value of the device's cycle counter (`CYCLES_LO/HI`, the event timestamps) in
    /// simulator cycle `sim_cycle`: it counts from the first cycle after the power-on reset.
    pub fn counter_at(&self, sim_cycle: u64) -> u64 {
        sim_cycle.saturating_sub(self.config.reset_cycles.max(1))
    }

    /// The simulator cycle in which the device's cycle counter reads `counter`.
    pub fn sim_cycle_at(&self, counter: u64) -> u64 {
        counter + self.config.reset_cycles.max(1)
    }

    /// The number of clock cycles run so far.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Runs `n` clock cycles.
    pub fn run(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Runs until `done` returns true or `limit` cycles pass; returns whether it became true.
    pub fn run_until(&mut self, limit: u64, mut done: impl FnMut(&SimDevice) -> bool) -> bool {
        for _ in 0..limit {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    /// One clock cycle: drive the inputs from the surroundings' state, evaluate, act on every
    /// handshake of the cycle, rising edge.
    pub fn step(&mut self) {
        // Inputs that depend only on the surroundings.
        let bar = self.bar_current.as_ref().filter(|_| !self.bar_accepted);
        self.pins.bar_req_valid = bar.is_some() as u8;
        if let Some(op) = bar {
            self.pins.bar_req_write = op.write as u8;
            self.pins.bar_req_addr = op.offset;
            self.pins.bar_req_wdata = op.data;
            self.pins.bar_req_strb = op.strb;
        }
        self.pins.dmaw_ready = 1;
        self.pins.dmar_req_ready = 1;
        self.pins.tx_ready = self.tx_ready as u8;
        // DMA read responses due this cycle, in order.
        self.pins.dmar_rsp_valid = 0;
        if let Some(&(due, tag, addr)) = self.dmar_pending.front() {
            if due <= self.cycle {
                self.dmar_pending.pop_front();
                let data = self.memory.read16(self.cycle, addr);
                self.pins.dmar_rsp_valid = 1;
                self.pins.dmar_rsp_tag = tag;
                self.pins.dmar_rsp_err = data.is_none() as u8;
                self.pins.dmar_rsp_data = ffi::words32(data.unwrap_or([0, 0]));
            }
        }
        // Frames scheduled for this cycle join the receive queue.
        while self.rx_scheduled.front().is_some_and(|f| f.0 <= self.cycle) {
            let (_, bytes, err) = self.rx_scheduled.pop_front().unwrap();
            self.inject_frame(bytes, err)
                .expect("schedule_frame takes only frames with bytes");
        }
        // Receive stream.
        self.pins.rx_valid = 0;
        if let Some(f) = self.rx_queue.front() {
            let n = (f.bytes.len() - f.pos).min(8);
            let mut word = 0u64;
            for (i, b) in f.bytes[f.pos..f.pos + n].iter().enumerate() {
                word |= (*b as u64) << (i * 8);
            }
            let last = f.pos + n == f.bytes.len();
            self.pins.rx_valid = 1;
            self.pins.rx_data = word;
            self.pins.rx_keep = ((1u16 << n) - 1) as u8;
            self.pins.rx_last = last as u8;
            self.pins.rx_err = (last && f.err) as u8;
        }
        // Device-space input.
        self.pins.dsi_valid = 0;
        if let Some(&(group, payload)) = self.dsi_queue.front() {
            self.pins.dsi_valid = 1;
            self.pins.dsi_group = group;
            self.pins.dsi_payload = payload;
        }

        // SAFETY: model is live; pins and out are plain structs matching the shim's.
        unsafe { ffi::evnic_model_step(self.model, &self.pins, &mut self.out) };
        let o = self.out;
        let c = self.cycle;

        if o.dbg_ram_collision == 1 && self.ram_collision_at.is_none() {
            self.ram_collision_at = Some(c);
            eprintln!("evnic-sim: RTL bug: a RAM was read at the address written in cycle {c}");
        }

        // Handshakes of this cycle.
        if self.pins.bar_req_valid == 1 && o.bar_req_ready == 1 {
            self.bar_accepted = true;
        }
        if o.bar_rsp_valid == 1 && self.bar_accepted {
            self.bar_response = Some(o.bar_rsp_rdata);
            self.bar_current = None;
            self.bar_accepted = false;
        }
        if o.dmaw_valid == 1 {
            self.memory
                .write16(c, o.dmaw_addr, ffi::words64(o.dmaw_data), o.dmaw_strb);
            if let Some(log) = self.dmaw_log.as_mut() {
                log.push((c, o.dmaw_addr));
            }
        }
        if o.dmar_req_valid == 1 {
            self.dmar_pending.push_back((
                c + self.config.dma_read_latency,
                o.dmar_req_tag,
                o.dmar_req_addr,
            ));
        }
        if self.pins.rx_valid == 1 && o.rx_ready == 1 {
            let f = self.rx_queue.front_mut().unwrap();
            f.pos = (f.pos + 8).min(f.bytes.len());
            if f.pos == f.bytes.len() {
                self.rx_queue.pop_front();
                self.rx_frames_sent += 1;
            }
        }
        if o.tx_valid == 1 && self.tx_ready {
            let n = (o.tx_keep as u32).trailing_ones() as usize;
            if self.tx_current.is_empty() {
                self.tx_start = c;
            }
            self.tx_current
                .extend_from_slice(&o.tx_data.to_le_bytes()[..n]);
            if o.tx_last == 1 {
                let bytes = std::mem::take(&mut self.tx_current);
                if self.loopback {
                    let mut looped = bytes.clone();
                    if let Some(corrupt) = self.loopback_corrupt {
                        corrupt(&mut looped);
                    }
                    self.inject_frame(looped, false)
                        .expect("the loopback corruption left the frame no bytes");
                }
                self.tx_frames.push(TxFrame {
                    cycle: c,
                    start: self.tx_start,
                    bytes,
                });
            }
        }
        if self.pins.dsi_valid == 1 && o.dsi_ready == 1 {
            self.dsi_queue.pop_front();
        }
        if o.dso_valid == 1 {
            self.dso_log.push(DeviceNotification {
                cycle: c,
                kind: o.dso_kind,
                group: o.dso_group,
                source: o.dso_source,
                payload: o.dso_payload,
            });
        }
        // The debug port gives each frame's key when it is known and its outcome later, both in
        // frame order: pair them.
        if o.dbg_key_valid == 1 {
            self.dbg_keys.push_back((c, o.dbg_key));
        }
        if o.dbg_valid == 1 {
            let (key_cycle, key) = self
                .dbg_keys
                .pop_front()
                .expect("the debug port gave a frame's outcome before its key (RTL bug)");
            self.verdicts.push(FrameVerdict {
                cycle: c,
                key_cycle,
                key,
                flags: o.dbg_flags,
                len: o.dbg_len,
                hit: o.dbg_hit == 1,
                filter: o.dbg_filter,
                action: o.dbg_action,
            });
        }
        let active = o.dmaw_valid
            | o.dmar_req_valid
            | self.pins.dmar_rsp_valid
            | self.pins.rx_valid
            | o.tx_valid
            | self.pins.dsi_valid
            | o.dso_valid
            | o.dbg_valid
            | o.irq;
        if active != 0 {
            self.last_activity = c;
        }
        if o.irq == 1 {
            self.irq_count += 1;
            if let Some(fd) = self.irq_fd {
                let one: u64 = 1;
                // SAFETY: writing 8 bytes from a live u64 to an eventfd.
                unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
            }
        }
        self.cycle += 1;
    }

    /// The last cycle with traffic at any port but the register bus: DMA, MAC, device-space
    /// ports, the debug port, the interrupt.
    pub fn last_activity(&self) -> u64 {
        self.last_activity
    }

    /// True when nothing waits outside the core: no frame queued, scheduled or half sent, no
    /// DMA read response due, no device-space input queued.
    pub fn surroundings_idle(&self) -> bool {
        self.rx_queue.is_empty()
            && self.rx_scheduled.is_empty()
            && self.dmar_pending.is_empty()
            && self.dsi_queue.is_empty()
            && self.tx_current.is_empty()
    }

    /// One register access as a bus transaction; returns the read data (0 for writes).
    pub fn bar_access(
        &mut self,
        write: bool,
        offset: u32,
        data: u32,
        strb: u8,
    ) -> Result<u32, SimError> {
        self.bar_current = Some(BarOp {
            write,
            offset,
            data,
            strb,
        });
        self.bar_accepted = false;
        self.bar_response = None;
        let start = self.cycle;
        while self.bar_response.is_none() {
            if self.cycle - start > BUS_TIMEOUT {
                self.bar_current = None;
                return Err(SimError::BusTimeout {
                    offset,
                    cycles: BUS_TIMEOUT,
                });
            }
            self.step();
        }
        Ok(self.bar_response.take().unwrap())
    }

    /// Reads the 32-bit register at BAR0 + `offset`.
    pub fn read32(&mut self, offset: u32) -> Result<u32, SimError> {
        self.bar_access(false, offset, 0, 0)
    }

    /// Writes the 32-bit register at BAR0 + `offset`.
    pub fn write32(&mut self, offset: u32, value: u32) -> Result<(), SimError> {
        self.bar_access(true, offset, value, 0xf).map(|_| ())
    }

    /// Queues a frame (FCS included) for the receive port; `mac_error` marks its last beat. A
    /// frame of no bytes is refused ([`SimError::EmptyFrame`]): it could get no outcome.
    pub fn inject_frame(&mut self, bytes: Vec<u8>, mac_error: bool) -> Result<(), SimError> {
        if bytes.is_empty() {
            return Err(SimError::EmptyFrame);
        }
        self.rx_queue.push_back(RxFrame {
            bytes,
            err: mac_error,
            pos: 0,
        });
        Ok(())
    }

    /// Queues a frame for the receive port when the simulation reaches cycle `at` (as a peer on
    /// the wire sending at that time), after any frame already queued for the port. A frame of
    /// no bytes is refused as by [`SimDevice::inject_frame`].
    pub fn schedule_frame(
        &mut self,
        at: u64,
        bytes: Vec<u8>,
        mac_error: bool,
    ) -> Result<(), SimError> {
        if bytes.is_empty() {
            return Err(SimError::EmptyFrame);
        }
        let pos = self.rx_scheduled.partition_point(|f| f.0 <= at);
        self.rx_scheduled.insert(pos, (at, bytes, mac_error));
        Ok(())
    }

    /// Frames scheduled and not yet due.
    pub fn rx_scheduled(&self) -> usize {
        self.rx_scheduled.len()
    }

    /// Frames still waiting to enter the receive port.
    pub fn rx_backlog(&self) -> usize {
        self.rx_queue.len()
    }

    /// Frames that fully entered the receive port.
    pub fn rx_frames_sent(&self) -> u64 {
        self.rx_frames_sent
    }

    /// Frames that left the transmit port since the last call.
    pub fn take_tx_frames(&mut self) -> Vec<TxFrame> {
        std::mem::take(&mut self.tx_frames)
    }

    /// Loopback: every frame leaving the transmit port (FCS included) is also queued into the
    /// receive port, as if the MAC's TX were cabled to its RX. `take_tx_frames` still sees it.
    pub fn set_loopback(&mut self, on: bool) {
        self.loopback = on;
    }

    /// A hook applied to each looped-back frame before it enters the receive port (to corrupt
    /// it on the "wire"); `None` loops frames back unchanged.
    pub fn set_loopback_corrupt(&mut self, hook: Option<fn(&mut Vec<u8>)>) {
        self.loopback_corrupt = hook;
    }

    /// Sets whether the MAC accepts transmit beats (backpressure when false).
    pub fn set_tx_ready(&mut self, ready: bool) {
        self.tx_ready = ready;
    }

    /// Queues an indication on the device-space input port.
    pub fn device_indicate(&mut self, group: u8, payload: u32) {
        self.dsi_queue.push_back((group, payload));
    }

    /// Device-space indications not yet accepted by the core.
    pub fn device_indications_pending(&self) -> usize {
        self.dsi_queue.len()
    }

    /// Notifications from the device-space output port since the last call.
    pub fn take_device_notifications(&mut self) -> Vec<DeviceNotification> {
        std::mem::take(&mut self.dso_log)
    }

    /// Parser and filter verdicts of received frames since the last call.
    pub fn take_verdicts(&mut self) -> Vec<FrameVerdict> {
        std::mem::take(&mut self.verdicts)
    }

    /// Starts (or stops) recording every DMA write beat as (cycle, address), for benches.
    pub fn log_dma_writes(&mut self, on: bool) {
        self.dmaw_log = on.then(Vec::new);
    }

    /// The DMA write beats recorded since the last call.
    pub fn take_dma_write_log(&mut self) -> Vec<(u64, u64)> {
        self.dmaw_log
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The first cycle in which a RAM of the core was read at the address written in that
    /// cycle (an RTL bug; dropping the device panics when there was one).
    pub fn ram_collision_at(&self) -> Option<u64> {
        self.ram_collision_at
    }

    /// Interrupts raised so far.
    pub fn irq_count(&self) -> u64 {
        self.irq_count
    }

    /// Writes to `fd` (an eventfd) on every interrupt.
    pub fn attach_irq_fd(&mut self, fd: RawFd) {
        self.irq_fd = Some(fd);
    }

    /// Registers `buf` for device DMA at its IOVA (see [`HostMemory::map`]).
    ///
    /// # Safety
    /// `buf` must outlive the mapping: drop the device (or unmap the IOVA) first.
    pub unsafe fn map_buffer(&mut self, buf: &HostBuffer) -> Result<(), String> {
        use evnic_proto::DmaMemory;
        self.memory.map(buf.iova(), buf.host_ptr(), buf.len())
    }

    /// DMA accesses refused so far.
    pub fn faults(&self) -> &[Fault] {
        self.memory.faults()
    }

    /// Flushes the trace file.
    pub fn flush_trace(&mut self) {
        // SAFETY: model is live.
        unsafe { ffi::evnic_model_flush(self.model) };
    }

    /// The trace path, if tracing.
    pub fn trace_path(&self) -> Option<&Path> {
        self.config.trace.as_deref()
    }
}

/// Register access stepped in place: each access runs the clock until it completes.
impl evnic_proto::RegisterAccess for SimDevice {
    type Error = SimError;
    fn read32(&mut self, offset: u32) -> Result<u32, SimError> {
        SimDevice::read32(self, offset)
    }
    fn write32(&mut self, offset: u32, value: u32) -> Result<(), SimError> {
        SimDevice::write32(self, offset, value)
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        // SAFETY: model was created by evnic_model_new and is freed once.
        unsafe { ffi::evnic_model_free(self.model) };
        // Every test that runs the model checks the RAM rule: a read of an address in the
        // cycle it is written returns undefined data on the synthesised design.
        if let Some(c) = self.ram_collision_at {
            if !std::thread::panicking() {
                panic!("evnic-sim: a RAM was read at the address written in cycle {c} (RTL bug)");
            }
        }
    }
}
