"""Rich-text legends drawn in the panes' top-left corners (values at the crosshair's bar)."""
from __future__ import annotations

import html
import math
from typing import Any

from core.config import FAMILIES, ATCConfig

from atc_desktop.chart.calibration import vote
from atc_desktop.chart.data import ChartData, format_number, format_volume
from atc_desktop.chart.theme import Theme

#: Between two entries: a non-breaking space then a normal one, so a legend wrapped to a
#: narrow pane breaks between entries, never inside one.
SEP = "&nbsp; "


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
                 forming: bool, visible: dict[str, bool], calibration: int | None = None) -> str:
    """Symbol and OHLC on the first line; the six family MAs, or in calibration the
    family's nine members and its vote, on the second."""
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
    line1 = head + "&nbsp;" + SEP + SEP.join(parts)
    if calibration is not None:
        return line1 + "<br>" + member_legend(data, int(values["bar"]), calibration, theme, digits)
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
    return line1 + "<br>" + (SEP + "&nbsp;").join(mas)


def member_legend(data: ChartData, i: int, family: int, theme: Theme, digits: int) -> str:
    """The nine members of ``family`` at bar ``i`` (length and value, coloured by state) and
    the family's vote: how many members are long / short and the share of Σ equity each
    side holds, which is what F_Signal averages (spec §7)."""
    assert data.result.mas is not None and data.result.states is not None
    fam = FAMILIES[family]
    lengths = data.config.member_lengths()[family]
    parts = []
    for k in range(9):
        row = family * 9 + k
        state = int(data.result.states[row, i])
        c = theme.bull if state > 0 else theme.bear if state < 0 else theme.neutral
        parts.append(_pair(str(int(lengths[k])), format_number(float(data.result.mas[row, i]), digits), theme, c))
    v = vote(data, family, i)
    sig = float(data.result.signals[family, i])

    def pct(w: float) -> str:
        return "" if not math.isfinite(w) else f" ({w * 100:.0f}%)"

    summary = (_span(f"{v.long} long{pct(v.long_weight)}", theme.bull) + SEP
               + _span(f"{v.short} short{pct(v.short_weight)}", theme.bear)
               + (SEP + _span(f"{v.flat} flat", theme.neutral) if v.flat else "") + SEP
               + _pair(f"→ {fam}_Signal", "—" if not math.isfinite(sig) else f"{sig:+.2f}", theme,
                       _signed(sig, theme)))
    return (_span(f"{fam} members", theme.foreground, bold=True) + SEP + SEP.join(parts)
            + SEP + "&nbsp;" + summary)


def volume_legend(values: dict[str, Any], theme: Theme) -> str:
    return _pair("Vol", format_volume(values["volume"]), theme)


def signal_legend(data: ChartData, values: dict[str, Any], theme: Theme) -> str:
    """Average_Signal and the six F_Signal (the thresholds are the dashed lines)."""
    avg = float(values["Average_Signal"])
    text = _pair("Average_Signal", "—" if not math.isfinite(avg) else f"{avg:+.4f}", theme,
                 _signed(avg, theme))
    sigs = []
    for fam in FAMILIES:
        v = float(values[fam + "_Signal"])
        sigs.append(_pair(fam, "—" if not math.isfinite(v) else f"{v:+.2f}", theme, _signed(v, theme)))
    return text + SEP + "&nbsp;" + SEP.join(sigs)

