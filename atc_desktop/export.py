"""CSV export of the watchlist (the chart's own export writes every ATC output)."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Sequence

from atc_desktop.persist import atomic_write_text
from atc_desktop.watchlist.columns import format_time
from atc_desktop.watchlist.row import RowState

#: The columns; the signal's is named after the screened family (``signal_header``), and the
#: last one says which family each row's signal, trend and direction come from.
HEADERS: tuple[str, ...] = ("symbol", "interval", "last", "change_pct", "EMA_Signal", "trend",
                            "direction", "last_event", "bars_since_event", "data_time", "bars",
                            "stale", "stale_reason", "error", "source", "synthetic", "family")


def signal_header(rows: Sequence[RowState]) -> str:
    """``F_Signal`` when every row was screened on family F (EMA with no rows), else
    ``Signal`` (rows screened on different families: a switch still being applied)."""
    families = {r.family for r in rows} or {"EMA"}
    return f"{families.pop()}_Signal" if len(families) == 1 else "Signal"


def _num(v: float) -> str:
    return "" if math.isnan(v) else repr(v)


def write_watchlist_csv(path: str | Path, rows: Sequence[RowState]) -> int:
    """Write one line per symbol (numbers round-trip exactly; NaN is empty); returns rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(tuple(signal_header(rows) if h == "EMA_Signal" else h for h in HEADERS))
    for r in rows:
        w.writerow([r.symbol, r.interval, _num(r.last), _num(r.change_pct), _num(r.signal), r.trend,
                    _num(r.direction), {1: "long", -1: "short"}.get(r.last_event, ""),
                    r.bars_since if r.bars_since >= 0 else "", format_time(r.data_time, r.interval, r.tz),
                    r.bars, int(r.stale), r.stale_reason, r.error, r.source, int(r.synthetic),
                    r.family])
    atomic_write_text(Path(path), buf.getvalue())
    return len(rows)
