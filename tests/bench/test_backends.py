import sqlite3

import pytest
from bench_helpers import tiny

from reglab.bench.backends import LocalBackend, RayBackend, make_backend
from reglab.bench.store import Store
from reglab.bench.sweep import run_sweep


def rows(path):
    db = sqlite3.connect(path)
    out = (
        sorted(db.execute("SELECT key, status, metrics FROM runs")),
        sorted(db.execute("SELECT * FROM curves")),
    )
    db.close()
    return out


@pytest.mark.slow  # starting Ray and its workers takes ~15 s on 2 cores
def test_ray_backend_gives_the_rows_of_the_local_backend(tmp_path):
    """A 4-run sweep on a local Ray instance (2 CPUs) stores the rows the local backend stores."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'reglab[ray]')")
    todo = [tiny(recipe, seed=s) for recipe in ("none", "l2") for s in range(2)]  # a 4-run sweep
    with Store(tmp_path / "local.db") as store:
        run_sweep(todo, store, LocalBackend(1))
    with Store(tmp_path / "ray.db") as store:
        summary = run_sweep(todo, store, RayBackend(workers=2))
    assert summary.ran == 4 and not ray.is_initialized()  # the instance it started is shut down
    assert rows(tmp_path / "ray.db") == rows(tmp_path / "local.db")


def test_backend_choice_is_checked():
    assert isinstance(make_backend("local", 2, None), LocalBackend)
    with pytest.raises(ValueError, match="--address applies to --backend ray only"):
        make_backend("local", 2, "ray://x:10001")
    with pytest.raises(ValueError, match="--workers must be >= 1"):
        make_backend("ray", 0, None)
