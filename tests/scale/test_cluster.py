"""Real Dask clusters on loopback: worker processes and threads give the in-process results
bit for bit, a worker killed mid-sweep costs only its task, an unreachable scheduler is one
clear error and nothing is written."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("distributed")

from core.config import ATCConfig  # noqa: E402
from core.distribute import ClusterError, InProcess, open_engine, parse_cluster  # noqa: E402
from core.errors import ATCInputError  # noqa: E402
from core.grid import load_grid, parse_grid  # noqa: E402
from core.sweep import read_results, run_sweep  # noqa: E402
from core.universe_scan import run_scan  # noqa: E402
from tests.scale.conftest import synthetic_universe  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def process_cluster():
    with open_engine("local:2") as engine:
        yield engine


def test_two_worker_processes_give_the_in_process_sweep_bit_for_bit(process_cluster, universe,
                                                                  grid_file, tmp_path):
    grid = load_grid(grid_file)
    here = run_sweep(universe, grid, tmp_path / "here.parquet", InProcess())
    there = run_sweep(universe, grid, tmp_path / "there.parquet", process_cluster)
    assert process_cluster.workers == 2 and there.failed_tasks == {}
    assert (there.written, here.written) == (12, 12)
    a, b = read_results(tmp_path / "here.parquet"), read_results(tmp_path / "there.parquet")
    assert a.equals(b) and len(a) == 240


def test_a_worker_killed_mid_sweep_loses_only_its_task(process_cluster, tmp_path):
    universe = synthetic_universe(tmp_path / "u", count=60, bars=1500, per_file=15)
    grid = parse_grid("[grid]\nema_len = [14, 20, 28, 36]\nLa = [0.01, 0.02]")
    client = process_cluster.client
    killed: list[tuple[int, int]] = []

    def kill_one_worker(done: int, total: int) -> None:
        if done == 1 and not killed:          # the first result is in, 31 tasks to go
            pids = client.run(os.getpid)
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append((pid, done))

    there = run_sweep(universe, grid, tmp_path / "there.parquet", process_cluster,
                      progress=kill_one_worker)
    assert killed and there.failed_tasks == {} and there.written == 32
    client.wait_for_workers(2, timeout=60)      # the nanny restarted the killed worker
    assert killed[0][0] not in client.run(os.getpid).values()
    here = run_sweep(universe, grid, tmp_path / "here.parquet", InProcess())
    assert here.written == 32
    assert read_results(tmp_path / "here.parquet").equals(read_results(tmp_path / "there.parquet"))


def test_worker_threads_scan_the_universe_as_in_process(tmp_path):
    universe = synthetic_universe(tmp_path / "u", count=30, bars=300, per_file=8)
    config = ATCConfig(ema_len=21)
    here = run_scan(universe, config, "both", InProcess()).table
    with open_engine("local:2", processes=False) as engine:
        assert engine.description == "LocalCluster, 2 worker threads"
        there = run_scan(universe, config, "both", engine).table
    assert len(here) == 30 and here.equals(there)


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path):
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9 "
                                           r"within 1 s .*is dask-scheduler running there"):
        open_engine("127.0.0.1:9", connect_timeout=1)


def test_the_cli_says_so_in_one_line_and_writes_nothing(universe, grid_file, tmp_path):
    out = tmp_path / "o.parquet"
    done = subprocess.run([sys.executable, "-m", "core.cli", "sweep", "--universe",
                           str(tmp_path / "universe"), "--grid", str(grid_file), "-o", str(out),
                           "--cluster", "127.0.0.1:9", "--connect-timeout", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("atc: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert not out.exists()


def test_cluster_specs():
    assert parse_cluster(None) == ("inprocess", None)
    assert parse_cluster("local") == ("local", None)
    assert parse_cluster("local:3") == ("local", 3)
    assert parse_cluster("sched.lan:8786") == ("address", "tcp://sched.lan:8786")
    assert parse_cluster("tls://10.0.0.5:8786") == ("address", "tls://10.0.0.5:8786")
    with pytest.raises(ATCInputError, match="write local or local:N"):
        parse_cluster("locale")
    with pytest.raises(ATCInputError, match="worker count must be 1 … 512"):
        parse_cluster("local:0")
