// The moving averages of spec §4 in TradingView's arithmetic (§4.8), one object per member.
//
// step(k, ctx) advances a member by one bar and returns its value (na before its first
// valid bar): k holds the member's constants (constant memory), ctx what the bar brings
// (AtcStep). An object holds only what changes from bar to bar; what does not fit in
// registers (the ring of math.sum's realised entries, DEMA's E1 values during E2's seed,
// Hull's raw series) lives in the symbol's column of a global scratch ring, rows
// k.off … k.off + size − 1, row stride = the number of symbols (a warp's 32 lanes touch one
// coalesced row).
//
//   EMA, DEMA (E1 and E2), the HMA family (= ta.sma) and KAMA's noise: math.sum's machine
//     (atc_msum_*), exact to the last bit on every bar, O(1) amortised.
//   WMA, LSMA: the §4.8 oldest-first re-sum on every bar in detail results (ctx.exact), for
//     lengths ≤ ATC_DIRECT_MAX, on a member's first window and every 256th bar; in between,
//     in batches, O(1) running sums decide the crossover test outside the safe band of
//     ATC_BAND_REL (see atc_common.cuh for the bound) and the exact value inside it.
//   Hull option: its three WMAs re-summed exactly on every bar.
#ifndef ATC_MEMBERS_CUH
#define ATC_MEMBERS_CUH

#include "atc_common.cuh"

// What one bar gives every member of a family.
struct AtcStep {
    AtcSeries x;     // the MA source
    int b, t;        // bar in the (bars, pitch) array; bar in the symbol's own history
    double xv, xprev, cv;  // x[b], x[b−1] (na at t = 0), the close (crossover partner)
    double band;     // running WMA/LSMA within this distance of the close: use the exact value
    bool resum;      // this bar re-sums running windows exactly
    bool exact;      // every MA exact on every bar (detail results)
    double* ring;    // the symbol's column of the scratch ring
    atc_i64 stride;  // its row stride
    __device__ __forceinline__ double* row(int r) const { return ring + (atc_i64)r * stride; }
};

// Raw inputs of math.sum, j steps before the newest, for the re-baseline after a fire.
struct AtcRawX {  // the source itself
    AtcSeries x;
    int b;
    __device__ __forceinline__ double operator()(int j) const { return x.at(b - j); }
};
struct AtcRawSteps {  // KAMA's |x[t] − x[t−1]|
    AtcSeries x;
    int b;
    __device__ __forceinline__ double operator()(int j) const { return fabs(x.at(b - j) - x.at(b - j - 1)); }
};
struct AtcRawRows {  // values kept in scratch rows 0 … idx (newest at idx)
    const double* r;
    atc_i64 stride;
    int idx;
    __device__ __forceinline__ double operator()(int j) const { return r[(atc_i64)(idx - j) * stride]; }
};

// ta.ema (§4.2, §4.8).
struct AtcEma {
    double y, c;
    __device__ __forceinline__ void init() {
        y = 0.0;
        c = 0.0;
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcStep& s) {
        AtcRawX raw = {s.x, s.b};
        return atc_ema_push(y, c, k.n, k.k0, s.xv, s.t, raw);
    }
};

// ta.sma (§4.3, the script's "HMA") = math.sum(x, n) / n.
struct AtcSma {
    double s, c;
    int slot;
    __device__ __forceinline__ void init() {
        s = 0.0;
        c = 0.0;
        slot = 0;
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcStep& st) {
        int n = k.n;
        if (n == 1) return st.xv;  // math.sum(x, 1) = x, and x / 1 = x
        AtcRawX raw = {st.x, st.b};
        atc_msum_push(s, c, st.row(k.off + slot), st.xv, st.t, n, raw);
        slot = slot + 1 == n ? 0 : slot + 1;
        if (st.t < n - 1) return atc_nan();
        return s / (double)n;
    }
};

// ta.wma (§4.4, §4.8). s = Σy and w = Σp·y of the window (running between exact re-sums:
// w_t = w_{t−1} + n·x_t − s_{t−1}, the old s, before it slides).
struct AtcWma {
    double s, w;
    __device__ __forceinline__ void init() {
        s = 0.0;
        w = 0.0;
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcStep& st) {
        int n = k.n;
        if (st.t < n - 1) return atc_nan();
        AtcWinX win = {st.x, st.b - n + 1};
        if (!(st.exact || n <= ATC_DIRECT_MAX || st.t == n - 1 || st.resum)) {
            w = w + ((double)n * st.xv - s);
            s = s + (st.xv - win(-1));
            double v = atc_wma_value(w, k.k0);
            if (fabs(v - st.cv) > st.band) return v;  // decided alike by the exact value
        }
        atc_window_sums(win, n, &s, &w);
        return atc_wma_value(w, k.k0);
    }
};

// TradingView/ta dema (§4.5): fl(fl(2·E1) − E2), E2 = ta.ema of E1 seeded by the machine on
// E1's first n values (bars n−1 … 2n−2), so the first value is on bar 2n−2. One
// compensation c serves both seeds: E1's ends on bar n−1, where E2's starts.
struct AtcDema {
    double y1, y2, c;
    __device__ __forceinline__ void init() {
        y1 = 0.0;
        y2 = 0.0;
        c = 0.0;
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcStep& st) {
        int n = k.n;
        AtcRawX raw1 = {st.x, st.b};
        double v1 = atc_ema_push(y1, c, n, k.k0, st.xv, st.t, raw1);
        int i2 = st.t - (n - 1);
        if (i2 < 0) return atc_nan();
        const double* col = st.row(k.off);
        if (i2 < n) {
            if (i2 == 0) c = 0.0;
            *st.row(k.off + i2) = v1;  // E2's raw inputs, for a re-baseline during its seed
        }
        AtcRawRows raw2 = {col, st.stride, i2};
        double v2 = atc_ema_push(y2, c, n, k.k0, v1, i2, raw2);
        if (i2 < n - 1) return atc_nan();
        return 2.0 * v1 - v2;
    }
};

// ta.linreg(x, n, 0) (§4.6, §4.8): the same sums as WMA (Σp·y runs with positions 1 … n,
// so its running update is WMA's), then §4.8's formula.
struct AtcLsma {
    double s, w;
    __device__ __forceinline__ void init() {
        s = 0.0;
        w = 0.0;
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcStep& st) {
        int n = k.n;
        if (n == 1) return st.xv;
        if (st.t < n - 1) return atc_nan();
        AtcWinX win = {st.x, st.b - n + 1};
        if (!(st.exact || n <= ATC_DIRECT_MAX || st.t == n - 1 || st.resum)) {
            w = w + ((double)n * st.xv - s);
            s = s + (st.xv - win(-1));
            double v = atc_linreg_value(s, w, n, k.k0, k.k1);
            if (fabs(v - st.cv) > st.band) return v;  // decided alike by the exact value
        }
        atc_window_sums(win, n, &s, &w);
        return atc_linreg_value(s, w, n, k.k0, k.k1);
    }
};

// The script's KAMA (§4.7): from 0, the slow constant until the efficiency ratio exists on
// bar n; noise = math.sum(|x − x[1]|, n) through the machine (bar 0's step is na and
// skipped, so input i arrives on bar i + 1); `noise != 0` is Pine's tolerant test.
struct AtcKama {
    double prev, s, c;
    int slot;
    __device__ __forceinline__ void init() {
        prev = 0.0;
        s = 0.0;
        c = 0.0;
        slot = 0;
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcStep& st) {
        int n = k.n;
        double noise = atc_nan();
        if (st.t >= 1) {
            double d = fabs(st.xv - st.xprev);
            if (n == 1) {
                noise = d;
            } else {
                int i = st.t - 1;
                AtcRawSteps raw = {st.x, st.b};
                atc_msum_push(s, c, st.row(k.off + slot), d, i, n, raw);
                slot = slot + 1 == n ? 0 : slot + 1;
                if (i >= n - 1) noise = s;
            }
        }
        double ratio = 0.0;
        if (st.t >= n) {
            double signal = fabs(st.xv - st.x.at(st.b - n));
            if (noise == noise && atc_tol_ne(noise, 0.0)) ratio = signal / noise;
        }
        double sc = ratio * (0.666 - 0.064) + 0.064;
        prev = prev + (sc * sc) * (st.xv - prev);
        return prev;
    }
};

// The hma_kind="hull" option (spec §12): WMA(2·WMA(x, n/2) − WMA(x, n), floor(√n)), every
// WMA re-summed exactly (§4.8) on every bar. The raw series lives in the member's
// ATC_HULL_RING scratch rows (≤ 45 values needed).
struct AtcHull {
    __device__ __forceinline__ void init() {}
    __device__ __forceinline__ double step(const AtcMember& k, const AtcStep& st) {
        int n = k.n, half = k.n1, root = k.n2;
        double sy, sxy;
        double vh = atc_nan();
        if (st.t >= half - 1) {
            AtcWinX w = {st.x, st.b - half + 1};
            atc_window_sums(w, half, &sy, &sxy);
            vh = atc_wma_value(sxy, k.k0);
        }
        if (st.t < n - 1) return atc_nan();
        AtcWinX w = {st.x, st.b - n + 1};
        atc_window_sums(w, n, &sy, &sxy);
        double raw = 2.0 * vh - atc_wma_value(sxy, k.k1);
        int i = st.t - (n - 1);  // raw's own bar count
        double* base = st.row(k.off);
        base[(atc_i64)(i & (ATC_HULL_RING - 1)) * st.stride] = raw;
        if (i < root - 1) return atc_nan();
        AtcWinRing rw = {base, st.stride, i - root + 1};
        atc_window_sums(rw, root, &sy, &sxy);
        return atc_wma_value(sxy, k.k2);
    }
};

#endif  // ATC_MEMBERS_CUH
