// A small CUDA execution model for checking the project's kernels on a CPU.
//
// The .cu files are compiled unchanged by g++ (-ffp-contract=off, no fast-math: every
// double operation rounds exactly as on the GPU with -fmad=false). Each CUDA thread of a
// block runs as a fiber (ucontext) on one OS thread; __syncthreads() switches back to the
// scheduler, which resumes the threads once every live thread of the block has arrived, so
// the kernels' shared-memory hand-offs run with real barrier semantics. Blocks run one after
// another; __shared__ variables become function statics, which is exactly one block's worth.
//
// The scheduler can resume the threads between barriers in forward, reverse or a shuffled
// order: a kernel that reads shared memory without a barrier in between gives different
// results under different orders, which the tests check for. A thread that exits while
// others wait at a barrier (undefined on a GPU) aborts the launch with an error.
#ifndef ATC_CUDA_EMU_H
#define ATC_CUDA_EMU_H

#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __shared__ static
#define __constant__
#define __launch_bounds__(...)

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
};

namespace emu {

struct Fiber {
    ucontext_t ctx;
    std::vector<char> stack;
    uint3 tid;
    bool done = false;
    bool waiting = false;
};

struct State {
    ucontext_t scheduler;
    std::vector<Fiber> fibers;
    int current = -1;
    const std::function<void()>* body = nullptr;
    std::string error;
};

inline State& state() {
    static State s;
    return s;
}

}  // namespace emu

inline uint3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

inline void __syncthreads() {
    emu::State& s = emu::state();
    emu::Fiber& f = s.fibers[s.current];
    f.waiting = true;
    swapcontext(&f.ctx, &s.scheduler);
}

template <class T>
inline T __ldg(const T* p) {
    return *p;
}

inline double __longlong_as_double(long long v) {
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}

// Fibers never run concurrently, so the atomics are plain read-modify-writes.
inline int atomicMin(int* p, int v) {
    int old = *p;
    if (v < old) *p = v;
    return old;
}
inline int atomicMax(int* p, int v) {
    int old = *p;
    if (v > old) *p = v;
    return old;
}

using std::fabs;
using std::floor;
using std::sqrt;

namespace emu {

inline void trampoline() {
    State& s = state();
    (*s.body)();
    s.fibers[s.current].done = true;
    // Returning resumes uc_link, the scheduler.
}

// getcontext returns twice in principle; kept out of launch() so that its loop variables
// are not candidates for clobbering.
__attribute__((noinline)) inline void init_fiber(Fiber& f, ucontext_t* scheduler) {
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack.data();
    f.ctx.uc_stack.ss_size = f.stack.size();
    f.ctx.uc_link = scheduler;
    makecontext(&f.ctx, trampoline, 0);
}

// Run `body` as every thread of every block. order: 0 forward, 1 reverse, otherwise the
// seed of a shuffle drawn anew before every pass. Returns "" or an error message.
inline std::string launch(dim3 grid, dim3 block, int order, const std::function<void()>& body) {
    State& s = state();
    const size_t stack_bytes = 256 * 1024;
    unsigned int n = block.x * block.y * block.z;
    s.fibers.resize(n);
    for (auto& f : s.fibers) {
        if (f.stack.size() != stack_bytes) f.stack.assign(stack_bytes, 0);
    }
    s.body = &body;
    gridDim = grid;
    blockDim = block;
    std::mt19937 rng(order);
    std::vector<unsigned int> seq(n);
    for (unsigned int bz = 0; bz < grid.z; ++bz)
        for (unsigned int by = 0; by < grid.y; ++by)
            for (unsigned int bx = 0; bx < grid.x; ++bx) {
                blockIdx = {bx, by, bz};
                for (unsigned int i = 0; i < n; ++i) {
                    Fiber& f = s.fibers[i];
                    f.tid = {i % block.x, (i / block.x) % block.y, i / (block.x * block.y)};
                    f.done = false;
                    f.waiting = false;
                    init_fiber(f, &s.scheduler);
                }
                for (;;) {
                    for (unsigned int i = 0; i < n; ++i) seq[i] = i;
                    if (order == 1) {
                        for (unsigned int i = 0; i < n; ++i) seq[i] = n - 1 - i;
                    } else if (order > 1) {
                        std::shuffle(seq.begin(), seq.end(), rng);
                    }
                    for (unsigned int i : seq) {
                        Fiber& f = s.fibers[i];
                        if (f.done || f.waiting) continue;
                        s.current = (int)i;
                        threadIdx = f.tid;
                        swapcontext(&s.scheduler, &f.ctx);
                    }
                    unsigned int done = 0, waiting = 0;
                    for (auto& f : s.fibers) {
                        done += f.done;
                        waiting += f.waiting;
                    }
                    if (done == n) break;
                    if (done > 0) {
                        return "block (" + std::to_string(bx) + "," + std::to_string(by) + "): " +
                               std::to_string(done) + " thread(s) exited while " + std::to_string(waiting) +
                               " wait at __syncthreads()";
                    }
                    for (auto& f : s.fibers) f.waiting = false;
                }
            }
    s.current = -1;
    return "";
}

}  // namespace emu

#endif  // ATC_CUDA_EMU_H
