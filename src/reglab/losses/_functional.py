"""Pure functions of the losses package, re-exported by ``reglab.functional``."""

__all__: list[str] = []
