// Arithmetic shared by every ATC kernel: constants, the na value, TradingView's arithmetic
// for the built-in moving averages (spec §4.8), Pine's tolerant comparisons, the equity
// step (spec §6) and the Layer-1 rounding (spec §7).
//
// Everything here is plain IEEE double arithmetic (+, −, ×, ÷, floor, fabs, comparisons),
// written operation for operation in the order §4.8 and the numpy reference use. The
// runtime compile passes --fmad=false (cuda_backend/host.py COMPILE_OPTIONS): NVRTC would
// otherwise contract a*b+c into one FMA, whose single rounding differs from the reference's
// two. The CPU emulation compiles these files with g++ -ffp-contract=off for the same
// reason, so emulation and device round alike. The growth factor pow() is NOT evaluated on
// the device (CUDA's pow is not correctly rounded); the host passes a table computed as the
// reference does.
#ifndef ATC_COMMON_CUH
#define ATC_COMMON_CUH

#define ATC_WARP 32
// Bars processed between two block barriers. Small enough that the double-buffered
// per-chunk hand-off between warps fits in static shared memory (< 48 KB).
#define ATC_CHUNK 8
// WMA and LINREG windows up to this length are re-summed exactly (§4.8) on every bar, also
// in batches: the O(n) sum costs no more than the running update's bookkeeping.
#define ATC_DIRECT_MAX 8
// Batches (not detail results) may carry WMA and LINREG as O(1) running sums. Such a value
// only decides the crossover test (close vs MA); it is replaced by the exact §4.8 value
// whenever |MA_running − close| ≤ ATC_BAND_REL · M, where M ≥ |y| for every source value y
// that entered the running sums since their last exact re-sum, the windows of that re-sum
// included (atc_full_family keeps M). Why the band is safe — u = 2^−53, n ≤ 2007 the
// length, k ≤ 255 the running steps since the last exact re-sum (every 256th bar re-sums):
//   · an exact §4.8 window sum carries |err(Σy)| ≤ n²·uM and |err(Σp·y)| ≤ n·uM·Σp;
//   · a running step Σy += (x − x_old) adds ≤ (n + 2)·uM, and Σp·y += (n·x − Σy) adds
//     ≤ (3n + Σp)·uM plus the error Σy carries at that step (summed: ≤ (k·n² + k²(n+2)/2)uM);
//   · WMA = Σp·y / Σp with Σp = n(n+1)/2: the running value is off the true WMA by
//     ≤ uM(n + 2 + 6k + k²) and the exact §4.8 value by ≤ uM(n + 2), together
//     ≤ uM(2n + 4 + 6k + k²) ≤ 7.1e4·uM;
//   · LINREG = Σy/n + slope·(n−1)/2 is linear in (Σy, Σp·y) with |∂/∂Σp·y| = 6/(n(n+1))
//     (3× WMA's) and |∂/∂Σy| = 2/n, and its formula's 8 roundings each move it ≤ 12·uM:
//     running vs exact ≤ uM(3k² + 22k + 10n + 203) ≤ 2.3e5·uM ≈ 2.6e-11·M.
// Both stay below 1e-9·M by a factor > 35, so outside the band the running value and the
// exact value lie strictly on the same side of the close, and every bar inside the band is
// decided by the exact value. Detail results use the exact value on every bar.
#define ATC_BAND_REL 1e-9
// Running sums are re-summed exactly (§4.8 order) on every bar b with (b & mask) == 0.
#define ATC_RESUM_MASK 255
// Pine's tolerance for the script's own comparisons (§4.8): |a − b| ≤ 1e-10 is equal.
#define ATC_PINE_EPS 1e-10
// Ring of Hull raw values per member: ≥ floor(sqrt(max length 2007)) + 1 = 45, a power of 2.
#define ATC_HULL_RING 64
// Layer-1 signals travel between warps as int8 codes k with signal = k / 100.0 (exactly the
// double round2 produces); this code stands for na.
#define ATC_SIG_NA (-128)
#define ATC_BIG_INT 2147483647
// Usable prices: core.types.PRICE_MIN … PRICE_MAX (a test keeps the two equal).
#define ATC_PRICE_MIN 1e-100
#define ATC_PRICE_MAX 1e100

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
//   WMA:       k0 = norm = 1 + 2 + … + n = n(n+1)/2
//   LSMA:      k0 = sx = Σp (p = 1 … n), k1 = den = n·Σp² − sx·sx (§4.8; all exact)
//   Hull:      k0, k1, k2 = the norms of WMA(half), WMA(n), WMA(root); n1 = half, n2 = root
//   off:       first row of the member's region in the per-symbol scratch ring (HMA: the
//              math.sum ring of n realised entries, or Hull's ATC_HULL_RING raw values;
//              DEMA: E1's values during E2's seed, n; KAMA: the noise ring, n; else unused)
struct AtcMember {
    double k0, k1, k2;
    int n, n1, n2, off;
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

// A ring buffer in global scratch (Hull's raw series), row stride = number of symbols.
struct AtcWinRing {
    double* r;
    atc_i64 stride;
    int first;
    __device__ __forceinline__ double operator()(int i) const {
        return r[(atc_i64)((first + i) & (ATC_HULL_RING - 1)) * stride];
    }
};

// -- spec §4.8: TradingView's arithmetic ------------------------------------------------

// WMA's and LINREG's window sums, oldest first with p = 1, 2, …, n: sy = Σ y and
// sxy = Σ y·p, each term added in turn (WMA's weight w = w + 1 runs through the same
// values as p, so its acc is exactly sxy). Not inlined: 9 unrolled members would otherwise
// each carry a copy of the loop.
template <class W>
__device__ __noinline__ void atc_window_sums(const W& w, int n, double* sy_out, double* sxy_out) {
    double sy = 0.0, sxy = 0.0, p = 0.0;
    for (int i = 0; i < n; ++i) {
        double y = w(i);
        p = p + 1.0;
        sy = sy + y;
        sxy = sxy + y * p;
    }
    *sy_out = sy;
    *sxy_out = sxy;
}

// ta.wma from its sums: fl(acc / norm), norm = n(n+1)/2 (exact in a double).
__device__ __forceinline__ double atc_wma_value(double sxy, double norm) { return sxy / norm; }

// ta.linreg(x, n, 0) from its sums, in §4.8's operation order. sx = Σp, den = n·Σp² − (Σp)².
__device__ __forceinline__ double atc_linreg_value(double sy, double sxy, int n, double sx, double den) {
    double nf = (double)n;
    double slope = (nf * sxy - sx * sy) / den;
    double avg = sy / nf;
    double intercept = (avg - (slope * sx) / nf) + slope;
    return intercept + slope * (nf - 1.0);
}

// The fire test of math.sum (§4.8 step 1), in this operand order.
__device__ __forceinline__ bool atc_msum_fire(double c, double v) {
    if (c == 0.0 || v == 0.0) return false;
    double b = fabs(c);
    double r = v + b;
    if (r == 0.0 || !(r - r == 0.0)) return false;  // r − r is NaN for ±inf
    return (b - (r - v)) > 0.0;
}

// The re-baseline after a fire: the newest-first linear sum of the k raw values, v the
// newest; raw(i) is the raw input i steps before it. Rare (≈ 0.1–0.5 % of inputs).
template <class Raw>
__device__ __noinline__ double atc_msum_rebase(const Raw& raw, double v, int k) {
    double acc = v;
    for (int i = 1; i < k; ++i) acc = raw(i) + acc;
    return acc;
}

// The compensated update of math.sum without a fire (§4.8 steps 2–3): y1 is −c in the
// warm-up, −d − c once an entry d is evicted. Returns the realised entry y2 to store.
__device__ __forceinline__ double atc_msum_step(double& s, double& c, double y1, double v) {
    double tmp = s + y1;
    double e1 = (tmp - s) - y1;
    double y2 = v - e1;
    double sn = tmp + y2;
    c = (sn - tmp) - y2;
    s = sn;
    return y2;
}

// One non-na input v of math.sum(x, n), n ≥ 2 (§4.8), state (s, c) and the ring of the n
// realised entries (cell: the slot of this input, which holds the entry being evicted once
// the window is full). i = number of inputs before this one (warm-up while i < n). raw(j):
// the raw input j steps back, for the re-baseline. Returns the new sum s.
template <class Raw>
__device__ __forceinline__ double atc_msum_push(double& s, double& c, double* cell, double v, int i, int n,
                                                const Raw& raw) {
    bool fire = atc_msum_fire(c, v);
    int k;
    double y1;
    if (i < n) {
        k = i + 1;
        y1 = -c;
    } else {
        k = n;
        y1 = -(*cell) - c;
    }
    if (fire) {
        s = atc_msum_rebase(raw, v, k);
        c = 0.0;
        *cell = v;
    } else {
        *cell = atc_msum_step(s, c, y1, v);
    }
    return s;
}

// The warm-up of math.sum only (an EMA seed: the machine never evicts before the seed
// exists, so no ring is needed). i < n inputs so far; same arithmetic as above.
template <class Raw>
__device__ __forceinline__ double atc_msum_warm(double& s, double& c, double v, int i, const Raw& raw) {
    if (atc_msum_fire(c, v)) {
        s = atc_msum_rebase(raw, v, i + 1);
        c = 0.0;
    } else {
        atc_msum_step(s, c, -c, v);
    }
    return s;
}

// ta.ema (§4.8) on input number i (i = 0 for this EMA's first input): the seed is
// ta.sma = math.sum / n on input n − 1 (na before), then y + α·(x − y). During the warm-up
// y holds the machine's sum and c its compensation; c is unused afterwards.
template <class Raw>
__device__ __forceinline__ double atc_ema_push(double& y, double& c, int n, double alpha, double v, int i,
                                               const Raw& raw) {
    if (i < n) {
        atc_msum_warm(y, c, v, i, raw);
        if (i < n - 1) return atc_nan();
        y = y / (double)n;
        return y;
    }
    y = y + alpha * (v - y);
    return y;
}

// -- Pine's tolerant comparisons (§4.8) for the script's own tests ----------------------
__device__ __forceinline__ bool atc_tol_gt(double a, double b) { return a > b && fabs(a - b) > ATC_PINE_EPS; }
__device__ __forceinline__ bool atc_tol_lt(double a, double b) { return a < b && fabs(a - b) > ATC_PINE_EPS; }
__device__ __forceinline__ bool atc_tol_ne(double a, double b) { return fabs(a - b) > ATC_PINE_EPS; }

// One active bar (t ≥ cutout) of eq() (spec §6). psign: sign of the input signal one bar
// earlier, 0 when it was zero or na (then `a` keeps its value). first: t == cutout.
// The script's `p > 0` / `p < 0` are tolerant (§4.8), but every p here is a member state
// (−1, 0, +1) or a Layer-1 signal k/100: |p| ≥ 0.01 or p = 0, so the plain sign is the
// same. The floor `e < 0.25` is tolerant: e within 1e-10 below 0.25 is not floored.
__device__ __forceinline__ double atc_equity_step(double e, double& a, bool first, int psign,
                                                  double rg, double start, double decay) {
    if (psign > 0) {
        a = rg;
    } else if (psign < 0) {
        a = -rg;
    }
    double v = first ? start : e * decay * (1.0 + a);
    return atc_tol_lt(v, 0.25) ? 0.25 : v;
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

// Cut of spec §8 (na → 0), with the script's tolerant `v > thr` / `v < −thr` (§4.8).
__device__ __forceinline__ double atc_cut(double v, double thr) {
    return atc_tol_gt(v, thr) ? 1.0 : (atc_tol_lt(v, -thr) ? -1.0 : 0.0);
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
