// The moving averages of spec §4 as O(1)-state recurrences, one object per member.
//
// step(k, x, b, t, xv, xprev, cv, resum) advances a member by one bar and returns its value
// (na before its first valid bar): k holds the member's constants (constant memory), b is
// the bar in the (bars, pitch) array, t the bar in the symbol's own history (t = 0 on its
// first price), xv = x[b], xprev = x[b−1] (na at t = 0), cv = the close (the MA's crossover
// partner, for the tie band), resum = whether this bar re-sums running windows exactly. An
// object holds only what changes from bar to bar.
//
// Each formula is written in the reference's evaluation order (core/atc/moving_averages.py)
// so that continuous values agree to the last bits where the reference sums directly, and
// stay within 1e-9 where a running sum replaces a window sum.
#ifndef ATC_MEMBERS_CUH
#define ATC_MEMBERS_CUH

#include "atc_common.cuh"

// ta.ema (§4.2): SMA seed over the first n inputs, then y + α·(x − y). Until the seed, y
// holds the running total (0.0 + x0 + x1 + …, the reference's order).
struct AtcEma {
    double y;
    __device__ __forceinline__ void init() { y = 0.0; }
    // v is the input number i (i = 0 for the first input of this EMA).
    __device__ __forceinline__ double push(const AtcMember& k, double v, int i) {
        if (i < k.n) {
            y = y + v;
            if (i < k.n - 1) return atc_nan();
            y = y / (double)k.n;
            return y;
        }
        y = y + k.k0 * (v - y);
        return y;
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcSeries&, int, int t, double xv,
                                           double, double, bool) {
        return push(k, xv, t);
    }
};

// Whether a running-sum value must be recomputed exactly before comparing it with the close.
__device__ __forceinline__ bool atc_near_tie(double ma, double cv) { return fabs(ma - cv) <= ATC_TIE_BAND * fabs(cv); }

// ta.sma (§4.3, the script's "HMA").
struct AtcSma {
    double s;
    __device__ __forceinline__ void init() { s = 0.0; }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcSeries& x, int b, int t, double xv,
                                           double, double cv, bool resum) {
        int n = k.n;
        if (t < n - 1) return atc_nan();
        AtcWinX w = {x, b - n + 1};
        if (n <= ATC_DIRECT_MAX || t == n - 1 || resum) {
            s = atc_pairwise_sum(w, n);
        } else {
            s = s + (xv - w(-1));
            if (atc_near_tie(s / (double)n, cv)) s = atc_pairwise_sum(w, n);
        }
        return s / (double)n;
    }
};

// Running weighted sum W = Σ (i+1)·w(i) and plain sum S of a window of n values; the value
// is W / div with div = n(n+1)/2. Shared by ta.wma (§4.4) and the Hull option's WMAs.
struct AtcWmaCore {
    double s, w;
    __device__ __forceinline__ void init() {
        s = 0.0;
        w = 0.0;
    }
    // win: the window ending at the new value xnew; reset: sum it directly.
    template <class W>
    __device__ __forceinline__ double value(const W& win, int n, double div, double xnew, bool reset) {
        if (n <= ATC_DIRECT_MAX || reset) {
            w = atc_seq_dot(win, n, 1);
            if (n > ATC_DIRECT_MAX) s = atc_pairwise_sum(win, n);
        } else {
            // W_t = W_{t−1} + n·x_t − S_{t−1}: the old S, before it slides.
            w = w + ((double)n * xnew - s);
            s = s + (xnew - win(-1));
        }
        return w / div;
    }
};

struct AtcWma {
    AtcWmaCore c;
    __device__ __forceinline__ void init() { c.init(); }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcSeries& x, int b, int t, double xv,
                                           double, double cv, bool resum) {
        int n = k.n;
        if (t < n - 1) return atc_nan();
        AtcWinX w = {x, b - n + 1};
        double v = c.value(w, n, k.k0, xv, t == n - 1 || resum);
        if (n > ATC_DIRECT_MAX && atc_near_tie(v, cv)) {
            c.w = atc_seq_dot(w, n, 1);
            v = c.w / k.k0;
        }
        return v;
    }
};

// TradingView/ta dema (§4.5): 2·E1 − E2, E2 seeded with the mean of E1 over its first n
// values (bars n−1 … 2n−2), so the first value is on bar 2n−2.
struct AtcDema {
    AtcEma e1, e2;
    __device__ __forceinline__ void init() {
        e1.init();
        e2.init();
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcSeries&, int, int t, double xv,
                                           double, double, bool) {
        double v1 = e1.push(k, xv, t);
        int i = t - (k.n - 1);
        if (i < 0) return atc_nan();
        double v2 = e2.push(k, v1, i);
        if (i < k.n - 1) return atc_nan();
        return 2.0 * v1 - v2;
    }
};

// ta.linreg(x, n, 0) (§4.6): least-squares line through positions 0 … n−1, at n−1.
// Σy is the window sum S; Σp·y = P with P_t = P_{t−1} + n·x_t − S_t (the new S).
struct AtcLsma {
    double s, p;
    __device__ __forceinline__ void init() {
        s = 0.0;
        p = 0.0;
    }
    __device__ __forceinline__ double value(const AtcMember& k) const {
        int n = k.n;
        double slope = ((double)n * p - k.k0 * s) / k.k1;
        double intercept = (s - slope * k.k0) / (double)n;
        return intercept + slope * (double)(n - 1);
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcSeries& x, int b, int t, double xv,
                                           double, double cv, bool resum) {
        int n = k.n;
        if (n == 1) return xv;
        if (t < n - 1) return atc_nan();
        AtcWinX w = {x, b - n + 1};
        bool direct = n <= ATC_DIRECT_MAX || t == n - 1 || resum;
        if (!direct) {
            s = s + (xv - w(-1));
            p = p + ((double)n * xv - s);
            // A regression through cent prices can land exactly on the close.
            direct = atc_near_tie(value(k), cv);
        }
        if (direct) {
            s = atc_pairwise_sum(w, n);
            p = atc_seq_dot(w, n, 0);
        }
        return value(k);
    }
};

// The script's KAMA (§4.7): from 0, the slow constant until the efficiency ratio exists on
// bar n; noise is the window sum of |x[j] − x[j−1]| over j = t−n+1 … t.
struct AtcKama {
    double prev, noise;
    __device__ __forceinline__ void init() {
        prev = 0.0;
        noise = 0.0;
    }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcSeries& x, int b, int t, double xv,
                                           double xprev, double, bool resum) {
        int n = k.n;
        double ratio = 0.0;
        if (t >= n) {
            double x_old = x.at(b - n);
            if (n <= ATC_DIRECT_MAX || t == n || resum) {
                AtcWinSteps w = {x, b - n + 1};
                noise = atc_pairwise_sum(w, n);
            } else {
                noise = noise + (fabs(xv - xprev) - fabs(x_old - x.at(b - n - 1)));
            }
            double signal = fabs(xv - x_old);
            if (noise != 0.0) ratio = signal / noise;
        }
        double sc = ratio * (0.666 - 0.064) + 0.064;
        prev = prev + (sc * sc) * (xv - prev);
        return prev;
    }
};

// The hma_kind="hull" option (spec §12): WMA(2·WMA(x, n/2) − WMA(x, n), floor(√n)). The
// raw series lives in a small ring in global scratch (≤ 45 values per member).
struct AtcHull {
    AtcWmaCore wh, wn, wr;
    double* ring;
    __device__ __forceinline__ void init() {
        wh.init();
        wn.init();
        wr.init();
    }
    __device__ __forceinline__ void bind(double* ring_base) { ring = ring_base; }
    __device__ __forceinline__ double step(const AtcMember& k, const AtcSeries& x, int b, int t, double xv,
                                           double, double, bool resum, atc_i64 stride) {
        int n = k.n, half = k.n1, root = k.n2;
        double vh = atc_nan();
        if (t >= half - 1) {
            AtcWinX w = {x, b - half + 1};
            vh = wh.value(w, half, k.k0, xv, t == half - 1 || resum);
        }
        if (t < n - 1) return atc_nan();
        AtcWinX w = {x, b - n + 1};
        double vn = wn.value(w, n, k.k1, xv, t == n - 1 || resum);
        double raw = 2.0 * vh - vn;
        int i = t - (n - 1);  // raw's own bar count
        ring[(atc_i64)(i & (ATC_HULL_RING - 1)) * stride] = raw;
        if (i < root - 1) return atc_nan();
        AtcWinRing rw = {ring, stride, i - root + 1};
        return wr.value(rw, root, k.k2, raw, i == root - 1 || resum);
    }
};

// Uniform call for the family loop: only the Hull member needs the ring (bound here) and
// its stride; the overloads for it win over the generic templates.
template <class M>
__device__ __forceinline__ void atc_bind_ring(M&, double*) {}
__device__ __forceinline__ void atc_bind_ring(AtcHull& h, double* ring) { h.bind(ring); }

template <class M>
__device__ __forceinline__ double atc_member_step(M& mem, const AtcMember& k, const AtcSeries& x, int b,
                                                  int t, double xv, double xprev, double cv, bool resum,
                                                  atc_i64) {
    return mem.step(k, x, b, t, xv, xprev, cv, resum);
}
__device__ __forceinline__ double atc_member_step(AtcHull& mem, const AtcMember& k, const AtcSeries& x,
                                                  int b, int t, double xv, double xprev, double cv,
                                                  bool resum, atc_i64 stride) {
    return mem.step(k, x, b, t, xv, xprev, cv, resum, stride);
}

#endif  // ATC_MEMBERS_CUH
