"""Where runs execute: a local process pool (default) or a Ray cluster.

A backend's ``map(configs, cache_dir, claim)`` yields ``(config, result)`` pairs as runs finish,
in any order; the caller writes each to the store at once. ``claim(config)`` is asked right
before a run starts (false: skip it, another sweep has it), so the local backend claims no more
runs than it has workers busy. Both execute the same function, ``reglab.bench.train.execute``,
with one thread per run, so they give the same numbers.

``LocalBackend(workers=1)`` runs in this process. With more workers it uses a ``spawn`` process
pool; Ctrl-C terminates the workers (their unfinished runs are dropped), and a worker whose
parent died (killed) exits at once, quietly. ``RayBackend`` needs the optional extra
(``pip install 'reglab[ray]'``); it claims all its runs before submitting them; with no
``address`` it starts a local Ray instance with ``workers`` CPUs, otherwise it connects to the
cluster at ``address`` (every node needs reglab installed).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from reglab._core.validation import check_int
from reglab.bench.runs import RunConfig
from reglab.bench.train import RunResult, execute

Claim = Callable[[RunConfig], bool]


def _execute_plain(config: dict[str, Any], cache_dir: str | None) -> RunResult:
    return execute(RunConfig.from_dict(config), cache_dir)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)  # the sweep was killed: drop the run quietly (no result can be delivered)


class _SilentWhenOrphaned:
    """A worker's stderr that drops what is written once the parent died: a run finishing just
    after the sweep was killed fails to send its result (BrokenPipe), and that is expected."""

    def __init__(self, stream: Any, parent: int) -> None:
        self._stream, self._parent = stream, parent

    def write(self, text: str) -> int:
        return len(text) if os.getppid() != self._parent else self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    parent = os.getppid()
    sys.stderr = _SilentWhenOrphaned(sys.stderr, parent)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _start_quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker, unless running, told not to warn about leaked
    semaphores: if this process is killed, it still removes the pool's semaphores, quietly."""
    from multiprocessing import resource_tracker

    option = "ignore:resource_tracker:UserWarning"
    sys.warnoptions.append(option)  # the tracker process is started with these -W options
    try:
        resource_tracker.ensure_running()
    finally:
        sys.warnoptions.remove(option)


def _execute_packed(config: dict[str, Any], cache_dir: str | None) -> tuple[str, RunResult]:
    return RunConfig.from_dict(config).key, _execute_plain(config, cache_dir)


class LocalBackend:
    """Runs in this process (``workers=1``) or in a pool of ``workers`` processes."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = check_int("--workers", workers, low=1)

    def map(
        self, configs: Sequence[RunConfig], cache_dir: str | None, claim: Claim | None = None
    ) -> Iterator[tuple[RunConfig, RunResult]]:
        claim = claim or (lambda config: True)
        if self.workers == 1 or len(configs) <= 1:
            for config in configs:
                if claim(config):
                    yield config, execute(config, cache_dir)
            return
        by_key = {c.key: c for c in configs}
        waiting = list(reversed(configs))  # pop() takes them in the given order
        done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        ctx = multiprocessing.get_context("spawn")
        _start_quiet_resource_tracker()
        pool = ctx.Pool(min(self.workers, len(configs)), initializer=_init_worker)
        try:
            busy = 0
            while True:
                while busy < self.workers and waiting:
                    config = waiting.pop()
                    if claim(config):
                        pool.apply_async(
                            _execute_packed,
                            (config.to_dict(), cache_dir),
                            callback=done.put,
                            error_callback=done.put,
                        )
                        busy += 1
                if busy == 0:
                    break
                try:  # wait with a timeout: a blocking wait would not see Ctrl-C
                    out = done.get(timeout=0.2)
                except queue.Empty:
                    continue
                busy -= 1
                if isinstance(out, BaseException):
                    raise out
                key, result = out
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
        self, configs: Sequence[RunConfig], cache_dir: str | None, claim: Claim | None = None
    ) -> Iterator[tuple[RunConfig, RunResult]]:
        try:
            import ray
        except ModuleNotFoundError:
            raise ValueError("--backend ray needs Ray: pip install 'reglab[ray]'") from None
        configs = [c for c in configs if claim is None or claim(c)]
        if not configs:
            return
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
