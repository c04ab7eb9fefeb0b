"""Each job reports to the callbacks it was submitted with, on the GUI thread: a result or
a failure never reaches another job's handler, a dropped job ends unheard, a callback of a
deleted Qt object is not called and a failing callback is reported, not raised. The
session and the chart controller route their jobs that way: the intervals are found by the
session (the window only shows them) and the chart is attached, not poked in."""
from __future__ import annotations

import threading
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QObject, QThreadPool

from atc_desktop.guard import error_sink
from atc_desktop.workers import JobFailure, JobResult, JobRunner
from core.data.intervals import available_intervals

WAIT_MS = 10_000


@pytest.fixture
def runner(qtbot: Any) -> Any:
    pool = QThreadPool()
    pool.setMaxThreadCount(4)
    run = JobRunner(pool)
    yield run
    run.wait(WAIT_MS)


def settle(qtbot: Any, runner: JobRunner) -> None:
    """Wait until every job ended and its outcome was handed over."""
    qtbot.waitUntil(lambda: runner.busy() == 0, timeout=WAIT_MS)


class Calls:
    """Records which callback got what (and on which thread)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str, Any]] = []
        self.threads: set[int] = set()

    def done(self, name: str) -> Any:
        def on_done(result: JobResult[Any]) -> None:
            self.threads.add(threading.get_ident())
            self.got.append((name, result.kind, result.value))
        return on_done

    def failed(self, name: str) -> Any:
        def on_failed(failure: JobFailure) -> None:
            self.threads.add(threading.get_ident())
            self.got.append((name, failure.kind, failure.message))
        return on_failed


def fail(message: str) -> Any:
    def job() -> None:
        raise ValueError(message)
    return job


# -- the runner ---------------------------------------------------------------------------------
def test_each_outcome_reaches_only_its_own_callback_on_the_gui_thread(qtbot: Any, runner: JobRunner) -> None:
    calls = Calls()
    workers: set[int] = set()

    def value(kind: str, k: int) -> Any:
        def job() -> tuple[str, int]:
            workers.add(threading.get_ident())
            return kind, k
        return job

    for k in range(12):
        for kind in ("alpha", "beta"):
            runner.submit(kind, value(kind, k), on_done=calls.done(f"{kind}{k}"),
                          on_failed=calls.failed(f"{kind}{k}!"))
    runner.submit("alpha", fail("no such symbol"), on_done=calls.done("bad"),
                  on_failed=calls.failed("bad!"))
    settle(qtbot, runner)
    want = {(f"{kind}{k}", kind, (kind, k)) for k in range(12) for kind in ("alpha", "beta")}
    want.add(("bad!", "alpha", "ValueError: no such symbol"))
    assert sorted(calls.got, key=str) == sorted(want, key=str)          # each once, no other
    assert calls.threads == {threading.get_ident()}
    assert threading.get_ident() not in workers                           # the work was not here


def test_a_failure_reaches_only_the_failed_jobs_failure_callback(qtbot: Any, runner: JobRunner) -> None:
    calls = Calls()
    runner.submit("probe", fail("backend exploded"), on_done=calls.done("probe"),
                  on_failed=calls.failed("probe!"))
    runner.submit("probe", lambda: "fine", on_done=calls.done("other"), on_failed=calls.failed("other!"))
    settle(qtbot, runner)
    assert sorted(calls.got) == [("other", "probe", "fine"), ("probe!", "probe", "ValueError: backend exploded")]


def test_a_dropped_job_ends_unheard_and_the_others_are_still_heard(qtbot: Any, runner: JobRunner) -> None:
    calls = Calls()
    gate = threading.Event()

    def held(value: str) -> Any:
        def job() -> str:
            gate.wait(WAIT_MS / 1000)
            return value
        return job

    def held_failure() -> None:
        gate.wait(WAIT_MS / 1000)
        raise ValueError("late")

    dropped = runner.submit("analysis", held("old"), on_done=calls.done("old"), on_failed=calls.failed("old!"))
    dropped_failure = runner.submit("analysis", held_failure, on_done=calls.done("bad"),
                                    on_failed=calls.failed("bad!"))
    runner.submit("analysis", held("new"), on_done=calls.done("new"), on_failed=calls.failed("new!"))
    runner.drop(dropped)
    runner.drop(dropped_failure)
    assert runner.busy() == 3                     # they still run to their end
    gate.set()
    settle(qtbot, runner)
    assert calls.got == [("new", "analysis", "new")]


def test_a_deleted_receiver_is_not_called(qtbot: Any, runner: JobRunner) -> None:
    heard: list[Any] = []

    class Receiver(QObject):
        def take(self, result: JobResult[Any]) -> None:
            heard.append(result.value)

        def failed(self, failure: JobFailure) -> None:
            heard.append(failure.message)

    gone, kept = Receiver(), Receiver()
    gate = threading.Event()

    def job() -> int:
        gate.wait(WAIT_MS / 1000)
        return 7

    runner.submit("parity", job, on_done=gone.take, on_failed=gone.failed)
    runner.submit("parity", job, on_done=kept.take, on_failed=kept.failed)
    shiboken6.delete(gone)                        # a dialog closed and deleted meanwhile
    gate.set()
    settle(qtbot, runner)
    assert heard == [7]


def test_a_failing_callback_is_reported_and_later_jobs_are_still_heard(qtbot: Any, runner: JobRunner) -> None:
    def broken(_result: JobResult[Any]) -> None:
        raise RuntimeError("handler bug")

    calls = Calls()
    with qtbot.waitSignal(error_sink().error_reported, timeout=WAIT_MS) as reported:
        runner.submit("screen", lambda: 1, on_done=broken, on_failed=calls.failed("screen!"))
    assert "handler bug" in reported.args[0]
    runner.submit("screen", lambda: 2, on_done=calls.done("next"), on_failed=calls.failed("next!"))
    settle(qtbot, runner)
    assert calls.got == [("next", "screen", 2)]


# -- the session's jobs -------------------------------------------------------------------------
def test_session_jobs_each_reach_their_own_signal(qtbot: Any, make_session: Any, scripted: Any) -> None:
    provider = scripted(["AAA"], bars=60)

    def validate(symbols: Any) -> dict[str, str]:
        raise OSError("network is unreachable")

    provider.validate_symbols = validate
    session = make_session(provider=provider)
    heard: dict[str, list[Any]] = {"added": [], "probed": [], "probe_failed": [], "intervals": []}
    session.add_failed.connect(heard["added"].append)
    session.backends_probed.connect(heard["probed"].append)
    session.backends_probe_failed.connect(heard["probe_failed"].append)
    session.intervals_known.connect(heard["intervals"].append)
    session.add_symbol("BBB")
    session.probe_backends()
    qtbot.waitUntil(lambda: bool(heard["added"] and heard["intervals"]), timeout=WAIT_MS)
    settle(qtbot, session.runner)
    [added], [probed], [intervals] = heard["added"], heard["probed"], heard["intervals"]
    assert added == "could not check the symbol: OSError: network is unreachable"
    assert {row.name for row in probed} >= {"numpy"}
    assert [t.interval for t in intervals] == [t.interval for t in available_intervals(("1d", "1h"))]
    assert heard["probe_failed"] == [] and session.model.symbols() == ["AAA"]
    session.shutdown()
    session.ask_intervals()                       # nothing is scheduled once closing
    assert session.runner.busy() == 0


def test_a_failing_intervals_job_offers_nothing_new_and_stays_quiet(qtbot: Any, make_session: Any, scripted: Any) -> None:
    class NoIntervals(scripted):
        @property
        def intervals(self) -> tuple[str, ...]:
            raise OSError("provider not reachable")

    session = make_session(provider=NoIntervals(["AAA"], bars=60))
    heard: list[Any] = []
    session.intervals_known.connect(heard.append)
    error_sink().error_reported.connect(heard.append)
    try:
        session.ask_intervals()
        settle(qtbot, session.runner)
        qtbot.wait(50)
    finally:
        error_sink().error_reported.disconnect(heard.append)
    assert heard == []


def test_the_window_presents_the_intervals_the_session_found(qtbot: Any, make_window: Any, scripted: Any) -> None:
    window = make_window(provider=scripted(["AAA"], bars=60))
    box = window.settings_panel.interval
    with qtbot.waitSignal(window.session.intervals_known, timeout=WAIT_MS):
        window.session.ask_intervals()
    offered = [box.itemText(i) for i in range(box.count())]
    assert len(offered) == len(available_intervals(("1d", "1h")))
    assert any(text.startswith("1h") for text in offered)


# -- the chart controller -----------------------------------------------------------------------
class FakeChart:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def set_data(self, bars: Any, result: Any, config: Any) -> None:
        self.calls.append(("set_data", bars.symbol))

    def update_data(self, bars: Any, result: Any) -> None:
        self.calls.append(("update_data", bars.symbol))

    def set_last_bar_forming(self, forming: bool) -> None:
        self.calls.append(("forming", forming))


def test_the_chart_is_attached_and_each_analysis_reaches_its_own_handlers(
        qtbot: Any, make_session: Any, scripted: Any) -> None:
    session = make_session(provider=scripted(["AAA", "BBB"], bars=300))
    analysis = session.analysis
    errors: list[str] = []
    refresh_failed: list[str] = []
    error_sink().error_reported.connect(errors.append)
    session.refresh.refresh_failed.connect(refresh_failed.append)
    try:
        # No chart yet: the outcome is kept and announced, nothing is drawn or reported.
        with qtbot.waitSignal(analysis.analysed, timeout=60_000) as first:
            analysis.show("AAA")
        assert first.args[0].request.symbol == "AAA" and analysis.last_outcome is first.args[0]
        chart = FakeChart()
        analysis.attach_chart(lambda: chart)
        with qtbot.waitSignal(analysis.analysed, timeout=60_000):
            analysis.show("BBB")
        assert chart.calls == [("set_data", "BBB"), ("forming", False)]
        # A failing analysis reaches the chart's failure signal only.
        with qtbot.waitSignal(analysis.analysis_failed, timeout=60_000) as failed:
            analysis.show("ZZZ")
        assert failed.args[0] == "ZZZ" and "ZZZ" in failed.args[1]
    finally:
        error_sink().error_reported.disconnect(errors.append)
    assert chart.calls == [("set_data", "BBB"), ("forming", False)]
    assert errors == [] and refresh_failed == []
