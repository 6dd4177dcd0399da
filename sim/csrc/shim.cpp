// C ABI around the Verilated evnic core: create, step one clock cycle with a set of input pins
// returning the output pins, trace to VCD, destroy. The pin structs mirror sim/src/ffi.rs
// field for field (repr(C)); keep the two in the same order.
#include "Vevnic.h"
#include "verilated.h"
#include "verilated_vcd_c.h"
#include <cstdint>
#include <cstring>

extern "C" {

struct EvnicIn {
    uint64_t dmar_rsp_data[2];
    uint64_t rx_data;
    uint32_t bar_req_addr;
    uint32_t bar_req_wdata;
    uint32_t dsi_payload;
    uint8_t reset;
    uint8_t bar_req_valid;
    uint8_t bar_req_write;
    uint8_t bar_req_strb;
    uint8_t dmaw_ready;
    uint8_t dmar_req_ready;
    uint8_t dmar_rsp_valid;
    uint8_t dmar_rsp_tag;
    uint8_t dmar_rsp_err;
    uint8_t rx_keep;
    uint8_t rx_valid;
    uint8_t rx_last;
    uint8_t rx_err;
    uint8_t tx_ready;
    uint8_t dsi_valid;
    uint8_t dsi_group;
};

struct EvnicOut {
    uint64_t dmaw_addr;
    uint64_t dmaw_data[2];
    uint64_t dmar_req_addr;
    uint64_t tx_data;
    uint32_t dbg_key[13];
    uint32_t bar_rsp_rdata;
    uint32_t dso_payload;
    uint16_t dmaw_strb;
    uint16_t dbg_len;
    uint16_t dbg_action;
    uint16_t dso_source;
    uint16_t dbg_filter;
    uint8_t bar_req_ready;
    uint8_t bar_rsp_valid;
    uint8_t dmaw_valid;
    uint8_t dmar_req_valid;
    uint8_t dmar_req_tag;
    uint8_t rx_ready;
    uint8_t tx_keep;
    uint8_t tx_valid;
    uint8_t tx_last;
    uint8_t irq;
    uint8_t dsi_ready;
    uint8_t dso_valid;
    uint8_t dso_kind;
    uint8_t dso_group;
    uint8_t dbg_key_valid;
    uint8_t dbg_valid;
    uint8_t dbg_flags;
    uint8_t dbg_hit;
    uint8_t dbg_ram_collision;
};

struct EvnicModel {
    VerilatedContext* ctx;
    Vevnic* top;
    VerilatedVcdC* vcd;
    uint64_t time;
};

static uint64_t wide64(const VlWide<4>& w, int i) {
    return (uint64_t)w[2 * i] | ((uint64_t)w[2 * i + 1] << 32);
}

EvnicModel* evnic_model_new(const char* vcd_path) {
    EvnicModel* m = new EvnicModel;
    m->ctx = new VerilatedContext;
    m->time = 0;
    m->vcd = nullptr;
    if (vcd_path) m->ctx->traceEverOn(true);
    m->top = new Vevnic(m->ctx, "top");
    if (vcd_path) {
        m->vcd = new VerilatedVcdC;
        m->top->trace(m->vcd, 99);
        m->vcd->open(vcd_path);
    }
    m->top->clock = 0;
    m->top->eval();
    return m;
}

void evnic_model_free(EvnicModel* m) {
    if (!m) return;
    m->top->final();
    if (m->vcd) {
        m->vcd->close();
        delete m->vcd;
    }
    delete m->top;
    delete m->ctx;
    delete m;
}

static void apply(Vevnic* t, const EvnicIn* in) {
    t->reset = in->reset;
    t->bar_req_valid = in->bar_req_valid;
    t->bar_req_write = in->bar_req_write;
    t->bar_req_addr = in->bar_req_addr;
    t->bar_req_wdata = in->bar_req_wdata;
    t->bar_req_strb = in->bar_req_strb;
    t->dmaw_ready = in->dmaw_ready;
    t->dmar_req_ready = in->dmar_req_ready;
    t->dmar_rsp_valid = in->dmar_rsp_valid;
    t->dmar_rsp_tag = in->dmar_rsp_tag;
    t->dmar_rsp_err = in->dmar_rsp_err;
    for (int i = 0; i < 2; i++) {
        t->dmar_rsp_data[2 * i] = (uint32_t)in->dmar_rsp_data[i];
        t->dmar_rsp_data[2 * i + 1] = (uint32_t)(in->dmar_rsp_data[i] >> 32);
    }
    t->rx_data = in->rx_data;
    t->rx_keep = in->rx_keep;
    t->rx_valid = in->rx_valid;
    t->rx_last = in->rx_last;
    t->rx_err = in->rx_err;
    t->tx_ready = in->tx_ready;
    t->dsi_valid = in->dsi_valid;
    t->dsi_group = in->dsi_group;
    t->dsi_payload = in->dsi_payload;
}

static void sample(const Vevnic* t, EvnicOut* o) {
    o->bar_req_ready = t->bar_req_ready;
    o->bar_rsp_valid = t->bar_rsp_valid;
    o->bar_rsp_rdata = t->bar_rsp_rdata;
    o->dmaw_valid = t->dmaw_valid;
    o->dmaw_addr = t->dmaw_addr;
    o->dmaw_data[0] = wide64(t->dmaw_data, 0);
    o->dmaw_data[1] = wide64(t->dmaw_data, 1);
    o->dmaw_strb = t->dmaw_strb;
    o->dmar_req_valid = t->dmar_req_valid;
    o->dmar_req_addr = t->dmar_req_addr;
    o->dmar_req_tag = t->dmar_req_tag;
    o->rx_ready = t->rx_ready;
    o->tx_data = t->tx_data;
    o->tx_keep = t->tx_keep;
    o->tx_valid = t->tx_valid;
    o->tx_last = t->tx_last;
    o->irq = t->irq;
    o->dsi_ready = t->dsi_ready;
    o->dso_valid = t->dso_valid;
    o->dso_kind = t->dso_kind;
    o->dso_group = t->dso_group;
    o->dso_source = t->dso_source;
    o->dso_payload = t->dso_payload;
    o->dbg_key_valid = t->dbg_key_valid;
    o->dbg_valid = t->dbg_valid;
    o->dbg_flags = t->dbg_flags;
    o->dbg_len = t->dbg_len;
    o->dbg_hit = t->dbg_hit;
    o->dbg_filter = t->dbg_filter;
    o->dbg_action = t->dbg_action;
    o->dbg_ram_collision = t->dbg_ram_collision;
    if (t->dbg_key_valid) {
        for (int i = 0; i < 13; i++) o->dbg_key[i] = t->dbg_key[i];
    }
}

// One clock cycle. `in` is applied while the clock is low and `out` receives the outputs as
// they stand before the rising edge: a handshake happens in this cycle when `out` shows valid
// and `in` shows ready (or the reverse). Then the rising edge.
void evnic_model_step(EvnicModel* m, const EvnicIn* in, EvnicOut* out) {
    Vevnic* t = m->top;
    apply(t, in);
    t->clock = 0;
    t->eval();
    if (m->vcd) m->vcd->dump(m->time);
    sample(t, out);
    m->time += 5;
    t->clock = 1;
    t->eval();
    if (m->vcd) m->vcd->dump(m->time);
    m->time += 5;
}

void evnic_model_flush(EvnicModel* m) {
    if (m->vcd) m->vcd->flush();
}

}  // extern "C"
