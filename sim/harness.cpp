// snnhw fast RTL harness: the network's Verilator model against the golden model's events of
// every layer, driven and checked in C++ so that Python wakes once per run.
//
// Usage: harness VECTORS RESULTS STALL SEED CYCLE_BUDGET [TRACE_FILE TRACE_SAMPLE]
// With SNNHW_PROGRESS set, that file is rewritten with "done total" after every sample.
// With SNNHW_RASTER_SAMPLE=k, the results list the RTL's events of sample k in every
// observed layer ("raster": [layer, timestep, neuron]), whatever the golden model expected.
//
// VECTORS (written by snnhw.harness.write_vectors), little-endian:
//   "SNNHWV2\0", u32 T, S, F, L, u32 N[L], u32 V, u32 load_bytes,
//   u8 inputs[T][S][F] (spikes 0/1, or a direct input's values), for every layer
//   u8 expected[T][S][N[l]] (1: the neuron sends an event), with V > 0 (a readout: the last
//   layer sends every neuron's V-bit membrane in its events' value field) i32
//   values[T][S][N[L-1]], then u8 load[load_bytes]
// RESULTS: JSON with the mismatches per layer, the first mismatches as (sample, timestep,
// layer, neuron, expected, got: 0/1 for a spike, a readout's membranes), cycles of every
// output end-of-timestep, wall time, and the output layer's spike count (a readout's
// membrane sum) per sample and neuron (the RTL's own classification).
//
// Every clock: inputs are set while the clock is low (random stalls on the input valid and
// the output ready, probability STALL, xorshift seeded by SEED), the model settles, each
// layer's output stream is sampled (a transfer is valid & ready), then the rising edge.
// Most clocks change no input (the core is busy with an event): then the model, settled
// after the last rising edge, holds the values evaluating it again would give, and with
// SNNHW_SKIP_SETTLED (designs clocked only on the rising edge of clk) the harness only lets
// the model's edge detector see the low clock instead of evaluating it. On the rising edge
// itself no input changes either, so such a design is clocked by the scheduler's active and
// NBA phases alone, without re-running its input-combinational phase (the logic of the
// inputs, settled by the last evaluation; the NBA phase recomputes all logic of the state).
// snnhw_taps.h (generated per design) names each layer's output stream in the model and
// says which layers are observed (SNNHW_TAPPED: in a synthesised netlist only the output).
// Verilator spells a double underscore "___05F": port i__valid is top->i___05Fvalid.

#include <verilated.h>
#if SNNHW_TRACE
#include <verilated_vcd_c.h>
#endif

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "Vsnn_top.h"
#include "Vsnn_top___024root.h"
#include "snnhw_taps.h"
#ifndef SNNHW_INPUT_VALUE_BITS
#define SNNHW_INPUT_VALUE_BITS 0
#endif

// Verilator 5's generated scheduler phases; weak, so that where a Verilator names them
// differently they are null and the harness evaluates the model with eval().
bool Vsnn_top___024root___eval_phase__act(Vsnn_top___024root*) __attribute__((weak));
bool Vsnn_top___024root___eval_phase__nba(Vsnn_top___024root*) __attribute__((weak));

namespace {

struct Vectors {
    uint32_t steps = 0, samples = 0, features = 0, layers = 0, value_bits = 0;
    std::vector<uint32_t> sizes;
    std::vector<uint8_t> inputs;
    std::vector<std::vector<uint8_t>> expected;
    std::vector<int32_t> values;   // a readout's membranes (value_bits > 0)
    std::vector<uint8_t> load;
};

bool read_exact(FILE* f, void* data, size_t size) { return fread(data, 1, size, f) == size; }

bool read_vectors(const char* path, Vectors& v) {
    FILE* f = fopen(path, "rb");
    if (!f) return false;
    char magic[8];
    uint32_t head[4], load_bytes = 0;
    bool ok = read_exact(f, magic, 8) && memcmp(magic, "SNNHWV2", 8) == 0 &&
              read_exact(f, head, sizeof head);
    if (ok) {
        v.steps = head[0]; v.samples = head[1]; v.features = head[2]; v.layers = head[3];
        v.sizes.resize(v.layers);
        ok = v.layers > 0 && read_exact(f, v.sizes.data(), 4 * v.layers) &&
             read_exact(f, &v.value_bits, 4) && read_exact(f, &load_bytes, 4);
    }
    if (ok) {
        v.inputs.resize(size_t(v.steps) * v.samples * v.features);
        ok = read_exact(f, v.inputs.data(), v.inputs.size());
        for (uint32_t l = 0; ok && l < v.layers; l++) {
            v.expected.emplace_back(size_t(v.steps) * v.samples * v.sizes[l]);
            ok = read_exact(f, v.expected.back().data(), v.expected.back().size());
        }
        if (ok && v.value_bits) {
            v.values.resize(size_t(v.steps) * v.samples * v.sizes[v.layers - 1]);
            ok = read_exact(f, v.values.data(), 4 * v.values.size());
        }
        v.load.resize(load_bytes);
        ok = ok && read_exact(f, v.load.data(), load_bytes);
    }
    fclose(f);
    return ok;
}

struct Rng {  // xorshift64*: the stall pattern, reproducible from SEED
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 2685821657736338717ull + 1) {}
    double uniform() {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
        return double((s * 2685821657736338717ull) >> 11) / double(1ull << 53);
    }
};

// Verilator 5 detects the rising edge of clk by comparing it with its value at the last
// evaluation (__Vtrigprevexpr___TOP__clk__0). Where the model has no such member, this
// returns false and the harness evaluates the model as usual.
template <typename Root>
auto note_clock_low(Root* root, int) -> decltype(root->__Vtrigprevexpr___TOP__clk__0 = 0, true) {
    root->__Vtrigprevexpr___TOP__clk__0 = 0;
    return true;
}
template <typename Root>
bool note_clock_low(Root*, long) { return false; }

struct Mismatch {
    long sample, timestep, layer, neuron;
    int expected, got;
};

// One layer's output stream: events of the current timestep, compared at its end. A
// readout's events (value_bits > 0) carry membranes, compared with the golden ones too.
struct Monitor {
    uint32_t layer, size, index_bits, value_bits;
    const Vectors* v;
    std::vector<uint8_t> got;
    std::vector<int64_t> got_value;
    uint64_t timestep = 0;         // timesteps completed (end-of-timestep events seen)
    uint64_t mismatches = 0;
    uint64_t events = 0;
    bool malformed = false;        // an index out of range or sent twice in a timestep
    std::vector<Mismatch>* first;
    long raster_sample = -1;       // the sample whose events are kept, as (layer, t, neuron)
    std::vector<Mismatch>* raster = nullptr;

    void event(uint64_t payload, std::vector<uint64_t>* eot_cycles, uint64_t cycle) {
        if ((payload >> index_bits) & 1) {
            close_timestep();
            if (eot_cycles) eot_cycles->push_back(cycle);
            return;
        }
        events++;
        uint64_t index = payload & ((1ull << index_bits) - 1);
        if (index >= size || got[index]) {
            malformed = true;
            if (index < size) got[index] = 2;
            return;
        }
        got[index] = 1;
        if (value_bits) got_value[index] = value(payload);
    }

    // the two's complement value field of a readout's event
    int64_t value(uint64_t payload) const {
        uint64_t field = (payload >> (index_bits + 1)) & ((1ull << value_bits) - 1);
        return int64_t(field << (64 - value_bits)) >> (64 - value_bits);
    }

    void close_timestep() {
        uint64_t s = timestep / v->steps, t = timestep % v->steps;
        if (long(s) == raster_sample)
            for (uint32_t n = 0; n < size; n++)
                if (got[n]) raster->push_back({long(s), long(t), long(layer), long(n), 0, got[n]});
        if (s < v->samples) {
            const size_t base = (t * v->samples + s) * size;
            const uint8_t* want = &v->expected[layer][base];
            for (uint32_t n = 0; n < size; n++) {
                int have = got[n] ? 1 : 0;
                bool wrong_value = value_bits && have && got_value[n] != v->values[base + n];
                if (have != want[n] || got[n] == 2 || wrong_value) {
                    mismatches++;
                    if (first->size() < 20)
                        first->push_back({long(s), long(t), long(layer), long(n),
                                          value_bits ? v->values[base + n] : want[n],
                                          value_bits ? int(got_value[n]) : got[n]});
                }
            }
            if (malformed && first->size() < 20)
                first->push_back({long(s), long(t), long(layer), -1, -1, -1});
            if (malformed) mismatches++;
        } else {
            mismatches++;  // a timestep more than the stimulus has
        }
        std::fill(got.begin(), got.end(), 0);
        malformed = false;
        timestep++;
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s VECTORS RESULTS STALL SEED CYCLE_BUDGET [TRACE SAMPLE]\n",
                argv[0]);
        return 2;
    }
    Vectors v;
    if (!read_vectors(argv[1], v) || v.layers != SNNHW_LAYERS) {
        fprintf(stderr, "%s: not a vectors file for this design (%d layers)\n", argv[1],
                SNNHW_LAYERS);
        return 2;
    }
    const double stall = atof(argv[3]);
    Rng rng(strtoull(argv[4], nullptr, 10));
    const uint64_t budget = strtoull(argv[5], nullptr, 10);
    const long trace_sample = argc >= 8 ? atol(argv[7]) : -1;

    Verilated::commandArgs(1, argv);
    auto* top = new Vsnn_top;
#if SNNHW_TRACE
    Verilated::traceEverOn(true);
    VerilatedVcdC* vcd = nullptr;
    if (argc >= 8) {
        vcd = new VerilatedVcdC;
        top->trace(vcd, 99);
        vcd->open(argv[6]);
    }
#endif
    uint64_t cycle = 0;       // rising edges since the end of reset
    // the rising edge through the scheduler's clocked phases only (see the top of this file)
    const bool edge_only = SNNHW_SKIP_SETTLED && Vsnn_top___024root___eval_phase__act &&
                           Vsnn_top___024root___eval_phase__nba;
    bool tracing = false;
    auto tick = [&]() {  // the model has settled with the clock low (eval() after inputs)
#if SNNHW_TRACE
        if (vcd && tracing) vcd->dump(2 * cycle);
#endif
        top->clk = 1;
        if (edge_only) {
            do { while (Vsnn_top___024root___eval_phase__act(top->rootp)) {} }
            while (Vsnn_top___024root___eval_phase__nba(top->rootp));
        } else {
            top->eval();
        }
#if SNNHW_TRACE
        if (vcd && tracing) vcd->dump(2 * cycle + 1);
#endif
        top->clk = 0;
        cycle++;
    };

    top->clk = 0;
    top->rst = 1;
    top->i___05Fvalid = 0;
    top->o___05Fready = 0;
    SNNHW_LOAD_IDLE(top);
    for (int k = 0; k < 3; k++) { top->eval(); tick(); }
    top->rst = 0;

    // run-time weights at full rate, before the first sample (not counted in the cycles)
    for (size_t k = 0; k < v.load.size();) {
        SNNHW_LOAD_DRIVE(top, v.load[k]);
        top->eval();
        bool taken = SNNHW_LOAD_READY(top);
        tick();
        if (taken) k++;
    }
    SNNHW_LOAD_IDLE(top);
    top->eval();
    while (!top->i___05Fready) { tick(); top->eval(); }

    std::vector<Mismatch> first;
    std::vector<Monitor> monitors;
    for (uint32_t l = 0; l < v.layers; l++) {
        const uint32_t vb = l + 1 == v.layers ? v.value_bits : 0;
        monitors.push_back({l, v.sizes[l], SNNHW_INDEX_BITS[l], vb, &v,
                            std::vector<uint8_t>(v.sizes[l]),
                            std::vector<int64_t>(vb ? v.sizes[l] : 0), 0, 0, 0, false, &first});
    }
    // SNNHW_RASTER_SAMPLE: the RTL's events of that sample, every layer, in the results
    std::vector<Mismatch> raster;
    const char* raster_env = getenv("SNNHW_RASTER_SAMPLE");
    for (auto& m : monitors) { m.raster_sample = raster_env ? atol(raster_env) : -1; m.raster = &raster; }
    std::vector<uint64_t> eot_cycles;
    const uint32_t out_size = v.sizes[v.layers - 1];
    // output spikes (a readout's membranes summed) per sample and neuron
    std::vector<int64_t> counts(size_t(v.samples) * out_size);
    const uint32_t in_bits = SNNHW_INPUT_INDEX_BITS;

    // the input events of one timestep: active inputs ascending, then end-of-timestep. A
    // direct-encoding input (SNNHW_INPUT_VALUE_BITS > 0) sends its nonzero values, as
    // index | eot << in_bits | value << (in_bits + 1), in a sample's first timestep only.
    std::vector<uint64_t> pending;
    uint64_t next_step = 0, offered = 0;
    const uint64_t total_steps = uint64_t(v.steps) * v.samples;
    const bool direct = SNNHW_INPUT_VALUE_BITS > 0;
    auto refill = [&]() {
        pending.clear();
        offered = 0;
        if (next_step >= total_steps) return;
        uint64_t s = next_step / v.steps, t = next_step % v.steps;
        const uint8_t* x = &v.inputs[(t * v.samples + s) * v.features];
        for (uint32_t j = 0; j < v.features && (!direct || t == 0); j++)
            if (x[j]) pending.push_back(direct ? j | uint64_t(x[j]) << (in_bits + 1) : j);
        pending.push_back(1ull << in_bits);
        next_step++;
    };
    refill();

    const char* progress = getenv("SNNHW_PROGRESS");
    uint64_t reported = 0;
    const uint64_t start = cycle;
    bool hung = false;
    uint64_t payloads[SNNHW_LAYERS];
    bool fires[SNNHW_LAYERS];
    auto wall_start = std::chrono::steady_clock::now();
    while (monitors.back().timestep < total_steps) {
        if (cycle - start > budget) { hung = true; break; }
        bool offer = offered < pending.size() && !(stall > 0 && rng.uniform() < stall);
        bool ready = !(stall > 0 && rng.uniform() < stall);
        bool changed = offer != top->i___05Fvalid || ready != top->o___05Fready ||
                       (offer && top->i___05Fpayload != pending[offered]);
        top->i___05Fvalid = offer;
        if (offer) top->i___05Fpayload = pending[offered];
        top->o___05Fready = ready;
        if (changed || !SNNHW_SKIP_SETTLED || !note_clock_low(top->rootp, 0)) top->eval();
        bool in_taken = offer && top->i___05Fready;
        SNNHW_READ_TAPS(top, fires, payloads);
        uint64_t now = cycle - start + 1;
        for (uint32_t l = 0; l < v.layers; l++)
            if (fires[l])
                monitors[l].event(payloads[l], l + 1 == v.layers ? &eot_cycles : nullptr, now);
        const uint32_t out_bits = SNNHW_INDEX_BITS[v.layers - 1];
        const uint64_t out_payload = payloads[v.layers - 1];
        const uint64_t out_index = out_payload & ((1ull << out_bits) - 1);
        const uint64_t out_sample = monitors.back().timestep / v.steps;
        if (fires[v.layers - 1] && !((out_payload >> out_bits) & 1) &&
            out_index < out_size && out_sample < v.samples)
            counts[out_sample * out_size + out_index] +=
                v.value_bits ? monitors.back().value(out_payload) : 1;
        if (trace_sample >= 0) {
            uint64_t out_sample = monitors.back().timestep / v.steps;
            uint64_t in_sample = next_step ? (next_step - 1) / v.steps : 0;
            tracing = in_sample >= uint64_t(trace_sample) && out_sample <= uint64_t(trace_sample);
        }
        tick();
        if (in_taken && ++offered == pending.size()) refill();
        if (progress && monitors.back().timestep / v.steps > reported) {
            reported = monitors.back().timestep / v.steps;
            if (FILE* p = fopen(progress, "w")) {
                fprintf(p, "%llu %u\n", (unsigned long long)reported, v.samples);
                fclose(p);
            }
        }
    }
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start)
                      .count();
#if SNNHW_TRACE
    if (vcd) { vcd->close(); delete vcd; }
#endif
    top->final();
    delete top;

    FILE* out = fopen(argv[2], "w");
    if (!out) { perror(argv[2]); return 2; }
    uint64_t total = 0, max_step = 0, previous = 0;
    for (auto& m : monitors) total += m.mismatches;
    for (uint64_t c : eot_cycles) { if (c - previous > max_step) max_step = c - previous; previous = c; }
    uint64_t cycles = eot_cycles.empty() ? 0 : eot_cycles.back();
    fprintf(out, "{\"stall_probability\": %g, \"samples\": %u, \"timesteps\": %u, "
                 "\"hung\": %s, \"mismatches\": %llu, \"layer_mismatches\": [",
            stall, v.samples, v.steps, hung ? "true" : "false", (unsigned long long)total);
    auto layer_counts = [&](uint64_t Monitor::*count) {  // null: a layer not observed
        for (uint32_t l = 0; l < v.layers; l++) {
            if (SNNHW_TAPPED[l])
                fprintf(out, "%s%llu", l ? ", " : "", (unsigned long long)(monitors[l].*count));
            else
                fprintf(out, "%snull", l ? ", " : "");
        }
    };
    layer_counts(&Monitor::mismatches);
    fprintf(out, "], \"layer_events\": [");
    layer_counts(&Monitor::events);
    fprintf(out, "], \"first_mismatches\": [");
    for (size_t k = 0; k < first.size(); k++)
        fprintf(out, "%s{\"sample\": %ld, \"timestep\": %ld, \"layer\": %ld, \"neuron\": %ld, "
                     "\"golden\": %d, \"rtl\": %d}", k ? ", " : "", first[k].sample,
                first[k].timestep, first[k].layer, first[k].neuron, first[k].expected,
                first[k].got);
    fprintf(out, "], \"total_cycles\": %llu, \"cycles_per_timestep_mean\": %.6f, "
                 "\"cycles_per_timestep_max\": %llu, \"wall_seconds\": %.6f, "
                 "\"cycles_per_second\": %.1f, \"eot_cycles\": [",
            (unsigned long long)cycles, total_steps ? double(cycles) / total_steps : 0.0,
            (unsigned long long)max_step, wall, wall > 0 ? double(cycle - start) / wall : 0.0);
    for (size_t k = 0; k < eot_cycles.size(); k++)
        fprintf(out, "%s%llu", k ? ", " : "", (unsigned long long)eot_cycles[k]);
    fprintf(out, "], \"raster\": [");  // [layer, timestep, neuron] of the raster sample
    for (size_t k = 0; k < raster.size(); k++)
        fprintf(out, "%s[%ld, %ld, %ld]", k ? ", " : "", raster[k].layer, raster[k].timestep,
                raster[k].neuron);
    fprintf(out, "], \"output_counts\": [");
    for (size_t k = 0; k < counts.size(); k++)
        fprintf(out, "%s%lld", k ? ", " : "", (long long)counts[k]);
    fprintf(out, "]}\n");
    fclose(out);
    return 0;
}
