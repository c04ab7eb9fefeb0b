"""Where a checkout finds the spec's golden files: ``ATC_GOLDEN_DIR``, else ``shared/golden``
beside the checkout or inside it (the first that holds ``.npz`` files)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def find_golden_dir() -> Path | None:
    env = os.environ.get("ATC_GOLDEN_DIR")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "golden",
                                                      REPO / "shared" / "golden"]:
        if candidate.is_dir() and any(candidate.glob("*.npz")):
            return candidate
    return None
