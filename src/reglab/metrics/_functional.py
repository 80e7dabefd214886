"""Pure functions of the metrics package, re-exported by ``reglab.functional``."""

from reglab.metrics.ece import ece
from reglab.metrics.effective_rank import effective_rank
from reglab.metrics.hessian_trace import hessian_trace
from reglab.metrics.sharpness import sharpness

__all__ = ["ece", "effective_rank", "hessian_trace", "sharpness"]
