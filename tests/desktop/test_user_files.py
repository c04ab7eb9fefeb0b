"""A damaged user file (settings, watchlists, alert history) never stops the app: it is
moved aside with its bytes intact, the app starts with the defaults, and the user is told
once which file it was and where it is kept."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest

from atc_desktop import persist
from atc_desktop.alerts import AlertCenter
from atc_desktop.app_settings import AppSettings, SettingsFile
from atc_desktop.guard import error_sink
from atc_desktop.paths import AppPaths
from atc_desktop.watchlist.store import DEFAULT_NAME, DEFAULT_SYMBOLS, WatchlistStore

NOT_UTF8 = b"\xff\xfe x"
ALERT = {"time": 1.7e9, "symbol": "AAPL", "interval": "1d", "kind": "long", "source": "screen",
         "bar_time": 1_600_000_000_000_000_000, "value": 0.5, "tz": "UTC"}

#: (file, content, what the message says about it) — every way a file can be unusable.
DAMAGED: list[tuple[str, bytes, str]] = [
    ("settings.json", NOT_UTF8, "not UTF-8"),
    ("settings.json", b'{"theme": "light", ', "not valid JSON"),
    ("settings.json", b"[1, 2]", "the settings must be an object, not a list"),
    ("settings.json", b"null", "the settings must be an object, not null"),
    ("settings.json", b'{"source": "synthetic", "config": [5]}', "'config' must be an object"),
    ("watchlists.json", NOT_UTF8, "not UTF-8"),
    ("watchlists.json", b'["AAPL"]', "the watchlists file must be an object"),
    ("watchlists.json", b'{"active": "Mine"}', "'lists' is missing"),
    ("watchlists.json", b'{"lists": ["AAPL"]}', "'lists' must be an object, not a list"),
    ("watchlists.json", b'{"lists": {"Mine": "AAPL"}}', "watchlist 'Mine' must be a list"),
    ("watchlists.json", b'{"lists": {"Mine": ["AAPL", 7]}}', "a symbol of watchlist 'Mine' must be a string"),
    ("watchlists.json", b'{"lists": {"Mine": ["AAPL"]}, "active": ["Mine"]}', "'active' must be a string"),
    ("alerts.json", NOT_UTF8, "not UTF-8"),
    ("alerts.json", b'{"seen": 5}', "'seen' must be a list, not an integer"),
    ("alerts.json", b'{"seen": ["a", 5]}', "'seen'[1] must be a string"),
    ("alerts.json", b'{"recent": {"a": 1}}', "'recent' must be a list, not an object"),
    ("alerts.json", b'{"recent": [5]}', "'recent'[0] must be an object"),
    ("alerts.json", json.dumps({"recent": [dict(ALERT, time="noon")]}).encode(),
     "'recent'[0].time must be a number, not a string"),
    ("alerts.json", json.dumps({"recent": [dict(ALERT, bar_time=True)]}).encode(),
     "'recent'[0].bar_time must be an integer, not true or false"),
    ("alerts.json", json.dumps({"recent": [{k: v for k, v in ALERT.items() if k != "symbol"}]}).encode(),
     "'recent'[0] has no 'symbol'"),
    ("alerts.json", json.dumps({"recent": [dict(ALERT, colour="red")]}).encode(),
     "'recent'[0] has an unknown field 'colour'"),
    ("alerts.json", json.dumps({"recent": [dict(ALERT, time=1e300)]}).encode(),
     "'recent'[0] cannot be shown"),
    ("alerts.json", b'[]', "the alert history must be an object"),
]


def ids(case: tuple[str, bytes, str]) -> str:
    return f"{case[0]}: {case[2]}"


class Told:
    """Collects what reaches the window's status bar through the error sink."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        error_sink().error_reported.connect(self.messages.append)

    def about(self, name: str) -> list[str]:
        return [m for m in self.messages if name in m]

    def close(self) -> None:
        error_sink().error_reported.disconnect(self.messages.append)


@pytest.fixture
def start_session(qtbot: Any, home: AppPaths, scripted: Any) -> Iterator[Callable[..., Any]]:
    """An AppSession over the files already in ``home`` (the shared ``make_session`` would
    rewrite the watchlists first), on scripted data; shut down afterwards."""
    from atc_desktop.session import AppSession

    made: list[Any] = []

    def build(symbols: Sequence[str] = DEFAULT_SYMBOLS) -> Any:
        made.append(AppSession(home, provider=scripted(list(symbols))))
        return made[-1]

    yield build
    for session in made:
        session.shutdown()


@pytest.fixture
def told() -> Any:
    sink = Told()
    yield sink
    sink.close()


def assert_defaults(session: Any, name: str) -> None:
    if name == "settings.json":
        assert session.settings == AppSettings()
    elif name == "watchlists.json":
        assert session.watchlists.names() == [DEFAULT_NAME]
        assert session.model.symbols() == list(DEFAULT_SYMBOLS)
    else:
        assert session.alerts.model.rowCount() == 0


def kept_aside(home: AppPaths, name: str) -> Path:
    (aside,) = home.config_dir.glob(name + ".corrupt-*")
    return aside


@pytest.mark.parametrize("name", ["settings.json", "watchlists.json", "alerts.json"])
def test_app_starts_with_a_non_utf8_file_and_tells_the_user_once(
        home: AppPaths, start_session: Callable[..., Any], make_window: Callable[..., Any],
        told: Told, name: str) -> None:
    (home.config_dir / name).write_bytes(NOT_UTF8)
    session = start_session()
    window = make_window(session)
    assert told.messages == []                     # nothing is told before the window is up
    session.start(warm=False)
    assert_defaults(session, name)
    aside = kept_aside(home, name)
    assert aside.read_bytes() == NOT_UTF8
    (message,) = told.about(name)
    assert str(aside) in message and "not UTF-8" in message
    assert name in window.statusBar().currentMessage()
    assert any(name in line and str(aside) in line for line in window.log_widget.lines())
    session.tell_set_aside()
    assert len(told.about(name)) == 1, "told once"
    if name == "watchlists.json":                 # the defaults are on disk, the original kept
        assert WatchlistStore(home.watchlists_file).symbols() == list(DEFAULT_SYMBOLS)
    # The next start finds no damaged file and tells nothing.
    session.shutdown()
    again = start_session()
    again.start(warm=False)
    assert again.set_aside == [] and len(told.about(name)) == 1
    assert kept_aside(home, name).read_bytes() == NOT_UTF8


@pytest.mark.parametrize("case", DAMAGED, ids=ids)
def test_each_unusable_file_is_kept_aside_and_the_session_uses_defaults(
        home: AppPaths, start_session: Callable[..., Any], told: Told,
        case: tuple[str, bytes, str]) -> None:
    name, content, reason = case
    (home.config_dir / name).write_bytes(content)
    session = start_session()
    assert_defaults(session, name)
    aside = kept_aside(home, name)
    assert aside.read_bytes() == content
    (item,) = session.set_aside
    assert item.path == home.config_dir / name and item.kept_as == aside
    assert reason in item.message() and str(aside) in item.message()
    session.start(warm=False)
    assert told.about(name) == [item.message()]


def test_several_damaged_files_are_one_message_naming_each(
        home: AppPaths, start_session: Callable[..., Any], told: Told) -> None:
    for name in ("settings.json", "watchlists.json", "alerts.json"):
        (home.config_dir / name).write_bytes(NOT_UTF8)
    session = start_session()
    session.start(warm=False)
    (message,) = told.messages
    for name in ("settings.json", "watchlists.json", "alerts.json"):
        assert str(kept_aside(home, name)) in message


def test_good_files_are_used_and_nothing_is_told(
        home: AppPaths, start_session: Callable[..., Any], told: Told) -> None:
    """A BOM from a text editor is fine; so are valid files of every kind."""
    home.settings_file.write_bytes(b"\xef\xbb\xbf" + json.dumps({"theme": "light"}).encode())
    home.watchlists_file.write_text(json.dumps({"lists": {"Mine": ["AAPL", "IBM"]}, "active": "Mine"}))
    home.alerts_file.write_text(json.dumps({"seen": ["k"], "recent": [ALERT]}))
    session = start_session(["AAPL", "IBM"])
    session.start(warm=False)
    assert session.settings.theme == "light"
    assert session.watchlists.active == "Mine" and session.model.symbols() == ["AAPL", "IBM"]
    assert session.alerts.model.alerts()[0].symbol == "AAPL"
    assert told.messages == [] and not list(home.config_dir.glob("*.corrupt-*"))


def test_each_loader_alone_keeps_the_file_aside(tmp_path: Path) -> None:
    """The loaders used outside the app (benchmarks, tools) behave the same."""
    for name, load in (("s.json", lambda p: SettingsFile(p).load() == AppSettings()),
                       ("w.json", lambda p: WatchlistStore(p).symbols() == list(DEFAULT_SYMBOLS)),
                       ("a.json", lambda p: AlertCenter(p).model.rowCount() == 0)):
        path = tmp_path / name
        path.write_bytes(NOT_UTF8)
        assert load(path)
        assert [p.read_bytes() for p in tmp_path.glob(name + ".corrupt-*")] == [NOT_UTF8]


def test_a_second_damaged_copy_in_the_same_second_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    kept = []
    for content in (b"\xff first", b"\xff second"):
        path.write_bytes(content)
        item = persist.load_json(path, dict)[1]
        assert item is not None and item.kept_as is not None
        kept.append(item.kept_as)
    assert kept[0] != kept[1]
    assert [p.read_bytes() for p in kept] == [b"\xff first", b"\xff second"]


def test_a_file_that_cannot_be_moved_aside_is_not_overwritten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace

    def no_aside(src: Any, dst: Any) -> None:
        if ".corrupt-" in str(dst):
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(persist.os, "replace", no_aside)
    path = tmp_path / "watchlists.json"
    path.write_bytes(NOT_UTF8)
    store = WatchlistStore(path)
    assert store.symbols() == list(DEFAULT_SYMBOLS)
    assert store.set_aside is not None and store.set_aside.kept_as is None
    assert "could not be moved aside" in store.set_aside.message()
    assert path.read_bytes() == NOT_UTF8, "the start-up save must not replace the user's file"
