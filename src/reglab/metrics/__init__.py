"""Diagnostics (catalog family I): pure functions on tensors or a model.

``effective_rank`` (RankMe), ``sharpness`` (top Hessian eigenvalue), ``hessian_trace``
(Hutchinson) and ``ece`` (expected calibration error). They are metrics, not training-step
methods: call them on a model or its outputs outside the step.
"""

from reglab.metrics.ece import ece
from reglab.metrics.effective_rank import effective_rank
from reglab.metrics.hessian_trace import hessian_trace
from reglab.metrics.neural_collapse import neural_collapse
from reglab.metrics.plasticity import plasticity_stats
from reglab.metrics.sharpness import sharpness

__all__ = ["ece", "effective_rank", "hessian_trace", "neural_collapse", "plasticity_stats", "sharpness"]
