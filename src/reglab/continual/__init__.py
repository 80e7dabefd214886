"""Plasticity and forgetting (catalog family G): post-step methods for continual learning.

``ShrinkPerturb`` (w ← s·w + σ·noise after each step or task) and ``ContinualBackprop``
(replace mature, low-utility hidden units). Both are post-step hooks: ``attach(optimizer)`` or
put them in a ``reglab.Recipe``.
"""

from reglab.continual.continual_backprop import ContinualBackprop, Utility
from reglab.continual.shrink_perturb import Every, Noise, ShrinkPerturb, shrink_perturb_

__all__ = ["ContinualBackprop", "Every", "Noise", "ShrinkPerturb", "Utility", "shrink_perturb_"]
