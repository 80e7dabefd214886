"""Pure functions of the optim package, re-exported by ``reglab.functional``."""

__all__: list[str] = []
