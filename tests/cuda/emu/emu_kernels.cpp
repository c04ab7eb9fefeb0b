// The project's CUDA kernels, unchanged, behind a C interface for ctypes: each emu_<kernel>
// runs the kernel over a grid on the CPU (cuda_emu.h) and returns 0, or 1 with the reason in
// emu_error().
#include "cuda_emu.h"

#include "atc_prepare.cu"
#include "atc_full.cu"
#include "atc_ema_only.cu"

static std::string g_error;

static int emu_result(const std::string& err) {
    g_error = err;
    return err.empty() ? 0 : 1;
}

extern "C" {

const char* emu_error() { return g_error.c_str(); }

size_t emu_params_size() { return sizeof(AtcParams); }

// What the launcher copies into the __constant__ symbol c_atc before each call.
int emu_set_params(const void* data, size_t size) {
    if (size != sizeof(AtcParams)) return emu_result("AtcParams size mismatch: host " + std::to_string(size) +
                                                     ", device " + std::to_string(sizeof(AtcParams)));
    std::memcpy(&c_atc, data, size);
    return emu_result("");
}

int emu_atc_prepare_kernel(unsigned gx, unsigned gy, unsigned bx, unsigned by, int order, ATC_PREPARE_PARAMS) {
    return emu_result(emu::launch({gx, gy, 1}, {bx, by, 1}, order, [&] { atc_prepare_kernel(ATC_PREPARE_ARGS); }));
}

int emu_atc_full_kernel(unsigned gx, unsigned gy, unsigned bx, unsigned by, int order, ATC_FULL_PARAMS) {
    return emu_result(emu::launch({gx, gy, 1}, {bx, by, 1}, order, [&] { atc_full_kernel(ATC_FULL_ARGS); }));
}

int emu_atc_full_hull_kernel(unsigned gx, unsigned gy, unsigned bx, unsigned by, int order, ATC_FULL_PARAMS) {
    return emu_result(emu::launch({gx, gy, 1}, {bx, by, 1}, order, [&] { atc_full_hull_kernel(ATC_FULL_ARGS); }));
}

int emu_atc_ema_only_kernel(unsigned gx, unsigned gy, unsigned bx, unsigned by, int order, ATC_EMA_PARAMS) {
    return emu_result(emu::launch({gx, gy, 1}, {bx, by, 1}, order, [&] { atc_ema_only_kernel(ATC_EMA_ARGS); }));
}

}  // extern "C"
