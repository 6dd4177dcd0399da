//! The pin structs and functions of the C++ shim (`csrc/shim.cpp`); field order mirrors it.

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvnicIn {
    pub dmar_rsp_data: [u64; 2],
    pub rx_data: u64,
    pub bar_req_addr: u32,
    pub bar_req_wdata: u32,
    pub dsi_payload: u32,
    pub reset: u8,
    pub bar_req_valid: u8,
    pub bar_req_write: u8,
    pub bar_req_strb: u8,
    pub dmaw_ready: u8,
    pub dmar_req_ready: u8,
    pub dmar_rsp_valid: u8,
    pub dmar_rsp_tag: u8,
    pub dmar_rsp_err: u8,
    pub rx_keep: u8,
    pub rx_valid: u8,
    pub rx_last: u8,
    pub rx_err: u8,
    pub tx_ready: u8,
    pub dsi_valid: u8,
    pub dsi_group: u8,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvnicOut {
    pub dmaw_addr: u64,
    pub dmaw_data: [u64; 2],
    pub dmar_req_addr: u64,
    pub tx_data: u64,
    pub dbg_key: [u32; 13],
    pub bar_rsp_rdata: u32,
    pub dso_payload: u32,
    pub dmaw_strb: u16,
    pub dbg_len: u16,
    pub dbg_action: u16,
    pub dso_source: u16,
    pub dbg_filter: u16,
    pub bar_req_ready: u8,
    pub bar_rsp_valid: u8,
    pub dmaw_valid: u8,
    pub dmar_req_valid: u8,
    pub dmar_req_tag: u8,
    pub rx_ready: u8,
    pub tx_keep: u8,
    pub tx_valid: u8,
    pub tx_last: u8,
    pub irq: u8,
    pub dsi_ready: u8,
    pub dso_valid: u8,
    pub dso_kind: u8,
    pub dso_group: u8,
    pub dbg_key_valid: u8,
    pub dbg_valid: u8,
    pub dbg_flags: u8,
    pub dbg_hit: u8,
    pub dbg_ram_collision: u8,
}

#[repr(C)]
pub struct EvnicModel {
    _private: [u8; 0],
}

extern "C" {
    pub fn evnic_model_new(vcd_path: *const std::ffi::c_char) -> *mut EvnicModel;
    pub fn evnic_model_free(m: *mut EvnicModel);
    pub fn evnic_model_step(m: *mut EvnicModel, input: *const EvnicIn, out: *mut EvnicOut);
    pub fn evnic_model_flush(m: *mut EvnicModel);
}
