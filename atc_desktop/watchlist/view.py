"""The watchlist dock's widget: list picker, add field, filters and the table.

The table fits a narrow dock: number and time columns widen to their widest visible cell
and cannot be dragged narrower (a number is never cut), names elide; the header's context
menu hides and shows columns (saved with the layout)."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu,
    QStyle, QTableView, QToolButton, QVBoxLayout, QWidget,
)

from atc_desktop.watchlist.columns import COLUMN_INDEX, COLUMNS
from atc_desktop.watchlist.model import WatchlistModel
from atc_desktop.watchlist.proxy import SIGNAL_FILTERS, WatchlistProxy


#: Starting widths of the columns whose text may elide (the others fit their cells).
_WIDTHS = {"order": 30, "symbol": 64, "error": 30, "stale": 44, "last": 70, "change": 58,
           "signal": 82, "trend": 58, "direction": 64, "event": 74, "bars_ago": 62, "time": 86,
           "source": 110}


class WatchlistWidget(QWidget):
    """Shows the model through the proxy; reports what the user asks for by signals.

    The owner does the work (validation off the GUI thread, persistence, refresh) and
    calls back ``show_add_error`` / ``clear_add_field``.
    """

    add_requested = Signal(str)
    remove_requested = Signal(list)
    symbol_selected = Signal(str)
    chart_requested = Signal(str)
    list_switched = Signal(str)
    list_new_requested = Signal()
    list_rename_requested = Signal()
    list_delete_requested = Signal()
    move_requested = Signal(str, int)

    def __init__(self, model: WatchlistModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = WatchlistProxy(self)
        self.proxy.setSourceModel(model)

        self.lists = QComboBox(self)
        self.lists.setToolTip("named watchlists")
        self.lists.setMinimumContentsLength(6)
        self.lists.currentTextChanged.connect(self._switched)
        menu_btn = QToolButton(self)
        menu_btn.setText("Lists")
        menu_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(menu_btn)
        menu.addAction("New watchlist…", self.list_new_requested.emit)
        menu.addAction("Rename…", self.list_rename_requested.emit)
        menu.addAction("Delete", self.list_delete_requested.emit)
        menu_btn.setMenu(menu)

        self.add_field = QLineEdit(self)
        self.add_field.setPlaceholderText("Add symbol (e.g. AAPL)")
        self.add_field.returnPressed.connect(self._add)
        add_btn = QToolButton(self)         # a push button insists on 80 px
        add_btn.setText("Add")
        add_btn.clicked.connect(self._add)
        self.add_error = QLabel("", self)
        self.add_error.setObjectName("errorLabel")
        self.add_error.setWordWrap(True)
        self.add_error.setVisible(False)

        self.filter_text = QLineEdit(self)
        self.filter_text.setPlaceholderText("Filter symbols")
        self.filter_text.setClearButtonEnabled(True)
        self.filter_text.textChanged.connect(self.proxy.set_text_filter)
        self.filter_signal = QComboBox(self)
        for label, key in SIGNAL_FILTERS.items():
            self.filter_signal.addItem(label, key)
        self.filter_signal.currentIndexChanged.connect(
            lambda _i: self.proxy.set_signal_filter(str(self.filter_signal.currentData())))

        self.table = QTableView(self)
        self.table.setObjectName("watchlistTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COLUMN_INDEX["order"], Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setObjectName("watchlistHeader")
        header.setSectionsMovable(True)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for i, c in enumerate(COLUMNS):
            header.resizeSection(i, _WIDTHS.get(c.key, 72))
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._column_menu)
        header.sectionResized.connect(self._section_resized)
        # Values change often (refresh, live quotes): fit the columns at most 5 times a second.
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(200)
        self._fit_timer.timeout.connect(self.fit_columns)
        for sig in (model.dataChanged, model.rowsInserted, model.modelReset, model.layoutChanged):
            sig.connect(self._fit_timer.start)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.doubleClicked.connect(lambda idx: self._emit_chart(idx))

        top = QHBoxLayout()
        top.addWidget(self.lists, 1)
        top.addWidget(menu_btn)
        top.addWidget(self.add_field, 2)
        top.addWidget(add_btn)
        filters = QHBoxLayout()
        filters.addWidget(self.filter_text, 2)
        filters.addWidget(self.filter_signal, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.add_error)
        lay.addLayout(filters)
        lay.addWidget(self.table, 1)

    # -- lists --------------------------------------------------------------------------------
    def set_lists(self, names: list[str], active: str) -> None:
        self.lists.blockSignals(True)
        self.lists.clear()
        self.lists.addItems(names)
        self.lists.setCurrentText(active)
        self.lists.blockSignals(False)

    def _switched(self, name: str) -> None:
        if name:
            self.list_switched.emit(name)

    # -- add / remove / move ------------------------------------------------------------------
    def _add(self) -> None:
        text = self.add_field.text().strip()
        if text:
            self.add_requested.emit(text)

    def show_add_error(self, message: str) -> None:
        self.add_error.setText(message)
        self.add_error.setVisible(bool(message))

    def clear_add_field(self) -> None:
        self.add_field.clear()
        self.show_add_error("")

    def focus_add_field(self) -> None:
        self.add_field.setFocus()
        self.add_field.selectAll()

    def selected_symbols(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        syms = [self.proxy.source_symbol(r) for r in rows]
        return [s for s in syms if s]

    def current_symbol(self) -> str | None:
        idx = self.table.currentIndex()
        return self.proxy.source_symbol(idx.row()) if idx.isValid() else None

    def remove_selected(self) -> None:
        syms = self.selected_symbols()
        if syms:
            self.remove_requested.emit(syms)

    def move_current(self, step: int) -> None:
        sym = self.current_symbol()
        if sym:
            # Moving edits the list order: show that order so the move is visible.
            self.table.sortByColumn(COLUMN_INDEX["order"], Qt.SortOrder.AscendingOrder)
            self.move_requested.emit(sym, step)
            self.select_symbol(sym)

    def select_symbol(self, symbol: str) -> None:
        row = self.model.row_of(symbol)
        if row < 0:
            return
        idx = self.proxy.mapFromSource(self.model.index(row, 0))
        if idx.isValid():
            self.table.selectionModel().setCurrentIndex(
                idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            self.table.scrollTo(idx)

    def open_current_chart(self) -> None:
        sym = self.current_symbol()
        if sym:
            self.chart_requested.emit(sym)

    # -- column widths ------------------------------------------------------------------------
    def needed_width(self, column: int) -> int:
        """Width the widest visible cell of ``column`` needs (0 for a hidden column)."""
        table = self.table
        if table.horizontalHeader().isSectionHidden(column):
            return 0
        # The rows on screen only (Qt's sizeHintForColumn asks every row for every role:
        # ~40 ms per column at 500 rows, a stall on each refresh).
        model = table.model()
        first = max(table.rowAt(0), 0)
        last = table.rowAt(table.viewport().height() - 1)
        last = model.rowCount() - 1 if last < 0 else last
        metrics = table.fontMetrics()
        widest = 0
        for row in range(first, last + 1):
            text = model.index(row, column).data()
            if text is not None:
                widest = max(widest, metrics.horizontalAdvance(str(text)))
        margin = 2 * (table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1)
        return max(widest + margin + 8, table.horizontalHeader().sectionSizeHint(column))

    def fit_columns(self) -> None:
        """Widen every number/time column that would cut its widest visible cell."""
        header = self.table.horizontalHeader()
        for i, c in enumerate(COLUMNS):
            if c.whole:
                need = self.needed_width(i)
                if header.sectionSize(i) < need:
                    header.resizeSection(i, need)

    def _section_resized(self, index: int, _old: int, new: int) -> None:
        if 0 <= index < len(COLUMNS) and COLUMNS[index].whole and new < self.needed_width(index):
            self._fit_timer.start()              # dragged too narrow: back to the numbers' width

    def _column_menu(self, pos: QPoint) -> None:
        header = self.table.horizontalHeader()
        menu = QMenu(self)
        shown = sum(not header.isSectionHidden(i) for i in range(len(COLUMNS)))
        for i, c in enumerate(COLUMNS):
            act = menu.addAction(c.title if c.key != "order" else "# (list order)")
            act.setCheckable(True)
            act.setChecked(not header.isSectionHidden(i))
            act.setEnabled(c.key != "symbol" and not (shown == 1 and act.isChecked()))
            act.toggled.connect(lambda on, i=i: self.set_column_visible(i, on))
        menu.popup(header.mapToGlobal(pos))

    def set_column_visible(self, column: int, visible: bool) -> None:
        """Show or hide one column (the symbol column always stays)."""
        if COLUMNS[column].key == "symbol" and not visible:
            return
        self.table.horizontalHeader().setSectionHidden(column, not visible)
        if visible:
            self._fit_timer.start()

    # -- internals ----------------------------------------------------------------------------
    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            sym = self.proxy.source_symbol(current.row())
            if sym:
                self.symbol_selected.emit(sym)

    def _emit_chart(self, idx: QModelIndex) -> None:
        sym = self.proxy.source_symbol(idx.row())
        if sym:
            self.chart_requested.emit(sym)
