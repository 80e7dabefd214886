"""Pure functions of the layers package, re-exported by ``reglab.functional``."""

__all__: list[str] = []
