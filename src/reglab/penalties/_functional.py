"""Pure functions of the penalties package, re-exported by ``reglab.functional``."""

from reglab.penalties.l2 import l2

__all__ = ["l2"]
