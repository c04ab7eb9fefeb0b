"""The Sweep panel: a parameter grid backtested on the watchlist or a universe folder,
in this process, on a local Dask cluster or on a scheduler, without blocking the window.

The watchlist's stored bars are exported to a Parquet universe in the cache folder first,
so every way of running reads the same files (a remote scheduler's workers need a
universe folder they can reach instead). Results: a sortable table (per parameter set
across the symbols, or one symbol's sets) and a heatmap of a metric over two parameters;
"Apply to chart" puts the selected set's parameters into the app's settings, which the
chart recomputes with. The panel's own choices (grid text, folder, where to run) are kept
in ``sweep.json`` beside the other settings.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
    QProgressBar, QPushButton, QRadioButton, QScrollArea, QSpinBox, QSplitter, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from core.backtest import METRICS
from core.config import ATCConfig
from core.errors import ATCError

from atc_desktop.table_text import cell_text

log = logging.getLogger(__name__)

DEFAULT_GRID = """# Every combination of these values (any ATC parameter) is backtested
[grid]
ema_len = [14, 20, 28, 36]
La = { start = 0.01, stop = 0.04, step = 0.01 }

[backtest]
entry = "next_open"   # or "close"
long_only = false
cost_bps = 5
"""
WHERE = ("in this process", "local Dask cluster", "Dask scheduler")
ALL_SYMBOLS = "all symbols (median)"


@dataclass(frozen=True)
class SweepRequest:
    """What one run needs; built on the GUI thread, used on the sweep's thread."""

    grid_text: str
    base: ATCConfig
    interval: str
    symbols: list[str] | None            # the watchlist's, or None for a folder
    folder: str | None
    store: Path
    work_dir: Path
    cluster: str | None
    connect_timeout: float = 10.0


@dataclass
class SweepOutcome:
    frame: Any                            # pandas DataFrame of every row
    fields: list[str]
    configs: list[ATCConfig]
    failures: list[str]
    seconds: float
    output: Path


class _Cancelled(Exception):
    pass


class SweepJob(QObject):
    """Runs one sweep on a plain thread; talks to the GUI only through its signals."""

    progress = Signal(int, int)
    engine_ready = Signal(str, str)          # description, dashboard link ("" when none)
    finished = Signal(object)                # SweepOutcome
    failed = Signal(str)

    def __init__(self, request: SweepRequest) -> None:
        super().__init__()
        self.request = request
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="atc-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise _Cancelled()
        self.progress.emit(done, total)

    def _run(self) -> None:
        try:
            self.finished.emit(run_request(self.request, self._progress, self.engine_ready.emit))
        except _Cancelled:
            self.failed.emit("cancelled; finished parts are kept")
        except ATCError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the panel, logged with its trace
            log.exception("sweep failed")
            self.failed.emit(f"{type(exc).__name__}: {exc}")


def run_request(req: SweepRequest, progress: Callable[[int, int], None],
                engine_ready: Callable[[str, str], None]) -> SweepOutcome:
    """Prepare the universe, open the engine, run the sweep, read the rows back."""
    from core.distribute import open_engine
    from core.grid import parse_grid
    from core.sweep import read_results, run_sweep
    from core.universe import bars_from_store, export_universe, open_universe

    grid = parse_grid(req.grid_text, base=req.base)
    if req.folder:
        try:
            universe = open_universe(req.folder, req.interval)
        except ATCError:
            universe = open_universe(req.folder)          # its only interval
    else:
        if not req.symbols:
            raise ATCError("the watchlist is empty: add symbols or choose a universe folder")
        root = req.work_dir / "watchlist-universe"
        universe = export_universe(str(root), bars_from_store(str(req.store), req.interval, req.symbols),
                                   req.interval, source="store", overwrite=True)
        universe = open_universe(str(root), req.interval)
    out = req.work_dir / "sweeps" / time.strftime("sweep-%Y%m%d-%H%M%S.parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open_engine(req.cluster, connect_timeout=req.connect_timeout) as engine:
        engine_ready(engine.description, engine.dashboard_link or "")
        report = run_sweep(universe, grid, out, engine, progress=progress)
    failures = [f"{s}: {r}" for s, r in report.failed_symbols.items()]
    failures += [f"{t}: {r}" for t, r in report.failed_tasks.items()]
    frame = read_results(out)
    return SweepOutcome(frame, list(grid.fields), list(grid.configs), failures, report.seconds, out)


class Heatmap(QWidget):
    """A metric over two parameters (median over the chosen symbols), pyqtgraph image."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self._pg = pg
        self.plot = pg.PlotWidget()
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.plot.setMouseEnabled(False, False)
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False)
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.values: np.ndarray | None = None

    def show_grid(self, xs: list[Any], ys: list[Any], values: np.ndarray, x_name: str,
                  y_name: str, metric: str) -> None:
        """``values[i, j]`` is the metric at xs[i], ys[j]."""
        self.values = values
        self.image.setImage(values, autoLevels=False)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        self.bar.setLevels((lo, hi if hi > lo else lo + 1e-12))
        self.image.setRect(0, 0, len(xs), len(ys))
        item = self.plot.getPlotItem()
        item.getAxis("bottom").setTicks([[(i + 0.5, str(v)) for i, v in enumerate(xs)]])
        item.getAxis("left").setTicks([[(j + 0.5, str(v)) for j, v in enumerate(ys)]])
        item.setLabel("bottom", x_name)
        item.setLabel("left", y_name)
        item.setTitle(metric)
        self.plot.setRange(xRange=(0, len(xs)), yRange=(0, len(ys)), padding=0)


class SweepPanel(QWidget):
    """See the module docstring. ``apply`` receives the chosen set's parameter values."""

    ran = Signal(object)                     # SweepOutcome, after the table is filled

    def __init__(self, *, symbols: Callable[[], list[str]], settings: Callable[[], Any],
                 apply: Callable[[dict[str, Any]], None], store: Path, work_dir: Path,
                 state_file: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._symbols, self._settings, self._apply = symbols, settings, apply
        self._store, self._work_dir, self._state_file = store, work_dir, state_file
        self.job: SweepJob | None = None
        #: Seconds to wait for a scheduler at an address.
        self.connect_timeout = 10.0
        self.outcome: SweepOutcome | None = None
        self._build()
        self._load_state()

    # -- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        self.from_watchlist = QRadioButton("Watchlist symbols")
        self.from_folder = QRadioButton("Universe folder")
        self.from_watchlist.setChecked(True)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a folder written by atc export")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.grid_text = QPlainTextEdit()
        self.grid_text.setPlaceholderText(DEFAULT_GRID)
        self.where = QComboBox()
        self.where.addItems(WHERE)
        self.workers = QSpinBox()
        self.workers.setRange(1, 512)
        self.workers.setValue(2)
        self.address = QLineEdit()
        self.address.setPlaceholderText("tcp://scheduler:8786")
        self.where.currentIndexChanged.connect(self._where_changed)
        self.run_button = QPushButton("Run sweep")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.dashboard = QLabel("")
        self.dashboard.setOpenExternalLinks(True)
        self.dashboard.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        form = QFormLayout()
        source = QHBoxLayout()
        source.addWidget(self.from_watchlist)
        source.addWidget(self.from_folder)
        source.addWidget(self.folder, 1)
        source.addWidget(browse)
        form.addRow("Symbols", source)
        where = QHBoxLayout()
        where.addWidget(self.where)
        where.addWidget(QLabel("workers"))
        where.addWidget(self.workers)
        where.addWidget(self.address, 1)
        form.addRow("Run", where)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)

        self.symbol_choice = QComboBox()
        self.metric_choice = QComboBox()
        self.metric_choice.addItems(METRICS)
        self.metric_choice.setCurrentText("sharpe")
        self.x_param = QComboBox()
        self.y_param = QComboBox()
        for box in (self.symbol_choice, self.metric_choice, self.x_param, self.y_param):
            box.currentIndexChanged.connect(self._show_results)
        self.apply_button = QPushButton("Apply to chart")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_selected)
        choose = QHBoxLayout()
        for label, box in (("Symbol", self.symbol_choice), ("Metric", self.metric_choice),
                           ("X", self.x_param), ("Y", self.y_param)):
            choose.addWidget(QLabel(label))
            choose.addWidget(box)
        choose.addStretch(1)
        choose.addWidget(self.apply_button)
        self.table = QTableWidget()
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(
            lambda: self.apply_button.setEnabled(bool(self.table.selectedItems())))
        self.heatmap = Heatmap()
        results = QSplitter(Qt.Orientation.Horizontal)
        results.addWidget(self.table)
        results.addWidget(self.heatmap)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(form)
        top_layout.addWidget(self.grid_text, 1)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.status)
        top_layout.addWidget(self.dashboard)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addLayout(choose)
        bottom_layout.addWidget(results, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        # In a scroll area the dock can be made as small as the window's other docks allow:
        # the panel's own minimum size never pushes the window beyond the user's size.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(split)
        split.setMinimumSize(480, 420)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self._where_changed()

    def _where_changed(self) -> None:
        i = self.where.currentIndex()
        self.workers.setVisible(i == 1)
        self.address.setVisible(i == 2)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Universe folder", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.from_folder.setChecked(True)

    # -- state kept between sessions -----------------------------------------------------
    def _load_state(self) -> None:
        state: dict[str, Any] = {}
        try:
            state = json.loads(self._state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("sweep settings %s unreadable (%s); using defaults", self._state_file, exc)
        if not isinstance(state, dict):
            state = {}
        self.grid_text.setPlainText(str(state.get("grid", DEFAULT_GRID)))
        self.folder.setText(str(state.get("folder", "")))
        self.address.setText(str(state.get("scheduler", "")))
        where = state.get("where", WHERE[0])
        self.where.setCurrentIndex(WHERE.index(where) if where in WHERE else 0)
        workers = state.get("workers", 2)
        self.workers.setValue(workers if isinstance(workers, int) and 1 <= workers <= 512 else 2)
        (self.from_folder if state.get("use_folder") else self.from_watchlist).setChecked(True)

    def _save_state(self) -> None:
        state = {"grid": self.grid_text.toPlainText(), "folder": self.folder.text(),
                 "scheduler": self.address.text(), "where": self.where.currentText(),
                 "workers": self.workers.value(), "use_folder": self.from_folder.isChecked()}
        try:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
            tmp.replace(self._state_file)
        except OSError as exc:
            log.warning("could not save the sweep settings: %s", exc)

    # -- running -------------------------------------------------------------------------
    def cluster_spec(self) -> str | None:
        i = self.where.currentIndex()
        if i == 1:
            return f"local:{self.workers.value()}"
        if i == 2:
            return self.address.text().strip() or None
        return None

    def request(self) -> SweepRequest:
        s = self._settings()
        use_folder = self.from_folder.isChecked()
        return SweepRequest(self.grid_text.toPlainText(), s.config, s.interval,
                            None if use_folder else list(self._symbols()),
                            self.folder.text().strip() if use_folder else None,
                            self._store, self._work_dir, self.cluster_spec(), self.connect_timeout)

    def run(self) -> None:
        if self.job is not None:
            return
        if self.where.currentIndex() == 2 and not self.address.text().strip():
            self.status.setText("give the Dask scheduler's address (tcp://host:8786)")
            return
        self._save_state()
        self.job = SweepJob(self.request())
        self.job.progress.connect(self._progressed)
        self.job.engine_ready.connect(self._engine_ready)
        self.job.finished.connect(self._finished)
        self.job.failed.connect(self._failed)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.status.setText("preparing the universe and the workers…")
        self.dashboard.setText("")
        self.job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("cancelling after the running task…")

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(f"{done} of {total} tasks done")

    def _engine_ready(self, description: str, link: str) -> None:
        self.dashboard.setText(f'Running on {description}'
                               + (f' — Dask dashboard: <a href="{link}">{link}</a>' if link else ""))

    def _done(self) -> None:
        self.job = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)

    def _failed(self, message: str) -> None:
        self._done()
        self.progress.setValue(0)
        self.status.setText(f"Sweep stopped: {message}")
        log.warning("sweep: %s", message)

    def _finished(self, outcome: SweepOutcome) -> None:
        self._done()
        self.progress.setValue(1)
        self.outcome = outcome
        symbols = sorted(outcome.frame["symbol"].unique()) if not outcome.frame.empty else []
        n_sets = len(outcome.configs)
        text = (f"{len(symbols)} symbols × {n_sets} parameter sets in {outcome.seconds:.1f} s; "
                f"rows in {outcome.output}")
        if outcome.failures:
            text += f"\n{len(outcome.failures)} problem(s): " + "; ".join(outcome.failures[:3])
        self.status.setText(text)
        for box, items in ((self.symbol_choice, [ALL_SYMBOLS, *symbols]),
                           (self.x_param, outcome.fields),
                           (self.y_param, outcome.fields[1:] + outcome.fields[:1])):
            box.blockSignals(True)
            box.clear()
            box.addItems(items)
            box.blockSignals(False)
        self._show_results()
        self.ran.emit(outcome)

    # -- results -------------------------------------------------------------------------
    def rows(self) -> Any:
        """The table's rows for the chosen symbol: one per parameter set."""
        assert self.outcome is not None
        frame, fields = self.outcome.frame, self.outcome.fields
        choice = self.symbol_choice.currentText()
        if choice and choice != ALL_SYMBOLS:
            return frame[frame["symbol"] == choice][["set", *fields, *METRICS]]
        by = frame.groupby("set", sort=True)
        table = by[fields].first()
        for name in METRICS:
            table[name] = by[name].median()
        return table.reset_index()

    def _show_results(self) -> None:
        if self.outcome is None:
            return
        rows = self.rows()
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(rows.columns))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels([str(c) for c in rows.columns])
        for r, values in enumerate(rows.itertuples(index=False)):
            for c, value in enumerate(values):
                item = QTableWidgetItem()
                if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                    item.setData(Qt.ItemDataRole.DisplayRole, float(value) if isinstance(
                        value, (float, np.floating)) else int(value))
                else:
                    item.setData(Qt.ItemDataRole.DisplayRole, str(value))
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        self._show_heatmap(rows)

    def _show_heatmap(self, rows: Any) -> None:
        fields = self.outcome.fields if self.outcome else []
        x, y, metric = self.x_param.currentText(), self.y_param.currentText(), self.metric_choice.currentText()
        if not fields or x not in fields or y not in fields:
            return
        if x == y:
            xs = sorted(rows[x].unique(), key=_order)
            values = np.array([[rows[rows[x] == v][metric].median()] for v in xs], dtype=float)
            self.heatmap.show_grid(xs, [""], values, x, "", metric)
            return
        xs = sorted(rows[x].unique(), key=_order)
        ys = sorted(rows[y].unique(), key=_order)
        cube = rows.groupby([x, y])[metric].median()
        values = np.array([[cube.get((a, b), np.nan) for b in ys] for a in xs], dtype=float)
        self.heatmap.show_grid(xs, ys, values, x, y, metric)

    def selected_values(self) -> dict[str, Any] | None:
        """The parameter values of the selected row's set."""
        if self.outcome is None:
            return None
        selected = self.table.selectedItems()
        if not selected:
            return None
        header = [cell_text(self.table.horizontalHeaderItem(c)) for c in range(self.table.columnCount())]
        set_item = self.table.item(selected[0].row(), header.index("set"))
        if set_item is None:
            return None
        config = self.outcome.configs[int(set_item.data(Qt.ItemDataRole.DisplayRole))]
        return {name: getattr(config, name) for name in self.outcome.fields}

    def apply_selected(self) -> None:
        values = self.selected_values()
        if values:
            self._apply(values)
            self.status.setText("Applied to the chart: " + ", ".join(f"{k}={v}" for k, v in values.items()))


def _order(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float, np.integer, np.floating)) else (1, str(value))


def panel_for_session(session: Any, parent: QWidget | None = None) -> SweepPanel:
    """The panel wired to an :class:`atc_desktop.session.AppSession`."""
    def apply(values: dict[str, Any]) -> None:
        s = session.settings
        session.apply_settings(s.replace(config=s.config.replace(**values)))

    paths = session.paths
    return SweepPanel(symbols=session.model.symbols, settings=lambda: session.settings, apply=apply,
                      store=paths.bar_store, work_dir=paths.cache_dir, state_file=paths.config_dir / "sweep.json",
                      parent=parent)
