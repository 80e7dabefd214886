"""Parameter penalties (catalog family A): modules whose ``forward()`` returns a scalar to add to the loss."""

from reglab.penalties.l2 import L2

__all__ = ["L2"]
