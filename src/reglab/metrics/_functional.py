"""Pure functions of the metrics package, re-exported by ``reglab.functional``."""

__all__: list[str] = []
