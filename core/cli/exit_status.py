"""Exit statuses of `atc` (README "Exit status" lists them per command)."""
from __future__ import annotations

OK = 0
#: Some symbols failed (fetch, scan) or some column differs (parity).
PARTIAL = 1
#: Bad input or usage: one `atc: error:` line (argparse: usage and its error line).
BAD_INPUT = 2
#: Stopped with Ctrl-C (128 + SIGINT).
INTERRUPTED = 130


def for_symbols(succeeded: int, failed: int) -> int:
    """A per-symbol command's status: OK when nothing failed, PARTIAL when some symbols
    failed and others worked, BAD_INPUT when every symbol failed."""
    if not failed:
        return OK
    return PARTIAL if succeeded else BAD_INPUT
