// Full ATC for a batch of symbols (spec §3–§9), last `tail` bars out.
//
// Mapping: one thread per (symbol, family). A block is 6 warps × 32 lanes: warp f runs
// family f, lane l runs symbol blockIdx.x·32 + l. Every lane of a warp executes the same
// family code with the same lengths (only the data differ), so control flow is
// warp-uniform; a thread keeps its 9 members' recurrences, crossover states and equities in
// registers (9 independent dependency chains of instruction-level parallelism; the members'
// constants are in constant memory, their states and crossover relations packed into one
// 64-bit word), sums Layer 1
// in member order itself (the exact left-to-right order of spec §7) and runs its family's
// Layer-2 equity. Per-bar intermediates (MAs, states, equities) never touch global memory;
// only math.sum's rings, DEMA's seed inputs and Hull's raw series live in a scratch ring.
//
// The families of one symbol meet in shared memory: every ATC_CHUNK bars each family warp
// publishes its Layer-1 codes and Layer-2 equities into a double buffer, one barrier, and
// warp 0 (EMA, the cheapest family) combines them into Average_Signal, direction and events
// for that chunk while the other warps already run the next one.
//
// Inputs are bar-major (bars, pitch) so that a warp's 32 loads of one bar coalesce; the
// window look-backs of the 54 members (x[b − n]) hit L1 because all six warps of a block
// walk the same 32 columns within a few dozen bars of each other.
#include "atc_common.cuh"
#include "atc_members.cuh"

#define ATC_FULL_THREADS (6 * ATC_WARP)
// Blocks per SM the register allocation must allow: 2 caps it at 168 registers (12 warps
// per SM, no hot-loop spills on sm_90); 1 lets ptxas use 255 for more instruction-level
// parallelism at half the warps. The launcher can override it (-DATC_FULL_MIN_BLOCKS=…) for
// measurements on a GPU.
#ifndef ATC_FULL_MIN_BLOCKS
#define ATC_FULL_MIN_BLOCKS 2
#endif

// What changes from one launch (chunk of symbols) to the next; per-call constants are in
// c_atc. Outputs are (symbols, tail) / (symbols, 6, tail); detail arrays (symbols, 54, bars).
struct AtcFullIo {
    AtcSeries close, src;
    const double* gtab;
    double *o_avg, *o_sig, *o_eq, *o_dir, *o_base;
    unsigned char* o_flags;
    signed char* o_last;
    atc_i64* o_since;
    double *d_mas, *d_eq;
    signed char* d_states;
    double* ring;  // the symbol's column of the scratch ring (AtcMember::off)
    atc_i64 ring_stride;
    int n_bars, tail, start, sym, lane;
    bool active, detail, want_base;
};

__device__ __forceinline__ int atc_full_slot(int buf, int fam, int k, int lane) {
    return ((buf * 6 + fam) * ATC_CHUNK + k) * ATC_WARP + lane;
}

// Warp 0's share after each barrier: Average_Signal (§8) and §9 for one chunk of bars.
// Not inlined: it would otherwise be compiled into all six family instantiations.
__device__ __noinline__ void atc_full_combine(const AtcFullIo& io, AtcEvents& ev, int c0, int buf,
                                              const signed char* sh_code, const double* sh_eq) {
    for (int k = 0; k < ATC_CHUNK; ++k) {
        int b = c0 + k;
        int t = b - io.start;
        if (!io.active || b >= io.n_bars || t < 0) continue;
        double sig[6];
        double num = 0.0, den = 0.0;
        for (int f = 0; f < 6; ++f) {
            int slot = atc_full_slot(buf, f, k, io.lane);
            sig[f] = atc_code_value(sh_code[slot]);
            double eq = sh_eq[slot];
            double c = atc_cut(sig[f], c_atc.cut_thr);
            if (f == 0) {
                num = c * eq;
                den = eq;
            } else {
                num = num + c * eq;
                den = den + eq;
            }
        }
        double avg = t >= c_atc.cutout ? num / den : atc_nan();
        double cols = c_atc.colbase == 0 ? avg : sig[c_atc.colbase - 1];
        double alert = c_atc.alertbase == 0 ? avg : sig[c_atc.alertbase - 1];
        double base;
        int flags = ev.step(cols, alert, c_atc.strategy != 0, c_atc.long_thr, c_atc.short_thr, b, &base);
        int j = b - (io.n_bars - io.tail);
        if (j >= 0) {
            atc_i64 o = (atc_i64)io.sym * io.tail + j;
            io.o_avg[o] = avg;
            io.o_dir[o] = ev.dir;
            io.o_flags[o] = (unsigned char)flags;
            if (io.want_base) io.o_base[o] = base;
        }
    }
}

// Crossover bookkeeping of member m in the packed word: bits 4m…4m+1 hold the state
// (1 = +1, 2 = −1, 0 = 0), bit 4m+2 "close ≤ MA" and bit 4m+3 "close ≥ MA" on the previous
// bar (both clear when either was na), which is all §5 needs from the previous bar.
__device__ __forceinline__ int atc_cross_update(unsigned long long& bits, int m, double cv, double ma,
                                                int* prev_state) {
    int sh = 4 * m;
    unsigned int q = (unsigned int)(bits >> sh) & 15u;
    unsigned int code = q & 3u;
    *prev_state = code == 1u ? 1 : (code == 2u ? -1 : 0);
    if (cv > ma && (q & 4u)) {
        code = 1u;
    } else if (cv < ma && (q & 8u)) {
        code = 2u;
    }
    unsigned int nq = code | (cv <= ma ? 4u : 0u) | (cv >= ma ? 8u : 0u);
    bits = (bits & ~(15ull << sh)) | ((unsigned long long)nq << sh);
    return code == 1u ? 1 : (code == 2u ? -1 : 0);
}

template <class M, int FAM>
__device__ void atc_full_family(const AtcFullIo& io, int b_begin, signed char* sh_code, double* sh_eq) {
    M mem[9];
    double eq[9], a[9];
    unsigned long long cross = 0ull;
    // WMA and LSMA in batches: M ≥ |x| over every value in their running sums since the
    // last exact re-sum (the ATC_BAND_REL band, atc_common.cuh), from the family's longest
    // window back.
    const bool band_family = (FAM == 2 || FAM == 4) && !io.detail;
    int lmax = 1;
#pragma unroll
    for (int m = 0; m < 9; ++m) {
        mem[m].init();
        eq[m] = atc_nan();
        a[m] = 0.0;
        lmax = atc_imax(lmax, c_atc.mem[FAM * 9 + m].n);
    }
    double mabs = 0.0;
    AtcEvents ev;
    ev.init();
    double c_prev = atc_nan(), x_prev = atc_nan();
    double eq_f = atc_nan(), a_f = 0.0;
    int code_prev = ATC_SIG_NA;
    const int cutout = c_atc.cutout;
    const double decay = c_atc.decay;

    for (int c0 = b_begin; c0 < io.n_bars; c0 += ATC_CHUNK) {
        int buf = (c0 / ATC_CHUNK) & 1;
        // Not unrolled: the body already holds 9 unrolled members.
#pragma unroll 1
        for (int k = 0; k < ATC_CHUNK; ++k) {
            int b = c0 + k;
            int t = b - io.start;
            int code = ATC_SIG_NA;
            double eq_out = atc_nan();
            if (io.active && b < io.n_bars && t >= 0) {
                double cv = io.close.at(b);
                double xv = io.src.at(b);
                bool on = t >= cutout;
                // R·g of §3/§6 (g from the host's table); only read on active bars t ≥ 1.
                double rg = atc_nan();
                if (on && t >= 1) rg = (cv - c_prev) / c_prev * __ldg(io.gtab + (t - cutout));
                bool first = t == cutout;
                bool resum = (b & ATC_RESUM_MASK) == 0;
                double band = 0.0;
                if (band_family) {
                    if (resum) {  // the windows re-summed now: their values from here on
                        mabs = 0.0;
                        for (int j = atc_imax(b - lmax + 1, io.start); j <= b; ++j) {
                            double v = fabs(io.src.at(j));
                            mabs = v > mabs ? v : mabs;
                        }
                    } else {
                        double v = fabs(xv);
                        mabs = v > mabs ? v : mabs;
                    }
                    band = ATC_BAND_REL * mabs;
                }
                AtcStep st = {io.src, b, t, xv, x_prev, cv, band, resum, io.detail, io.ring, io.ring_stride};
                double num = 0.0, den = 0.0;
#pragma unroll
                for (int m = 0; m < 9; ++m) {
                    const AtcMember& k9 = c_atc.mem[FAM * 9 + m];
                    double ma = mem[m].step(k9, st);
                    int p;
                    int st = atc_cross_update(cross, m, cv, ma, &p);  // §5
                    if (on) {
                        // §6 with start 1; the sign is the state one bar earlier (na on bar 0).
                        eq[m] = atc_equity_step(eq[m], a[m], first, t >= 1 ? p : 0, rg, 1.0, decay);
                        double se = (double)st * eq[m];
                        if (m == 0) {
                            num = se;
                            den = eq[m];
                        } else {
                            num = num + se;
                            den = den + eq[m];
                        }
                    }
                    if (io.detail) {
                        atc_i64 o = ((atc_i64)io.sym * 54 + FAM * 9 + m) * io.n_bars + b;
                        io.d_mas[o] = ma;
                        io.d_states[o] = (signed char)st;
                        io.d_eq[o] = on ? eq[m] : atc_nan();
                    }
                }
                if (on) {
                    code = atc_round2_code(num / den);  // §7
                    // §8 Layer 2: the family's weight, driven by the previous Layer-1 signal.
                    eq_f = atc_equity_step(eq_f, a_f, first, atc_code_sign(code_prev), rg,
                                           c_atc.weights[FAM], decay);
                    eq_out = eq_f;
                }
                code_prev = code;
                c_prev = cv;
                x_prev = xv;
                int j = b - (io.n_bars - io.tail);
                if (j >= 0) {
                    atc_i64 o = ((atc_i64)io.sym * 6 + FAM) * io.tail + j;
                    io.o_sig[o] = atc_code_value(code);
                    io.o_eq[o] = eq_out;
                }
            }
            int slot = atc_full_slot(buf, FAM, k, io.lane);
            sh_code[slot] = (signed char)code;
            sh_eq[slot] = eq_out;
        }
        // Every warp reaches this barrier once per chunk, whichever family template it runs
        // (the warps of a block run different instantiations; each warp is uniform), hence
        // the non-aligned barrier.
        atc_block_barrier();
        if (FAM == 0) atc_full_combine(io, ev, c0, buf, sh_code, sh_eq);
    }
    if (FAM == 0 && io.active) {
        io.o_last[io.sym] = (signed char)ev.last_event;
        io.o_since[io.sym] = ev.last_bar >= 0 ? (atc_i64)(io.n_bars - 1 - ev.last_bar) : (atc_i64)-1;
    }
}

template <bool HULL>
__device__ __forceinline__ void atc_full_body(
    const double* close_t, const double* src_t, atc_i64 pitch, int n_bars, int n_sym, const int* starts,
    const double* gtab, double* ring, atc_i64 ring_stride, int tail, double* o_avg, double* o_sig,
    double* o_eq, double* o_dir, unsigned char* o_flags, signed char* o_last, atc_i64* o_since,
    int want_base, double* o_base, int detail, double* d_mas, signed char* d_states, double* d_eq) {
    __shared__ signed char sh_code[2 * 6 * ATC_CHUNK * ATC_WARP];
    __shared__ double sh_eq[2 * 6 * ATC_CHUNK * ATC_WARP];
    __shared__ int sh_first;

    int lane = threadIdx.x & (ATC_WARP - 1);
    int fam = threadIdx.x / ATC_WARP;
    int sym = blockIdx.x * ATC_WARP + lane;
    bool active = sym < n_sym;
    int start = active ? starts[sym] : n_bars;

    // Skip the chunks before the block's earliest first price (right-aligned batches).
    if (threadIdx.x == 0) sh_first = n_bars;
    __syncthreads();
    if (fam == 0 && active) atomicMin(&sh_first, start);
    __syncthreads();
    int b_begin = (sh_first / ATC_CHUNK) * ATC_CHUNK;

    AtcFullIo io;
    io.close.p = close_t + sym;
    io.close.pitch = pitch;
    io.src.p = src_t + sym;
    io.src.pitch = pitch;
    io.gtab = gtab;
    io.o_avg = o_avg;
    io.o_sig = o_sig;
    io.o_eq = o_eq;
    io.o_dir = o_dir;
    io.o_base = o_base;
    io.o_flags = o_flags;
    io.o_last = o_last;
    io.o_since = o_since;
    io.d_mas = d_mas;
    io.d_eq = d_eq;
    io.d_states = d_states;
    // Scratch ring layout: (rows of every member's region, ring_stride symbols).
    io.ring = ring + sym;
    io.ring_stride = ring_stride;
    io.n_bars = n_bars;
    io.tail = tail;
    io.start = start;
    io.sym = sym;
    io.lane = lane;
    io.active = active;
    io.detail = detail != 0;
    io.want_base = want_base != 0;

    switch (fam) {
        case 0:
            atc_full_family<AtcEma, 0>(io, b_begin, sh_code, sh_eq);
            break;
        case 1:
            if (HULL) {
                atc_full_family<AtcHull, 1>(io, b_begin, sh_code, sh_eq);
            } else {
                atc_full_family<AtcSma, 1>(io, b_begin, sh_code, sh_eq);
            }
            break;
        case 2:
            atc_full_family<AtcWma, 2>(io, b_begin, sh_code, sh_eq);
            break;
        case 3:
            atc_full_family<AtcDema, 3>(io, b_begin, sh_code, sh_eq);
            break;
        case 4:
            atc_full_family<AtcLsma, 4>(io, b_begin, sh_code, sh_eq);
            break;
        default:
            atc_full_family<AtcKama, 5>(io, b_begin, sh_code, sh_eq);
            break;
    }
}

#define ATC_FULL_PARAMS                                                                              \
    const double *__restrict__ close_t, const double *__restrict__ src_t, atc_i64 pitch, int n_bars, \
        int n_sym, const int *__restrict__ starts, const double *__restrict__ gtab,                 \
        double *__restrict__ ring, atc_i64 ring_stride, int tail, double *__restrict__ o_avg,   \
        double *__restrict__ o_sig, double *__restrict__ o_eq, double *__restrict__ o_dir,           \
        unsigned char *__restrict__ o_flags, signed char *__restrict__ o_last,                       \
        atc_i64 *__restrict__ o_since, int want_base, double *__restrict__ o_base, int detail,       \
        double *__restrict__ d_mas, signed char *__restrict__ d_states, double *__restrict__ d_eq
#define ATC_FULL_ARGS                                                                              \
    close_t, src_t, pitch, n_bars, n_sym, starts, gtab, ring, ring_stride, tail, o_avg, o_sig, \
        o_eq, o_dir, o_flags, o_last, o_since, want_base, o_base, detail, d_mas, d_states, d_eq

// Two entry points, so that each is register-allocated for the member types it really runs:
// the Hull option keeps three running WMAs per member and would otherwise raise the
// register count (and lower the occupancy) of the canonical kernel.
extern "C" __global__ void __launch_bounds__(ATC_FULL_THREADS, ATC_FULL_MIN_BLOCKS) atc_full_kernel(ATC_FULL_PARAMS) {
    atc_full_body<false>(ATC_FULL_ARGS);
}

extern "C" __global__ void __launch_bounds__(ATC_FULL_THREADS, ATC_FULL_MIN_BLOCKS) atc_full_hull_kernel(ATC_FULL_PARAMS) {
    atc_full_body<true>(ATC_FULL_ARGS);
}
