"""Filling an interval combo box (settings panel, chart toolbar) the same way everywhere.

Every interval on offer is listed, shortest first; one resampled locally from a finer
interval reads "1wk · from 1d", in italics, with a tooltip saying so. Each item's data is
the bare interval name, which is what callers read back. A box with a single choice is
disabled and its tooltip says why (the look of a disabled box is the style's business).
"""
from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from core.data.intervals import Timeframe

#: An interval as callers give it: a bare name (the provider's own) or a Timeframe.
Choice = str | Timeframe | tuple[str, str | None]


def timeframes(choices: Sequence[Choice]) -> list[Timeframe]:
    """``choices`` as Timeframes, duplicates dropped (the first one kept)."""
    out: dict[str, Timeframe] = {}
    for c in choices:
        tf = Timeframe(c) if isinstance(c, str) else Timeframe(*c)
        out.setdefault(tf.interval, tf)
    return list(out.values())


def label(tf: Timeframe) -> str:
    """What the box shows for ``tf``."""
    return f"{tf.interval} · from {tf.base}" if tf.base else tf.interval


def fill(combo: QComboBox, choices: Sequence[Choice], current: str, *, tooltip: str,
         keep_current: bool = False) -> None:
    """List ``choices`` in ``combo`` and select ``current``, without emitting signals.

    ``keep_current`` lists ``current`` even when it is not on offer (marked so), so that a
    setting the user chose is shown rather than silently replaced. ``tooltip`` is the box's
    tooltip while there is a choice to make.
    """
    tfs = timeframes(choices)
    was_blocked = combo.blockSignals(True)
    combo.clear()
    for tf in tfs:
        combo.addItem(label(tf), tf.interval)
        if tf.base:
            i = combo.count() - 1
            combo.setItemData(i, f"{tf.interval} bars resampled here from the source's "
                                 f"{tf.base} bars; the last one may still be forming",
                              Qt.ItemDataRole.ToolTipRole)
            font = combo.font()
            font.setItalic(True)
            combo.setItemData(i, font, Qt.ItemDataRole.FontRole)
    if keep_current and current and combo.findData(current) < 0:
        combo.addItem(f"{current} · not offered by this source", current)
        combo.setItemData(combo.count() - 1, f"the data source has no {current} bars",
                          Qt.ItemDataRole.ToolTipRole)
    select(combo, current)
    set_choice_state(combo, tooltip)
    combo.blockSignals(was_blocked)


def set_choice_state(combo: QComboBox, tooltip: str) -> None:
    """Enable ``combo`` when it offers a choice; otherwise disable it and say why."""
    n = combo.count()
    combo.setEnabled(n > 1)
    if n > 1:
        combo.setToolTip(tooltip)
    elif n == 1:
        combo.setToolTip(f"{interval_at(combo, 0)} is the only interval this data source offers "
                         "(disabled: nothing to choose)")
    else:
        combo.setToolTip("no interval is known yet (disabled)")


def select(combo: QComboBox, interval: str) -> bool:
    """Select ``interval`` (no signal is blocked here); False when it is not listed."""
    i = combo.findData(interval)
    if i >= 0:
        combo.setCurrentIndex(i)
    return i >= 0


def interval_at(combo: QComboBox, index: int) -> str:
    """The bare interval of item ``index`` (its data, else its text)."""
    data = combo.itemData(index)
    return str(data) if data else combo.itemText(index)
