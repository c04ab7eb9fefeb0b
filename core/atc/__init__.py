"""The numpy reference of the ATC spec: readable, section by section, the yardstick every
backend is tested against."""
from core.atc.reference import compute_reference

__all__ = ["compute_reference"]
