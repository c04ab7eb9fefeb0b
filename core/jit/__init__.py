"""numba JIT kernels: the generic fused full ATC and the specialised EMA-only screening."""
