"""`atc compute -o`: the output never destroys an input, a link, a device, a FIFO, a read-only
file or a file's permissions, and never leaves its temporary file behind."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from tests.cli.test_compute_cli import write_prices
from tests.conftest import REPO

ROWS = [[f"2020-02-{d:02d}", str(100 + d % 5), str(99 + d % 5)] for d in range(1, 29)]


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    return write_prices(tmp_path / "prices.csv", ROWS)


def compute(prices: Path, out: str | Path, *extra: str) -> int:
    return main(["compute", str(prices), *extra, "-o", str(out)])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("atc: error: "), err
    return err


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_the_input_itself_is_refused_however_it_is_named(tmp_path, prices, capsys, spelling):
    before = prices.read_bytes()
    (tmp_path / "sub").mkdir()
    if spelling == "same":
        out = str(prices)
    elif spelling == "dotted":
        out = f"{tmp_path}/sub/../prices.csv"
    elif spelling == "symlink":
        out = str(tmp_path / "alias.csv")
        os.symlink(prices, out)
    else:
        out = str(tmp_path / "hard.csv")
        os.link(prices, out)
    assert compute(prices, out) == 2
    err = one_error_line(capsys)
    assert out in err and "input" in err
    assert prices.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_the_params_file_is_an_input_too(tmp_path, prices, capsys):
    params = tmp_path / "p.json"
    params.write_text('{"La": 0.05}')
    assert compute(prices, params, "--params", str(params)) == 2
    assert "input" in one_error_line(capsys)
    assert params.read_text() == '{"La": 0.05}'


def test_a_symlink_is_followed_and_stays_a_link(tmp_path, prices):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target.name)
    assert compute(prices, link) == 0
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert target.read_text().startswith("date,close,")
    assert leftovers(tmp_path) == []


def test_an_existing_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path, prices):
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    out.chmod(0o640)
    assert compute(prices, out) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_text().startswith("date,")
    previous = os.umask(0o027)
    try:
        assert compute(prices, tmp_path / "new.csv") == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640


def test_a_read_only_file_is_refused_not_replaced(tmp_path, prices, capsys):
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")
    out.chmod(0o444)
    ino = out.stat().st_ino
    assert compute(prices, out) == 2
    err = one_error_line(capsys)
    assert str(out) in err and "read-only" in err
    assert out.read_text() == "keep me\n" and out.stat().st_ino == ino
    assert leftovers(tmp_path) == []


def test_a_fifo_is_written_through(tmp_path, prices):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # A non-blocking reader lets the writer open the FIFO; the output fits the pipe buffer.
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert compute(prices, fifo) == 0
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert data.startswith(b"date,close,") and data.count(b"\n") == len(ROWS) + 1


def device(tmp_path: Path, name: str, minor: int) -> Path:
    """A private copy of /dev/null (minor 3) or /dev/full (minor 7): the real ones are
    never put at risk by a test."""
    node = tmp_path / name
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        with open(node, "w"):
            pass
    except OSError as exc:           # not root, or a folder mounted without devices
        pytest.skip(f"cannot make a character device here: {exc}")
    return node


def test_a_null_device_is_written_through(tmp_path, prices):
    null = device(tmp_path, "null", 3)
    assert compute(prices, null) == 0
    assert stat.S_ISCHR(null.lstat().st_mode)


def test_a_full_device_is_an_error_naming_the_users_path(tmp_path, prices, capsys):
    full = device(tmp_path, "full", 7)
    assert compute(prices, full) == 2
    err = one_error_line(capsys)
    assert err == f"atc: error: {full}: No space left on device"
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_missing_folder_is_named_as_the_user_typed_it(tmp_path, prices, capsys):
    out = tmp_path / "nowhere" / "out.csv"
    assert compute(prices, out) == 2
    err = one_error_line(capsys)
    assert str(out) in err and ".tmp" not in err


SLOW_WRITER = """
import faulthandler, signal, sys, time
# Stop signals as a terminal leaves them, whatever the test process left behind (an
# ignored or blocked signal is inherited); a hang dumps every thread's stack to stderr.
for sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGHUP])
faulthandler.dump_traceback_later(25, exit=True)
from pathlib import Path
import numpy as np
from core.cli.prices_csv import write_columns

class SlowDate:
    def __str__(self):          # csv calls str() on the cell: stop halfway through the file
        print("writing", flush=True)
        # Short sleeps: a signal that lands on another thread (numpy's BLAS pool) does not
        # cut a sleep short, and Python runs the handler at the main thread's next bytecode.
        for _ in range(1200):
            time.sleep(0.05)
        return "late"

n = 2000
dates = [f"d{k}" for k in range(n)]
dates[n // 2] = SlowDate()
write_columns(Path(sys.argv[1]), [("close", np.arange(1.0, n + 1))], dates)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_while_writing_leaves_no_temporary_file(tmp_path, signum):
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert len(leftovers(tmp_path)) == 1           # the temporary file exists now
        proc.send_signal(signum)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == -signum, err              # still ends the way the signal ends it
    assert leftovers(tmp_path) == []
    assert out.read_text() == "previous\n"


SLOW_COMPUTE = """
import faulthandler, signal, sys, time
# Ctrl-C as in a terminal whatever the test process left behind (an ignored or blocked
# SIGINT is inherited); a hang dumps every thread's stack to stderr.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
faulthandler.dump_traceback_later(25, exit=True)
import numpy as np
import core.cli.main as cli
from core.cli.prices_csv import PriceColumns

class SlowDate:
    def __str__(self):
        print("writing", flush=True)
        # Short sleeps: a SIGINT that lands on another thread (the Rust pool's) does not
        # cut a sleep short, and Python runs the handler at the main thread's next bytecode.
        for _ in range(1200):
            time.sleep(0.05)
        return "late"

def prices(*_args, **_kwargs):
    dates = [f"d{k}" for k in range(400)]
    dates[200] = SlowDate()
    return PriceColumns(np.arange(1.0, 401.0), None, dates)

cli.read_columns = prices
sys.exit(cli.main(["compute", "unused.csv", "-o", sys.argv[1]]))
"""


def test_ctrl_c_while_writing_ends_with_one_line_status_130_and_no_temporary_file(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    proc = subprocess.Popen([sys.executable, "-c", SLOW_COMPUTE, str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 130 and err == "atc: interrupted\n", err[-3000:]
    assert leftovers(tmp_path) == [] and out.read_text() == "previous\n"
