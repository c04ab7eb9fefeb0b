"""ATC Desktop core: indicator math, configuration, data, and the backend contract (no Qt)."""
from core.config import ATCConfig
from core.errors import ATCError, ATCInputError, BackendError, DataError
from core.types import ATCResult, BatchResult

__all__ = [
    "ATCConfig",
    "ATCError",
    "ATCInputError",
    "ATCResult",
    "BackendError",
    "BatchResult",
    "DataError",
]
__version__ = "0.1.0"
