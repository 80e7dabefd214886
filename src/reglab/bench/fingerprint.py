"""The fingerprint of the code that makes a run's numbers: a stored run made by other code is stale.

It is the package version and a sha256 of the package's ``*.py`` files, leaving out the modules
that cannot change a run's numbers (command line, display, storage, scheduling, integrations).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

# Modules that cannot change a run's numbers (command line, display, storage, scheduling):
# editing them does not make stored runs stale.
_NOT_IN_FINGERPRINT = frozenset(
    {
        "_cli",
        "integrations",
        "bench/cli.py",
        "bench/_console.py",
        "bench/report.py",
        "bench/plots.py",
        "bench/claims.py",
        "bench/claim_kinds.py",
        "bench/claim_spec.py",
        "bench/claim_check_parsing.py",
        "bench/claim_parsing.py",
        "bench/claim_verdicts.py",
        "bench/claim_results.py",
        "bench/stats.py",
        "bench/store.py",
        "bench/sweep.py",
        "bench/backends.py",
        "bench/timing.py",
        "bench/cli_tune.py",
    }
)


def source_fingerprint(root: Path, version: str) -> str:
    """``version`` + a sha256 of the ``*.py`` files under ``root`` (paths and contents, sorted)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in _NOT_IN_FINGERPRINT or rel.split("/", 1)[0] in _NOT_IN_FINGERPRINT:
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{version}+{digest.hexdigest()[:16]}"


@functools.cache
def code_fingerprint() -> str:
    """The fingerprint of the installed reglab (computed once per process)."""
    import reglab

    return source_fingerprint(Path(reglab.__file__).parent, reglab.__version__)
