// Arithmetic shared by every ATC kernel: constants, the na value, window sums in numpy's
// order, the equity step (spec §6) and the Layer-1 rounding (spec §7).
//
// Everything here is plain IEEE double arithmetic (+, −, ×, ÷, floor, fabs, comparisons):
// compiled with -fmad=false these round exactly as the CPU reference does, which keeps the
// discrete outputs identical. The growth factor pow() is NOT evaluated on the device (CUDA's
// pow is not correctly rounded); the host passes a table computed as the reference does.
#ifndef ATC_COMMON_CUH
#define ATC_COMMON_CUH

#define ATC_WARP 32
// Bars processed between two block barriers. Small enough that the double-buffered
// per-chunk hand-off between warps fits in static shared memory (< 48 KB).
#define ATC_CHUNK 8
// Windows up to this length are summed directly every bar in numpy's order, so that
// members of length 1 or 2 (an MA equal to the close by construction) tie exactly as in the
// reference and never count as a crossing. Longer windows use running sums.
#define ATC_DIRECT_MAX 8
// A running-sum MA within this relative distance of the close is recomputed from its window
// in the reference's order before the crossover test: an MA can equal the close exactly
// (cent prices: an average of a flat stretch, a regression through the newest price), and
// the ~1e-13 drift of a running sum would otherwise decide such a tie differently from the
// reference. The drift is far below this band, so every tie it could flip is recomputed.
#define ATC_TIE_BAND 1e-9
// Running sums are re-summed exactly on every bar b with (b & mask) == 0: the drift of 1024
// add/subtract steps stays far below the 1e-9 tolerance even on 100k bars (spec §13.8).
#define ATC_RESUM_MASK 1023
// Ring of Hull raw values per member: ≥ floor(sqrt(max length 2007)) + 1 = 45, a power of 2.
#define ATC_HULL_RING 64
// Layer-1 signals travel between warps as int8 codes k with signal = k / 100.0 (exactly the
// double round2 produces); this code stands for na.
#define ATC_SIG_NA (-128)
#define ATC_BIG_INT 2147483647

#define ATC_FLAG_ARROW_LONG 1
#define ATC_FLAG_ARROW_SHORT 2
#define ATC_FLAG_LONG 4
#define ATC_FLAG_SHORT 8

typedef long long atc_i64;

// Per-member constants, computed once per call on the host (cuda_backend/host.py,
// member_constants) exactly as the reference computes them, and read from constant memory:
// a family's code indexes them with compile-time member numbers, so they are
// constant-bank operands and cost no registers (9 members × 7 families would otherwise
// hold ~50 registers of constants per thread).
//   EMA, DEMA: k0 = α = 2/(n+1)
//   WMA:       k0 = n(n+1)/2
//   LSMA:      k0 = Σp = n(n−1)/2, k1 = n·Σp² − (Σp)²
//   Hull:      k0, k1, k2 = the divisors of WMA(half), WMA(n), WMA(root); n1 = half, n2 = root
struct AtcMember {
    double k0, k1, k2;
    int n, n1, n2, pad;
};

// Everything about a call that is the same for every symbol.
struct AtcParams {
    AtcMember mem[54];
    double weights[6];
    double decay, cut_thr, long_thr, short_thr;
    int cutout, colbase, alertbase, strategy;
};

__constant__ AtcParams c_atc;

__device__ __forceinline__ double atc_nan() { return __longlong_as_double(0x7ff8000000000000LL); }

// Block-wide barrier for warp-specialised code: the full kernel's six family warps reach
// their per-chunk barrier at six different instructions (one per template instance).
// __syncthreads() is PTX `bar.sync` = `barrier.sync.aligned`, which the PTX ISA defines only
// when every thread of the block executes the same instruction; the non-aligned form
// (sm_70+) is defined for that case and orders shared-memory accesses the same way.
__device__ __forceinline__ void atc_block_barrier() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
    asm volatile("barrier.sync 0;" ::: "memory");
#else
    __syncthreads();
#endif
}

__device__ __forceinline__ int atc_imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int atc_imax(int a, int b) { return a > b ? a : b; }

// One symbol's column of a bar-major (bars, pitch) array: consecutive symbols are adjacent,
// so a warp of 32 symbols reads one bar with one coalesced 256-byte access.
struct AtcSeries {
    const double* p;
    atc_i64 pitch;
    __device__ __forceinline__ double at(int b) const { return __ldg(p + (atc_i64)b * pitch); }
};

// Window accessors: w(i) is the i-th value of the window, oldest first; w(-1) is the value
// just before the window (what a running sum drops).
struct AtcWinX {
    AtcSeries s;
    int first;
    __device__ __forceinline__ double operator()(int i) const { return s.at(first + i); }
};

// |x[k] − x[k−1]| for the bars of the window (KAMA's noise terms).
struct AtcWinSteps {
    AtcSeries s;
    int first;
    __device__ __forceinline__ double operator()(int i) const {
        int k = first + i;
        return fabs(s.at(k) - s.at(k - 1));
    }
};

// A ring buffer in global scratch (Hull's raw series), slot stride = number of symbols.
struct AtcWinRing {
    double* r;
    atc_i64 stride;
    int first;
    __device__ __forceinline__ double operator()(int i) const {
        return r[(atc_i64)((first + i) & (ATC_HULL_RING - 1)) * stride];
    }
};

// numpy's pairwise summation (what `win.sum(axis=1)` does), for the terms w(lo) … w(lo+n−1):
// sequential from 0.0 below 8 terms; up to 128 terms eight interleaved accumulators combined
// as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) and the remainder added in order; above 128 terms
// the two halves (the first rounded down to a multiple of 8) summed recursively and added.
// Bit for bit numpy's order, so a direct window sum equals the reference's.
// Not inlined: it runs on a member's first full window, every 1024th bar, near a tie with
// the close, and every bar only for windows of ≤ ATC_DIRECT_MAX; inlining it into 9
// unrolled members × 7 member types multiplied the code size and the register pressure.
template <class W>
__device__ __noinline__ double atc_pairwise_sum_at(const W& w, int lo, int n) {
    if (n < 8) {
        double r = 0.0;
        for (int i = 0; i < n; ++i) r = r + w(lo + i);
        return r;
    }
    if (n <= 128) {
        double r0 = w(lo), r1 = w(lo + 1), r2 = w(lo + 2), r3 = w(lo + 3);
        double r4 = w(lo + 4), r5 = w(lo + 5), r6 = w(lo + 6), r7 = w(lo + 7);
        int i = 8;
        int lim = n - (n % 8);
        for (; i < lim; i += 8) {
            r0 = r0 + w(lo + i);
            r1 = r1 + w(lo + i + 1);
            r2 = r2 + w(lo + i + 2);
            r3 = r3 + w(lo + i + 3);
            r4 = r4 + w(lo + i + 4);
            r5 = r5 + w(lo + i + 5);
            r6 = r6 + w(lo + i + 6);
            r7 = r7 + w(lo + i + 7);
        }
        double res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
        for (; i < n; ++i) res = res + w(lo + i);
        return res;
    }
    int n2 = n / 2;
    n2 -= n2 % 8;
    return atc_pairwise_sum_at(w, lo, n2) + atc_pairwise_sum_at(w, lo + n2, n - n2);
}

template <class W>
__device__ __forceinline__ double atc_pairwise_sum(const W& w, int n) {
    return atc_pairwise_sum_at(w, 0, n);
}

// Σ w(i)·(i + w0), left to right from 0.0: numpy's matmul of a strided window with a weight
// vector (not BLAS-able) runs exactly this loop.
template <class W>
__device__ __noinline__ double atc_seq_dot(const W& w, int n, int w0) {
    double r = 0.0;
    for (int i = 0; i < n; ++i) r = r + w(i) * (double)(i + w0);
    return r;
}

// One active bar (t ≥ cutout) of eq() (spec §6). psign: sign of the input signal one bar
// earlier, 0 when it was zero or na (then `a` keeps its value). first: t == cutout.
__device__ __forceinline__ double atc_equity_step(double e, double& a, bool first, int psign,
                                                  double rg, double start, double decay) {
    if (psign > 0) {
        a = rg;
    } else if (psign < 0) {
        a = -rg;
    }
    double v = first ? start : e * decay * (1.0 + a);
    return v < 0.25 ? 0.25 : v;
}

// round2 of spec §7 as an int code k (the signal is k / 100.0), ATC_SIG_NA for na.
// |v| ≤ 1 (a weighted mean of −1/0/+1), so |k| ≤ 100 fits in int8.
__device__ __forceinline__ int atc_round2_code(double v) {
    if (!(v == v)) return ATC_SIG_NA;
    double a = fabs(v) * 100.0;
    double u = floor(a);
    if (a - u >= 0.5 - 1e-10) u = u + 1.0;
    double s = v > 0.0 ? 1.0 : (v < 0.0 ? -1.0 : 0.0);
    return (int)(s * u);
}

__device__ __forceinline__ double atc_code_value(int code) {
    return code == ATC_SIG_NA ? atc_nan() : (double)code / 100.0;
}

// Sign of a signal code one bar earlier, as the equity step wants it (na → 0).
__device__ __forceinline__ int atc_code_sign(int code) {
    return code == ATC_SIG_NA ? 0 : (code > 0 ? 1 : (code < 0 ? -1 : 0));
}

// Cut of spec §8 (na → 0).
__device__ __forceinline__ double atc_cut(double v, double thr) {
    return v > thr ? 1.0 : (v < -thr ? -1.0 : 0.0);
}

// Per-symbol state of direction, arrows and alerts (spec §9), advanced one bar at a time.
struct AtcEvents {
    double dir, cols_prev, base_prev, alert_prev;
    int last_event, last_bar;
    __device__ void init() {
        dir = atc_nan();
        cols_prev = atc_nan();
        base_prev = atc_nan();
        alert_prev = atc_nan();
        last_event = 0;
        last_bar = -1;
    }
    // cols: the colbase series on this bar; alert: the alertbase series (never shifted).
    // Returns the event flags; *base_out gets the direction base (cols lagged in Strategy View).
    __device__ __forceinline__ int step(double cols, double alert, bool strategy, double lo,
                                        double hi_short, int b, double* base_out) {
        double base = strategy ? cols_prev : cols;
        bool up = base > lo && base_prev <= lo;
        bool down = base < hi_short && base_prev >= hi_short;
        bool alert_up = alert > lo && alert_prev <= lo;
        bool alert_down = alert < hi_short && alert_prev >= hi_short;
        double prev = dir;
        if (up) dir = 1.0;
        if (down) dir = -1.0;
        int flags = 0;
        if (prev == -1.0 && up) flags |= ATC_FLAG_ARROW_LONG;
        if (prev == 1.0 && down) flags |= ATC_FLAG_ARROW_SHORT;
        if (prev == -1.0 && alert_up) flags |= ATC_FLAG_LONG;
        if (prev == 1.0 && alert_down) flags |= ATC_FLAG_SHORT;
        if (flags & (ATC_FLAG_LONG | ATC_FLAG_SHORT)) {
            last_event = (flags & ATC_FLAG_LONG) ? 1 : -1;
            last_bar = b;
        }
        base_prev = base;
        cols_prev = cols;
        alert_prev = alert;
        *base_out = base;
        return flags;
    }
};

#endif  // ATC_COMMON_CUH
