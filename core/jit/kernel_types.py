"""The array types the numba kernels take, for their annotations: numba types each call
from its arguments and ignores annotations; the type checker holds the callers to these."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Int8s = npt.NDArray[np.int8]
Bools = npt.NDArray[np.bool_]
