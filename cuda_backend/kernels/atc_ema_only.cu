// EMA-only screening batch: the EMA family's Layer 1 and Layer 2 and the §9 events on its
// signal (core.types.BatchResult, mode "ema_only"), last `tail` bars out.
//
// Mapping: one thread per (symbol, EMA member). A block is 9 warps × 32 lanes: warp m runs
// member m (length L, L+o1 … L−o4) for the 32 symbols of the block. Per chunk of ATC_CHUNK
// bars:
//   1. every member thread advances its EMA, crossover state and Layer-1 equity and leaves
//      (state, equity) per bar in shared memory;                            — barrier A
//   2. the 9 warps split the chunk's bars and sum Layer 1 over the members in member order
//      (spec §7's left-to-right sums), leaving the int8 signal code;        — barrier B
//   3. warp 0 runs the sequential tail of the recurrence (Layer-2 equity, direction, events)
//      while the other warps start the next chunk.
// Phase 1 of chunk c+1 cannot overwrite what phase 2 of chunk c reads (barrier B lies
// between), and phase 2 of chunk c+1 waits at barrier A for warp 0 to finish phase 3 of
// chunk c, so single buffers suffice.
#include "atc_common.cuh"
#include "atc_members.cuh"

#define ATC_EMA_THREADS (9 * ATC_WARP)

__device__ __forceinline__ int atc_ema_slot(int m, int k, int lane) {
    return (m * ATC_CHUNK + k) * ATC_WARP + lane;
}

#define ATC_EMA_PARAMS                                                                          \
    const double *__restrict__ close_t, atc_i64 pitch, int n_bars, int n_sym,                    \
        const int *__restrict__ starts, const double *__restrict__ gtab, int tail,               \
        double *__restrict__ o_sig, double *__restrict__ o_eq, double *__restrict__ o_dir,       \
        unsigned char *__restrict__ o_flags, signed char *__restrict__ o_last,                   \
        atc_i64 *__restrict__ o_since
#define ATC_EMA_ARGS close_t, pitch, n_bars, n_sym, starts, gtab, tail, o_sig, o_eq, o_dir, o_flags, o_last, o_since

extern "C" __global__ void __launch_bounds__(ATC_EMA_THREADS) atc_ema_only_kernel(ATC_EMA_PARAMS) {
    __shared__ signed char sh_state[9 * ATC_CHUNK * ATC_WARP];
    __shared__ double sh_eq[9 * ATC_CHUNK * ATC_WARP];
    __shared__ signed char sh_code[ATC_CHUNK * ATC_WARP];
    __shared__ double sh_rg[ATC_CHUNK * ATC_WARP];
    __shared__ int sh_first;

    int lane = threadIdx.x & (ATC_WARP - 1);
    int m = threadIdx.x / ATC_WARP;
    int sym = blockIdx.x * ATC_WARP + lane;
    bool active = sym < n_sym;
    int start = active ? starts[sym] : n_bars;

    if (threadIdx.x == 0) sh_first = n_bars;
    __syncthreads();
    if (m == 0 && active) atomicMin(&sh_first, start);
    __syncthreads();
    int b_begin = (sh_first / ATC_CHUNK) * ATC_CHUNK;

    AtcSeries close;
    close.p = close_t + sym;
    close.pitch = pitch;
    const int cutout = c_atc.cutout;
    const double decay = c_atc.decay;
    const bool strategy = c_atc.strategy != 0;

    // Member m of the EMA family (family 0): its constants are c_atc.mem[m].
    const AtcMember& k_m = c_atc.mem[m];
    double ema_y = 0.0, ema_c = 0.0;  // ta.ema's state (§4.8: the machine's seed, then y)
    double ma_prev = atc_nan(), c_prev = atc_nan(), eq = atc_nan(), a = 0.0;
    int st = 0;
    // Warp 0 only: the family's Layer-2 equity and the events.
    double eq_f = atc_nan(), a_f = 0.0;
    int code_prev = ATC_SIG_NA;
    const double weight = c_atc.weights[0];
    AtcEvents ev;
    ev.init();

    for (int c0 = b_begin; c0 < n_bars; c0 += ATC_CHUNK) {
        // Phase 1: the member recurrences.
        for (int k = 0; k < ATC_CHUNK; ++k) {
            int b = c0 + k;
            int t = b - start;
            int slot = atc_ema_slot(m, k, lane);
            double eq_out = atc_nan();
            if (active && b < n_bars && t >= 0) {
                double cv = close.at(b);
                bool on = t >= cutout;
                double rg = atc_nan();
                if (on && t >= 1) rg = (cv - c_prev) / c_prev * __ldg(gtab + (t - cutout));
                AtcRawX raw = {close, b};
                double ma = atc_ema_push(ema_y, ema_c, k_m.n, k_m.k0, cv, t, raw);
                int p = st;
                if (cv > ma && c_prev <= ma_prev) {
                    st = 1;
                } else if (cv < ma && c_prev >= ma_prev) {
                    st = -1;
                }
                ma_prev = ma;
                c_prev = cv;
                if (on) {
                    eq = atc_equity_step(eq, a, t == cutout, t >= 1 ? p : 0, rg, 1.0, decay);
                    eq_out = eq;
                }
                if (m == 0) sh_rg[k * ATC_WARP + lane] = rg;
            }
            sh_state[slot] = (signed char)st;
            sh_eq[slot] = eq_out;
        }
        __syncthreads();  // A
        // Phase 2: Layer 1 per (symbol, bar), bars spread over the 9 warps.
        for (int k = m; k < ATC_CHUNK; k += 9) {
            int b = c0 + k;
            int t = b - start;
            int code = ATC_SIG_NA;
            if (active && b < n_bars && t >= cutout) {
                double num = 0.0, den = 0.0;
                for (int q = 0; q < 9; ++q) {
                    int slot = atc_ema_slot(q, k, lane);
                    double e = sh_eq[slot];
                    double se = (double)sh_state[slot] * e;
                    if (q == 0) {
                        num = se;
                        den = e;
                    } else {
                        num = num + se;
                        den = den + e;
                    }
                }
                code = atc_round2_code(num / den);
            }
            sh_code[k * ATC_WARP + lane] = (signed char)code;
        }
        __syncthreads();  // B
        // Phase 3: Layer 2 and §9 with the EMA signal as base and alert series.
        if (m == 0) {
            for (int k = 0; k < ATC_CHUNK; ++k) {
                int b = c0 + k;
                int t = b - start;
                if (!active || b >= n_bars || t < 0) continue;
                int code = sh_code[k * ATC_WARP + lane];
                double eq_out = atc_nan();
                if (t >= cutout) {
                    eq_f = atc_equity_step(eq_f, a_f, t == cutout, atc_code_sign(code_prev),
                                           sh_rg[k * ATC_WARP + lane], weight, decay);
                    eq_out = eq_f;
                }
                code_prev = code;
                double sig = atc_code_value(code);
                double base;
                int flags = ev.step(sig, sig, strategy, c_atc.long_thr, c_atc.short_thr, b, &base);
                int j = b - (n_bars - tail);
                if (j >= 0) {
                    atc_i64 o = (atc_i64)sym * tail + j;
                    o_sig[o] = sig;
                    o_eq[o] = eq_out;
                    o_dir[o] = ev.dir;
                    o_flags[o] = (unsigned char)flags;
                }
            }
        }
    }
    if (m == 0 && active) {
        o_last[sym] = (signed char)ev.last_event;
        o_since[sym] = ev.last_bar >= 0 ? (atc_i64)(n_bars - 1 - ev.last_bar) : (atc_i64)-1;
    }
}
