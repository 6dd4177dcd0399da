// Steps the Verilated core idle for N cycles (after reset and its RAM clears) through the
// shim's C ABI, for callgrind: `make profile-model` runs it for 0 and N cycles and prints the
// difference per cycle, the host instructions one simulated cycle costs.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include "evnic_pins.h"

extern "C" {
struct EvnicModel;
EvnicModel* evnic_model_new(const char* vcd_path);
void evnic_model_step(EvnicModel* m, const EvnicIn* in, EvnicOut* out);
void evnic_model_free(EvnicModel* m);
}

int main(int argc, char** argv) {
    long cycles = argc > 1 ? atol(argv[1]) : 20000;
    EvnicModel* m = evnic_model_new(nullptr);
    EvnicIn in;
    EvnicOut out;
    memset(&in, 0, sizeof in);
    // The host side always ready, as the simulator's memory is.
    in.dmaw_ready = 1;
    in.dmar_req_ready = 1;
    in.reset = 1;
    for (int i = 0; i < 4; i++) evnic_model_step(m, &in, &out);
    in.reset = 0;
    // Longer than the slowest clear after reset (the event engine's 256 cycles).
    for (int i = 0; i < 2000; i++) evnic_model_step(m, &in, &out);
    for (long i = 0; i < cycles; i++) evnic_model_step(m, &in, &out);
    evnic_model_free(m);
    return 0;
}
