"""Where runs execute: a local process pool (default) or a Ray cluster.

A backend's ``map(configs, cache_dir)`` yields ``(config, result)`` pairs as runs finish, in
any order; the caller writes each to the store at once. Both execute the same function,
``reglab.bench.train.execute``, with one thread per run, so they give the same numbers.

``LocalBackend(workers=1)`` runs in this process. With more workers it uses a ``spawn`` process
pool; Ctrl-C terminates the workers (their unfinished runs are dropped). ``RayBackend`` needs
the optional extra (``pip install 'reglab[ray]'``); with no ``address`` it starts a local Ray
instance with ``workers`` CPUs, otherwise it connects to the cluster at ``address`` (every node
needs reglab installed).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator, Sequence
from typing import Any

from reglab._core.validation import check_int
from reglab.bench.runs import RunConfig
from reglab.bench.train import RunResult, execute


def _execute_plain(config: dict[str, Any], cache_dir: str | None) -> RunResult:
    return execute(RunConfig.from_dict(config), cache_dir)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool


def _execute_packed(args: tuple[dict[str, Any], str | None]) -> tuple[str, RunResult]:
    config, cache_dir = args
    return RunConfig.from_dict(config).key, _execute_plain(config, cache_dir)


class LocalBackend:
    """Runs in this process (``workers=1``) or in a pool of ``workers`` processes."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = check_int("--workers", workers, low=1)

    def map(
        self, configs: Sequence[RunConfig], cache_dir: str | None
    ) -> Iterator[tuple[RunConfig, RunResult]]:
        if self.workers == 1 or len(configs) <= 1:
            for config in configs:
                yield config, execute(config, cache_dir)
            return
        by_key = {c.key: c for c in configs}
        ctx = multiprocessing.get_context("spawn")
        pool = ctx.Pool(min(self.workers, len(configs)), initializer=_ignore_sigint)
        try:
            results = pool.imap_unordered(
                _execute_packed, [(c.to_dict(), cache_dir) for c in configs]
            )
            for _ in configs:
                while True:  # wait with a timeout: a blocking wait would not see Ctrl-C
                    try:
                        key, result = results.next(timeout=0.2)
                        break
                    except multiprocessing.TimeoutError:
                        continue
                yield by_key[key], result
            pool.close()
        finally:
            pool.terminate()  # after close() this only reaps; on an error or Ctrl-C it stops the runs
            pool.join()


class RayBackend:
    """Runs as Ray tasks of one CPU each, locally (``address=None``) or on a cluster."""

    name = "ray"

    def __init__(self, workers: int = 1, address: str | None = None) -> None:
        self.workers = check_int("--workers", workers, low=1)
        self.address = address

    def map(
        self, configs: Sequence[RunConfig], cache_dir: str | None
    ) -> Iterator[tuple[RunConfig, RunResult]]:
        try:
            import ray
        except ModuleNotFoundError:
            raise ValueError("--backend ray needs Ray: pip install 'reglab[ray]'") from None
        started = not ray.is_initialized()
        if started:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is None:
                kwargs["num_cpus"] = self.workers
            ray.init(address=self.address, **kwargs)
        remote = ray.remote(num_cpus=1)(_execute_plain)
        pending = {remote.remote(c.to_dict(), cache_dir): c for c in configs}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()


def make_backend(name: str, workers: int, address: str | None) -> LocalBackend | RayBackend:
    if name == "local":
        if address is not None:
            raise ValueError("--address applies to --backend ray only")
        return LocalBackend(workers)
    if name == "ray":
        return RayBackend(workers, address)
    raise ValueError(f"--backend must be 'local' or 'ray', got {name!r}")
