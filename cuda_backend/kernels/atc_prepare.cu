// Batch preparation on the device: transpose the host's symbol-major (symbols, bars) rows to
// the bar-major (bars, pitch) layout the ATC kernels read coalesced, and find each row's
// first price and any bar that breaks the array contract (core.types.as_batch), so that a
// 10,000 × 5,000 batch is never scanned on the host.
//
// Per row: first_finite = first finite bar (the symbol's start), last_nonfinite = last NaN/inf
// bar, first_nonpos = first finite bar outside ATC_PRICE_MIN … ATC_PRICE_MAX
// (the name predates the upper limit). The row is valid iff last_nonfinite <
// first_finite, first_nonpos is unset and at least two bars remain; the host checks that.
// Rows pitch > n_sym are padding and are filled with NaN.
#include "atc_common.cuh"

#define ATC_TILE 32
#define ATC_TILE_ROWS 8

#define ATC_PREPARE_PARAMS                                                                      \
    const double *__restrict__ rows, int n_sym, int n_bars, double *__restrict__ out, atc_i64 pitch, \
        int *__restrict__ first_finite, int *__restrict__ last_nonfinite, int *__restrict__ first_nonpos
#define ATC_PREPARE_ARGS rows, n_sym, n_bars, out, pitch, first_finite, last_nonfinite, first_nonpos

// Launch: block (32, 8), grid (ceil(n_bars / 32), pitch / 32).
extern "C" __global__ void __launch_bounds__(ATC_TILE * ATC_TILE_ROWS) atc_prepare_kernel(ATC_PREPARE_PARAMS) {
    // +1 column: the transposed read tile[tx][j] then hits 32 different banks.
    __shared__ double tile[ATC_TILE][ATC_TILE + 1];
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int b0 = blockIdx.x * ATC_TILE;
    int r0 = blockIdx.y * ATC_TILE;

    for (int j = ty; j < ATC_TILE; j += ATC_TILE_ROWS) {
        int row = r0 + j;
        int bar = b0 + tx;
        double v = atc_nan();
        if (row < n_sym && bar < n_bars) v = rows[(atc_i64)row * n_bars + bar];
        tile[j][tx] = v;
    }
    __syncthreads();

    for (int j = ty; j < ATC_TILE; j += ATC_TILE_ROWS) {
        int bar = b0 + j;
        int row = r0 + tx;
        if (bar < n_bars && row < pitch) out[(atc_i64)bar * pitch + row] = tile[tx][j];
    }

    // One thread per row of the tile scans its 32 bars in shared memory (bank-conflict
    // free thanks to the padding) and reports once per tile to the row's global counters.
    if (ty == 0) {
        int row = r0 + tx;
        if (row < n_sym) {
            int ff = ATC_BIG_INT, lnf = -1, np = ATC_BIG_INT;
            int nb = atc_imin(ATC_TILE, n_bars - b0);
            for (int i = 0; i < nb; ++i) {
                double v = tile[tx][i];
                bool finite = (v - v) == 0.0;  // false for NaN and ±inf
                if (finite) {
                    if (ff == ATC_BIG_INT) ff = b0 + i;
                    if (!(v >= ATC_PRICE_MIN && v <= ATC_PRICE_MAX) && np == ATC_BIG_INT) np = b0 + i;
                } else {
                    lnf = b0 + i;
                }
            }
            if (ff != ATC_BIG_INT) atomicMin(first_finite + row, ff);
            if (lnf >= 0) atomicMax(last_nonfinite + row, lnf);
            if (np != ATC_BIG_INT) atomicMin(first_nonpos + row, np);
        }
    }
}
