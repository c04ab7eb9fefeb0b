"""The watchlist's add field: several symbols at once ("AAPL, MSFT NVDA") and a completer.

Parsing is plain Python (:func:`parse_entry`, :func:`settle`); the session checks the
parsed symbols with the provider. :class:`SymbolCompleter` suggests symbols for the last
one being typed: local ones at once, Yahoo's search (online sources only) after a pause in
typing, on the worker pool; a search that fails leaves the local suggestions, quietly.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QCompleter, QLineEdit

from atc_desktop.watchlist.symbol_search import (
    MAX_SUGGESTIONS, Suggestion, local_index, match, merge, yahoo_search,
)
from atc_desktop.workers import JobFailure, JobResult, JobRunner
from core.data.symbols import SYMBOL_RULE, normalise_symbol, symbol_syntax_error

if TYPE_CHECKING:
    from atc_desktop.session import AppSession

log = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[\s,;]+")
_LAST_TOKEN = re.compile(r"[^\s,;]*$")


# -- several symbols in one entry ---------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """What an add-field text asks for.

    ``wanted``: valid symbols not in the list yet, in the typed order; ``typed`` maps each
    to the text the user typed; ``problems``: why the other tokens were not taken;
    ``retype``: the tokens the user has to correct (not valid tickers).
    """

    wanted: tuple[str, ...] = ()
    typed: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    retype: tuple[str, ...] = ()


def split_entry(text: str) -> list[str]:
    """The tokens of ``text``, separated by commas, semicolons or white space."""
    return [t for t in _SEPARATORS.split(text) if t]


def last_token(text: str) -> str:
    """The symbol being typed: what follows the last separator."""
    m = _LAST_TOKEN.search(text)
    return m.group(0) if m else ""


def _quoted_list(items: list[str]) -> str:
    return ", ".join(repr(i) for i in items)


def parse_entry(text: str, present: Iterable[str]) -> Entry:
    """Split ``text`` into symbols and sort out those that cannot be added: not valid
    tickers (the core rule) or already in the list (``present``)."""
    have = set(present)
    wanted: dict[str, str] = {}
    bad: list[str] = []
    dupes: list[str] = []
    for token in split_entry(text):
        sym = normalise_symbol(token)
        if symbol_syntax_error(sym) is not None:
            bad.append(token)
        elif sym in have:
            if sym not in dupes:
                dupes.append(sym)
        else:
            wanted.setdefault(sym, token)
    problems = []
    if not (wanted or bad or dupes):
        problems.append("type a symbol, or several separated by commas or spaces")
    if len(bad) == 1:
        problems.append(str(symbol_syntax_error(normalise_symbol(bad[0]))))
    elif bad:
        problems.append(f"{_quoted_list([normalise_symbol(b) for b in bad])} are not valid "
                        f"tickers ({SYMBOL_RULE})")
    if dupes:
        problems.append(f"{', '.join(dupes)} {'is' if len(dupes) == 1 else 'are'} already "
                        "in this watchlist")
    return Entry(tuple(wanted), wanted, tuple(problems), tuple(bad))


@dataclass(frozen=True)
class Settled:
    """An entry after the provider's check: what to add, what to tell, and the text left
    in the add field (the symbols to correct; empty when there are none)."""

    accepted: list[str]
    problems: list[str]
    keep: str


def settle(entry: Entry, unknown: Mapping[str, str]) -> Settled:
    """Combine a parsed entry with the provider's verdict (``unknown``: symbol → why)."""
    accepted = [s for s in entry.wanted if s not in unknown]
    refused = [s for s in entry.wanted if s in unknown]
    problems = list(entry.problems) + [unknown[s] for s in refused]
    keep = ", ".join([*entry.retype, *(entry.typed.get(s, s) for s in refused)])
    return Settled(accepted, problems, keep)


# -- suggestions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SuggestSources:
    """Where suggestions come from: ``index`` and ``search`` block (files, network) and
    run on the worker pool; ``search`` is None for offline sources; ``known`` is cheap."""

    index: Callable[[], list[Suggestion]]
    search: Callable[[str], list[Suggestion]] | None
    known: Callable[[], list[str]]


def sources_of(session: AppSession) -> SuggestSources:
    """The session's data source's suggestions: Yahoo's search only when it is online."""
    data, source = session.data, session.settings.source
    online = source.strip().lower() == "yahoo"
    return SuggestSources(index=lambda: local_index(data.provider),
                          search=yahoo_search if online else None,
                          known=session.watchlists.all_symbols)


SYMBOL_ROLE = int(Qt.ItemDataRole.UserRole) + 1


class SymbolCompleter(QCompleter):
    """Suggestions for the last symbol in a line edit; choosing one replaces that symbol.

    Yahoo is asked ``debounce_ms`` after the last keystroke, on the runner's pool; only
    the answer for the text still being typed is shown. After a failed search (offline)
    Yahoo is left alone for ``backoff_s`` and that is logged once, as information.
    """

    debounce_ms = 300
    backoff_s = 60.0

    def __init__(self, line: QLineEdit, runner: JobRunner, sources: Callable[[], SuggestSources],
                 parent: QObject | None = None) -> None:
        super().__init__(parent or line)
        self._line = line
        self._runner = runner
        self._sources_of = sources
        self._sources: SuggestSources | None = None
        self._index: list[Suggestion] | None = None
        self._index_job = 0
        self._search_job = 0
        self._search_query = ""
        self._local: list[Suggestion] = []
        self._shown: list[Suggestion] = []
        self._quiet_until = 0.0
        self.searches = 0                      # Yahoo searches started (diagnostics, tests)
        self._items = QStandardItemModel(self)
        self.setModel(self._items)
        self.setCompletionRole(SYMBOL_ROLE)
        self.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setMaxVisibleItems(MAX_SUGGESTIONS)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._search)
        line.setCompleter(self)
        line.textEdited.connect(self._typed)

    # -- QCompleter ---------------------------------------------------------------------------
    def pathFromIndex(self, index: QModelIndex | QPersistentModelIndex) -> str:  # noqa: N802
        """The field's text with its last symbol replaced by the chosen one."""
        text = self._line.text()
        head = text[: len(text) - len(last_token(text))]
        return head + str(index.data(SYMBOL_ROLE))

    def splitPath(self, path: str) -> list[str]:  # noqa: N802
        return [last_token(path)]

    # -- state --------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """The data source changed: rebuild the local list and the search on next use."""
        self._sources = None
        self._index = None
        self._index_job = 0
        self._quiet_until = 0.0

    def suggestions(self) -> list[Suggestion]:
        """What the popup offers now."""
        return list(self._shown)

    def _current_sources(self) -> SuggestSources:
        if self._sources is None:
            self._sources = self._sources_of()
        return self._sources

    # -- typing -------------------------------------------------------------------------------
    def _typed(self, text: str) -> None:
        token = last_token(text)
        self._timer.stop()
        if not token:
            self._show([])
            return
        sources = self._current_sources()
        if self._index is None and not self._index_job:
            self._index_job = self._runner.submit("symbol-index", sources.index,
                                                  on_done=self._index_done, on_failed=self._index_failed)
        known = [Suggestion(s, where="watchlist") for s in sources.known()]
        self._local = match(token, [*(self._index or []), *known])
        self._show(self._local)
        if sources.search is not None and time.monotonic() >= self._quiet_until:
            self._timer.start(self.debounce_ms)

    def _search(self) -> None:
        token = last_token(self._line.text())
        search = self._current_sources().search
        if not token or search is None:
            return
        self.searches += 1
        self._search_query = token
        self._search_job = self._runner.submit("symbol-search", lambda: search(token),
                                               on_done=self._search_done, on_failed=self._search_failed)

    # Only the latest index or search is heard (``invalidate`` and each keystroke move on).
    def _index_done(self, result: JobResult[list[Suggestion]]) -> None:
        if result.request_id == self._index_job:
            self._index = list(result.value)
            self._refilter()

    def _index_failed(self, failure: JobFailure) -> None:
        if failure.request_id == self._index_job:
            log.info("no local symbols to suggest: %s", failure.message)
            self._index = []

    def _search_done(self, result: JobResult[list[Suggestion]]) -> None:
        if result.request_id == self._search_job and last_token(self._line.text()) == self._search_query:
            self._show(merge([*self._local, *result.value]))

    def _search_failed(self, failure: JobFailure) -> None:
        if failure.request_id == self._search_job:
            if time.monotonic() >= self._quiet_until:
                log.info("symbol search unavailable (%s); suggesting local symbols only",
                         failure.message)
            self._quiet_until = time.monotonic() + self.backoff_s

    def _refilter(self) -> None:
        """Show the local matches again for what is typed now (the index arrived)."""
        token = last_token(self._line.text())
        if token:
            known = [Suggestion(s, where="watchlist") for s in self._current_sources().known()]
            self._local = match(token, [*(self._index or []), *known])
            self._show(self._local)

    def _show(self, found: list[Suggestion]) -> None:
        self._items.clear()
        self._shown = list(found)
        for s in found:
            item = QStandardItem(s.label())
            item.setData(s.symbol, SYMBOL_ROLE)
            item.setEditable(False)
            self._items.appendRow(item)
        if not found:
            popup = self.popup()
            if popup is not None:
                popup.hide()
        elif self._line.hasFocus():
            self.setCompletionPrefix(last_token(self._line.text()))
            self.complete()


def install_symbol_entry(line: QLineEdit, session: AppSession) -> SymbolCompleter:
    """Give ``line`` (the add field) its completer, tied to the session: a new data source
    rebuilds the suggestions; after a partial add the field keeps the symbols to correct."""
    line.setPlaceholderText("Add symbols (e.g. AAPL, MSFT NVDA)")
    completer = SymbolCompleter(line, session.runner, lambda: sources_of(session), line)
    session.settings_applied.connect(lambda _s: completer.invalidate())
    session.add_kept.connect(line.setText)
    return completer

