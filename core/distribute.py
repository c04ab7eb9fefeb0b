"""Where the tasks of a scan or sweep run: in this process, or on Dask distributed.

``cluster`` as the CLI and the app take it:

* ``None``: in this process, one task after the other (each backend call already uses
  every core); Dask is not even imported.
* ``"local"`` / ``"local:N"``: a ``LocalCluster`` of N worker processes (default: one per
  core) with one thread each, started for the run and stopped after it.
* an address (``tcp://host:8786``, ``host:8786``): an existing scheduler, e.g. one started
  with ``dask-scheduler`` and fed by ``dask-worker``s on other machines.

Every task is a plain function of picklable arguments; a task that raises becomes an
:class:`Outcome` with the reason and the run goes on. Dask recomputes a lost worker's
tasks elsewhere; a task that kills several workers in a row ends as a failure
(``KilledWorker``) instead of being retried forever.
"""
from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from core.errors import ATCError, ATCInputError

#: Seconds to wait for a scheduler before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10.0
_LOCAL = re.compile(r"local(?::(\d+))?")


class ClusterError(ATCError):
    """The Dask scheduler could not be reached or started."""


@dataclass(frozen=True)
class Outcome:
    """A finished task: its index in the submitted list, its value or why it failed."""

    index: int
    value: Any = None
    error: str | None = None


def _task_error(exc: BaseException) -> str:
    """The reason line of a failed task (the exception's own message for the project's
    errors, the type and message otherwise)."""
    if isinstance(exc, ATCError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class InProcess:
    """Runs the tasks here, in order."""

    dashboard_link: str | None = None
    description = "in-process"

    @property
    def workers(self) -> int:
        return 1

    def run(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Outcome]:
        for i, task in enumerate(tasks):
            try:
                value = fn(task)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # noqa: BLE001 - reported per task, the run goes on
                yield Outcome(i, error=_task_error(exc))
                continue
            yield Outcome(i, value)

    def close(self) -> None:
        pass

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskEngine:
    """Runs the tasks on a Dask cluster through a ``distributed.Client``."""

    def __init__(self, client: Any, cluster: Any | None, description: str) -> None:
        self.client = client
        self._cluster = cluster
        self.description = description

    @property
    def dashboard_link(self) -> str | None:
        try:
            services = self.client.scheduler_info().get("services", {})
        except Exception:  # noqa: BLE001 - only a display
            return None
        return self.client.dashboard_link if "dashboard" in services else None

    @property
    def workers(self) -> int:
        try:
            return len(self.client.scheduler_info().get("workers", {}))
        except Exception:  # noqa: BLE001
            return 0

    def run(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Outcome]:
        from distributed import as_completed

        futures = [self.client.submit(fn, task, pure=False) for task in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            # distributed leaves as_completed unannotated (without it installed: unused).
            for future in as_completed(futures):  # type: ignore[no-untyped-call, unused-ignore]
                i = index[future.key]
                if future.status == "error":
                    yield Outcome(i, error=_task_error(future.exception()))
                elif future.status == "cancelled":
                    yield Outcome(i, error="cancelled (the scheduler or its workers went away)")
                else:
                    try:
                        value = future.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. lost while fetching
                        yield Outcome(i, error=_task_error(exc))
                    else:
                        yield Outcome(i, value)
                future.release()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Engine = InProcess | DaskEngine


def parse_cluster(spec: str | None) -> tuple[str, int | str | None]:
    """("inprocess", None), ("local", workers or None) or ("address", address)."""
    if spec is None or spec.strip() in ("", "inprocess", "in-process"):
        return "inprocess", None
    text = spec.strip()
    m = _LOCAL.fullmatch(text)
    if m:
        n = int(m.group(1)) if m.group(1) else None
        if n is not None and not 1 <= n <= 512:
            raise ATCInputError(f"--cluster {text}: the worker count must be 1 … 512", field="cluster")
        return "local", n
    if text.startswith("local"):
        raise ATCInputError(f"--cluster {text!r}: write local or local:N (N workers)", field="cluster")
    return "address", text if "://" in text else f"tcp://{text}"


def open_engine(spec: str | None, *, processes: bool = True,
                connect_timeout: float = CONNECT_TIMEOUT_S) -> Engine:
    """The engine for ``spec`` (see the module docstring); close it (or use ``with``)."""
    kind, arg = parse_cluster(spec)
    if kind == "inprocess":
        return InProcess()
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ATCInputError("--cluster needs Dask distributed: pip install 'atc-desktop[scale]'",
                            field="cluster") from None
    if kind == "local":
        n = int(arg) if arg else max(os.cpu_count() or 1, 1)
        try:
            # One thread per worker, and one for each worker's kernels: N workers fill N
            # cores with whole tasks, which wastes less than splitting each call.
            # distributed leaves LocalCluster and Client unannotated (without it: unused).
            cluster = LocalCluster(  # type: ignore[no-untyped-call, unused-ignore]
                n_workers=n, threads_per_worker=1, processes=processes,
                dashboard_address="127.0.0.1:0", host="127.0.0.1", protocol="tcp://",
                **({"env": _single_thread_env()} if processes else {}))
            client = Client(cluster)  # type: ignore[no-untyped-call, unused-ignore]
        except Exception as exc:  # noqa: BLE001
            raise ClusterError(f"could not start a local Dask cluster: {type(exc).__name__}: {exc}") from None
        kind_text = "processes" if processes else "threads"
        return DaskEngine(client, cluster, f"LocalCluster, {n} worker {kind_text}")
    address = str(arg)
    try:
        # distributed leaves Client unannotated (without it installed: unused).
        client = Client(address, timeout=connect_timeout)  # type: ignore[no-untyped-call, unused-ignore]
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, a bad address
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within "
                           f"{connect_timeout:g} s ({type(exc).__name__}: {_first_line(exc)}); "
                           "is dask-scheduler running there and the port open?") from None
    return DaskEngine(client, None, f"scheduler {address}")


def _single_thread_env() -> dict[str, str]:
    return {"RAYON_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _first_line(exc: BaseException) -> str:
    text = str(exc) or "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
