"""Pure functions of the optim package, re-exported by ``reglab.functional``."""

from reglab.optim.amp import amp_ascent
from reglab.optim.clip_grad_norm import clip_by_global_norm
from reglab.optim.decoupled_weight_decay import decoupled_weight_decay_
from reglab.optim.gradient_norm import finite_difference_penalty_gradient
from reglab.optim.perpgrad import perpendicular_gradient
from reglab.optim.proximal_l1 import soft_threshold_
from reglab.optim.sam import sam_perturbation

__all__ = [
    "decoupled_weight_decay_", "soft_threshold_",
    "amp_ascent", "clip_by_global_norm", "finite_difference_penalty_gradient",
    "perpendicular_gradient", "sam_perturbation",
]
