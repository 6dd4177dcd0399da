//! The PCIe shell page: status of the link and the shell's error counters. It is answered by
//! the PCIe shell around the core (see `evnic_hdl::shell`), not by the core: the simulated
//! device without a shell treats it as unmapped (reads 0, counted in `BUS_ERRORS`).
//!
//! The shell also has the MSI-X table and pending-bit array, in their own BAR
//! ([`MSIX_BAR`]) so that a VFIO user can map all of BAR0.

use super::{Access, Field, Page, Reg};

/// The BAR holding the register map (the core's pages and this one).
pub const REGS_BAR: u32 = 0;
/// The BAR holding the MSI-X table and pending-bit array.
pub const MSIX_BAR: u32 = 2;
/// Bytes of the MSI-X BAR.
pub const MSIX_BAR_BYTES: u32 = 0x1000;
/// Offset of the MSI-X table in [`MSIX_BAR`] (16 bytes per vector: address low, address high,
/// data, vector control with the mask in bit 0).
pub const MSIX_TABLE_OFFSET: u32 = 0x000;
/// Offset of the MSI-X pending-bit array in [`MSIX_BAR`] (bit n: vector n pending).
pub const MSIX_PBA_OFFSET: u32 = 0x800;
/// MSI-X vectors: vector 0 carries the core's interrupt.
pub const MSIX_VECTORS: u32 = 1;
/// Bytes per MSI-X table entry.
pub const MSIX_ENTRY_BYTES: u32 = 16;

/// Renders the MSI-X layout as Markdown for `docs/registers.md`.
pub fn render_markdown() -> String {
    format!(
        "## MSI-X\n\nWith the PCIe shell, BAR {MSIX_BAR} ({} KiB) holds the MSI-X table at \
         {MSIX_TABLE_OFFSET:#05x} ({MSIX_ENTRY_BYTES} bytes per vector: address low, address \
         high, data, vector control with the mask in bit 0, set after reset) and the \
         pending-bit array at {MSIX_PBA_OFFSET:#05x}. {MSIX_VECTORS} vector(s): vector 0 is the \
         core's interrupt. The register map is in BAR {REGS_BAR}.\n\n",
        MSIX_BAR_BYTES / 1024
    )
}
/// `CPL_TIMEOUT` after reset: 2^24 cycles (67 ms at 250 MHz), longer than the longest default
/// completion timeout of the PCIe hard block (50 ms), which normally ends a lost read first.
pub const CPL_TIMEOUT_RESET: u32 = 1 << 24;

const fn counter(name: &'static str, offset: u32, doc: &'static str) -> Reg {
    Reg {
        name,
        offset,
        access: Access::Rc,
        reset: 0,
        doc,
        fields: &[],
    }
}

pub const STATUS_LINK_UP: Field = Field {
    name: "LINK_UP",
    lsb: 0,
    width: 1,
    doc: "The PCIe link is up.",
};
pub const STATUS_BUS_MASTER: Field = Field {
    name: "BUS_MASTER",
    lsb: 1,
    width: 1,
    doc: "Bus mastering is enabled (the device may DMA).",
};
pub const STATUS_MSIX_ENABLED: Field = Field {
    name: "MSIX_ENABLED",
    lsb: 2,
    width: 1,
    doc: "MSI-X is enabled.",
};
pub const STATUS_MSIX_MASKED: Field = Field {
    name: "MSIX_MASKED",
    lsb: 3,
    width: 1,
    doc: "MSI-X is masked for the whole function.",
};
pub const STATUS: Reg = Reg {
    name: "SHELL_STATUS",
    offset: 0x000,
    access: Access::Ro,
    reset: 0,
    doc: "PCIe state as the hard block reports it.",
    fields: &[
        STATUS_LINK_UP,
        STATUS_BUS_MASTER,
        STATUS_MSIX_ENABLED,
        STATUS_MSIX_MASKED,
    ],
};
pub const CPL_TIMEOUT: Reg = Reg {
    name: "CPL_TIMEOUT",
    offset: 0x004,
    access: Access::Rw,
    reset: CPL_TIMEOUT_RESET,
    doc: "Cycles a DMA read may wait, once it is the oldest unanswered one, for its completions; then it fails (a DMA fault to the core) and late completions for it are dropped. 0 waits forever.",
    fields: &[],
};
pub const CPL_TIMEOUTS: Reg = counter(
    "CPL_TIMEOUTS",
    0x010,
    "DMA reads failed for want of a completion: by `CPL_TIMEOUT`, or by the hard block's own completion timeout. Any write clears it.",
);
pub const CPL_ERRORS: Reg = counter(
    "CPL_ERRORS",
    0x014,
    "DMA reads failed by a completion with an error status (UR, CA, CRS) or one the shell cannot use (misaligned, mismatched). Any write clears it.",
);
pub const CPL_POISONED: Reg = counter(
    "CPL_POISONED",
    0x018,
    "Completions carrying poisoned (EP) data; the 16-byte reads they answer fail. Any write clears it.",
);
pub const CPL_UNEXPECTED: Reg = counter(
    "CPL_UNEXPECTED",
    0x01c,
    "Completions for no outstanding read (late after a timeout or failure, or an unknown tag), dropped. Any write clears it.",
);
pub const UNSUPPORTED: Reg = counter(
    "UNSUPPORTED",
    0x020,
    "Host requests not carried out: to a BAR without registers, I/O, a type other than a memory read or write, longer than one dword, discontinued, or a partial-strobe write to this page or the MSI-X table. Non-posted ones got an Unsupported Request completion. Any write clears it.",
);
pub const MSIX_SENT: Reg = counter(
    "MSIX_SENT",
    0x024,
    "MSI-X messages sent. Any write clears it.",
);
pub const MSIX_FAILED: Reg = counter(
    "MSIX_FAILED",
    0x028,
    "MSI-X messages the hard block refused to send; the vector stays pending and is retried. Any write clears it.",
);

pub const REGS: &[Reg] = &[
    STATUS,
    CPL_TIMEOUT,
    CPL_TIMEOUTS,
    CPL_ERRORS,
    CPL_POISONED,
    CPL_UNEXPECTED,
    UNSUPPORTED,
    MSIX_SENT,
    MSIX_FAILED,
];

pub const PAGE: Page = Page {
    name: "PCIe shell",
    base: super::SHELL_PAGE_BASE,
    stride: super::PAGE_BYTES,
    count: 1,
    doc: "Answered by the PCIe shell, not the core (without a shell the page is unmapped). Accesses to its unmapped offsets read 0 and are ignored. The MSI-X table is in a BAR of its own (see \"MSI-X\" below).",
    regs: REGS,
};
