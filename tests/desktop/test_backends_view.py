"""Backend status and the fallback log: a failing backend shows up in the log and the
result still comes from the next backend."""
from __future__ import annotations

from typing import Any

import numpy as np

from core.atc import compute_reference
from core.data import BarStore


def test_forced_backend_failure_is_logged_and_the_next_backend_serves(
        qtbot: Any, make_window: Any, scripted: Any, broken_registry: Any, refreshed: Any) -> None:
    window = make_window(provider=scripted(["AAA", "BBB"], bars=400), registry=broken_registry)
    session = window.session
    session.probe_backends()
    qtbot.waitUntil(lambda: window.backends.status_table.rowCount() == 2, timeout=10_000)
    out = refreshed(qtbot, session)
    assert out.backend == "numpy"                        # the next backend computed it
    qtbot.waitUntil(lambda: window.backends.fallback_table.rowCount() >= 1, timeout=5000)
    time_, frm, to, reason, operation, count = window.backends.fallback_rows()[0]
    assert (frm, to) == ("numba", "numpy")
    assert "forced failure" in reason and operation == "compute_batch[ema_only]" and count == "1"
    assert any("backend numba failed" in line for line in window.log_widget.lines())
    store = BarStore(session.paths.bar_store)
    for sym in ("AAA", "BBB"):
        close = store.load(sym, "1d").close
        ref = compute_reference(np.ascontiguousarray(close), session.settings.config, families=1)
        assert session.model.state_of(sym).signal == ref.signals[0, -1]
        assert not session.model.state_of(sym).error
    store.close()
    # The chart's full ATC falls back the same way, and says so.
    window.session.apply_settings(session.settings.replace(backend="numba"))
    with qtbot.waitSignal(session.analysis.analysed, timeout=60_000) as done:
        window.watchlist.select_symbol("AAA")
    assert done.args[0].result.backend == "numpy"
    assert any(r[4] == "compute" for r in window.backends.fallback_rows())


def test_status_table_lists_every_backend_with_reasons(qtbot: Any, make_window: Any, scripted: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=100))
    window.session.probe_backends()
    t = window.backends.status_table
    qtbot.waitUntil(lambda: t.rowCount() == 4, timeout=20_000)
    rows = {t.item(r, 0).text(): [t.item(r, c).text() for c in range(t.columnCount())]
            for r in range(t.rowCount())}
    assert set(rows) == {"cuda", "rust", "numba", "numpy"}
    assert rows["numpy"][1] in ("available", "active")
    for name, row in rows.items():
        if row[1] == "unavailable":
            assert row[5], f"{name} is unavailable without a reason"
        else:
            assert row[2], f"{name} has no version"
    assert sum(r[1] == "active" for r in rows.values()) == 1
    assert "full ATC" in window.backend_label.text()
