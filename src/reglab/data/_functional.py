"""Pure functions of the data package, re-exported by ``reglab.functional``."""

__all__: list[str] = []
