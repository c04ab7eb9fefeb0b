"""Rich-text legends drawn in the panes' top-left corners (values at the crosshair's bar)."""
from __future__ import annotations

import html
import math
from typing import Any

from core.config import FAMILIES, ATCConfig

from atc_desktop.chart.data import ChartData, format_number, format_volume
from atc_desktop.chart.theme import Theme


def hma_legend(config: ATCConfig) -> str:
    """How the legend names the HMA family (spec §4.3, §12)."""
    if config.hma_kind == "hull":
        return "HMA (real Hull MA, does not match TradingView)"
    return "HMA (an SMA, as in the original script)"


def _span(text: str, color: str, bold: bool = False) -> str:
    weight = "font-weight:600;" if bold else ""
    return f'<span style="color:{color};{weight}">{html.escape(text)}</span>'


def _pair(name: str, value: str, theme: Theme, color: str | None = None) -> str:
    return _span(name, theme.muted) + "&nbsp;" + _span(value, color or theme.foreground)


def _signed(v: float, theme: Theme) -> str:
    if not math.isfinite(v) or v == 0:
        return theme.muted
    return theme.bull if v > 0 else theme.bear


def price_legend(data: ChartData, values: dict[str, Any], theme: Theme, digits: int,
                 forming: bool, visible: dict[str, bool]) -> str:
    b, i = data.bars, int(values["bar"])
    head = (_span(b.symbol, theme.foreground, bold=True) + "&nbsp;&nbsp;"
            + _span(f"{b.interval} · {data.source_label}", theme.muted))
    if forming and i == data.n - 1:
        head += "&nbsp;&nbsp;" + _span("forming", theme.warning_fg)
    prev = float(b.close[i - 1]) if i > 0 else math.nan
    up = values["close"] >= values["open"]
    color = theme.bull if up else theme.bear
    parts = [_pair(k, format_number(values[key], digits), theme, color)
             for k, key in (("O", "open"), ("H", "high"), ("L", "low"), ("C", "close"))]
    if math.isfinite(prev) and prev:
        pct = (values["close"] / prev - 1.0) * 100.0
        parts.append(_span(f"{pct:+.2f}%", theme.bull if pct >= 0 else theme.bear))
    parts.append(_span(str(values["time"]), theme.muted))
    line1 = head + "&nbsp;&nbsp;&nbsp;" + "&nbsp;&nbsp;".join(parts)
    assert data.result.states is not None
    mas = []
    for f, fam in enumerate(FAMILIES):
        if not visible.get(fam, True):
            continue
        state = int(data.result.states[f * 9, i])
        colors = theme.family(fam)
        c = colors.bull if state > 0 else colors.bear if state < 0 else colors.flat
        name = fam if fam != "HMA" else ("HMA·Hull" if data.config.hma_kind == "hull" else "HMA·SMA")
        length = int(data.config.member_lengths()[f, 0])
        mas.append(_pair(f"{name} {length}", format_number(values[fam], digits), theme, c))
    return line1 + "<br>" + "&nbsp;&nbsp;&nbsp;".join(mas)


def volume_legend(values: dict[str, Any], theme: Theme) -> str:
    return _pair("Vol", format_volume(values["volume"]), theme)


def signal_legend(data: ChartData, values: dict[str, Any], theme: Theme) -> str:
    avg = float(values["Average_Signal"])
    text = _pair("Average_Signal", "—" if not math.isfinite(avg) else f"{avg:+.4f}", theme,
                 _signed(avg, theme))
    cfg = data.config
    text += "&nbsp;&nbsp;" + _span(
        f"long > {cfg.long_threshold:+.2f} · short < {cfg.short_threshold:+.2f}", theme.muted)
    sigs = []
    for fam in FAMILIES:
        v = float(values[fam + "_Signal"])
        sigs.append(_pair(fam, "—" if not math.isfinite(v) else f"{v:+.2f}", theme, _signed(v, theme)))
    return text + "&nbsp;&nbsp;&nbsp;" + "&nbsp;&nbsp;".join(sigs)

