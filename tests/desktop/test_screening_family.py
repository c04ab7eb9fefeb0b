"""The screening family setting: the watchlist's column on KAMA (or any family) shows that
family's values, its header and tooltips name it, and its alerts say which family."""
from __future__ import annotations

import csv
import math
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

from atc_desktop.alerts import Alert, display_row
from atc_desktop.app_settings import AppSettings
from atc_desktop.export import signal_header, write_watchlist_csv
from atc_desktop.screening import SignalEvent, _events
from atc_desktop.settings.panel import SettingsPanel
from atc_desktop.watchlist.columns import COLUMN_INDEX
from atc_desktop.watchlist.row import RowState
from core.atc import compute_reference
from core.backends.numpy_backend import last_event
from core.config import FAMILIES, ATCConfig
from core.data import BarStore
from core.errors import ATCInputError

KAMA = FAMILIES.index("KAMA")


def test_the_setting_defaults_to_ema_is_checked_and_persists() -> None:
    assert AppSettings().screening_family == "EMA"
    with pytest.raises(ATCInputError) as err:
        AppSettings(screening_family="SMA")
    assert err.value.field == "screening_family" and "KAMA" in str(err.value)
    saved = AppSettings(screening_family="KAMA").to_dict()
    assert AppSettings.from_dict(saved).screening_family == "KAMA"
    assert AppSettings.from_dict(dict(saved, screening_family="nope")).screening_family == "EMA"


def test_the_settings_panel_offers_every_family(qtbot: Any) -> None:
    panel = SettingsPanel(AppSettings(), ["numba", "numpy"], ["1d"])
    qtbot.addWidget(panel)
    combo = panel.screening_family
    assert [combo.itemText(i) for i in range(combo.count())] == list(FAMILIES)
    assert combo.currentText() == "EMA"
    emitted: list[AppSettings] = []
    panel.settings_changed.connect(emitted.append)
    combo.setCurrentText("KAMA")
    panel.apply_now()
    assert [s.screening_family for s in emitted] == ["KAMA"]
    panel.set_settings(AppSettings(screening_family="WMA"))
    assert combo.currentText() == "WMA"


def test_the_column_screens_the_chosen_family(qtbot: Any, make_session: Any, scripted: Any,
                                              refreshed: Any, tmp_path: Any) -> None:
    provider = scripted(["AAA", "BBB", "CCC"], bars=700)
    config = ATCConfig(use_codegen_specialization=False)      # no kernel build in the test
    session = make_session(provider=provider)
    refreshed(qtbot, session)                                 # fetch the bars
    with qtbot.waitSignal(session.refresh.refreshed, timeout=60_000):
        session.apply_settings(session.settings.replace(config=config))
    model = session.model
    signal_col = COLUMN_INDEX["signal"]
    assert model.headerData(signal_col, Qt.Orientation.Horizontal) == "EMA_Signal"
    with qtbot.waitSignal(session.refresh.refreshed, timeout=60_000):
        session.apply_settings(session.settings.replace(screening_family="KAMA"))
    assert model.headerData(signal_col, Qt.Orientation.Horizontal) == "KAMA_Signal"
    tip = model.headerData(signal_col, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "KAMA-only screening signal (Layer 1 of the KAMA family)" in tip
    assert "KAMA_Signal as base" in model.headerData(COLUMN_INDEX["direction"],
                                                     Qt.Orientation.Horizontal,
                                                     Qt.ItemDataRole.ToolTipRole)
    store = BarStore(session.paths.bar_store)
    try:
        for sym in model.symbols():
            row = model.state_of(sym)
            close = store.load(sym, session.settings.interval).close[-session.settings.history_bars:]
            ref = compute_reference(np.ascontiguousarray(close, dtype=np.float64), config,
                                    families=1, family=KAMA)
            assert row.family == "KAMA" and row.signal == ref.signals[KAMA, -1]
            d = float(ref.direction[-1])
            assert row.direction == d or (math.isnan(row.direction) and math.isnan(d))
            assert (row.last_event, row.bars_since) == last_event(ref.long, ref.short)
            cell = model.index(model.row_of(sym), COLUMN_INDEX["trend"])
            assert "KAMA family Layer-1 state" in cell.data(Qt.ItemDataRole.ToolTipRole)
    finally:
        store.close()
    # The live EMA state is not this column's: no forming values from it.
    assert session.refresh.screen_states.forming({"AAA": 100.0}) == {}
    # The watchlist's CSV names the family too.
    out = tmp_path / "list.csv"
    write_watchlist_csv(out, model.states())
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert "EMA_Signal" not in rows[0] and [r["family"] for r in rows] == ["KAMA"] * 3
    assert [float(r["KAMA_Signal"]) for r in rows] == [model.state_of(s).signal for s in model.symbols()]


def test_a_watchlist_csv_of_rows_from_two_families_names_the_column_signal() -> None:
    rows = [RowState("AAA", family="EMA"), RowState("BBB", family="KAMA")]
    assert signal_header(rows) == "Signal"
    assert signal_header(rows[1:]) == "KAMA_Signal" and signal_header([]) == "EMA_Signal"


def test_screening_events_and_alerts_name_the_family() -> None:
    stamps = np.arange(4, dtype=np.int64) * 86_400_000_000_000
    (event,) = _events("AAA", "1d", stamps, np.array([False, True]), np.array([False, False]),
                       np.array([0.2, 0.4]), "screen", "UTC", "KAMA")
    assert isinstance(event, SignalEvent) and event.family == "KAMA"
    kama = Alert(0.0, "AAA", "1d", "long", "screen", int(stamps[-1]), 0.4, "UTC", "KAMA")
    ema = Alert(0.0, "AAA", "1d", "long", "screen", int(stamps[-1]), 0.4, "UTC")
    assert "KAMA screening" in kama.message() and "KAMA screening" in display_row(kama)
    assert "EMA screening" in ema.message()
    assert kama.key != ema.key                       # one bar's KAMA and EMA events both alert
    assert ema.key == f"screen|AAA|1d|long|{int(stamps[-1])}"   # keys saved before stay valid
