"""Optimizer wrappers and post-step methods (catalog families A's decoupled forms, F and G)."""

from reglab.optim.amp import AMP
from reglab.optim.clip_grad_norm import ClipGradNorm
from reglab.optim.decoupled_weight_decay import DecoupledWeightDecay
from reglab.optim.gradient_norm import GradientNormMethod, GradientNormPenalty
from reglab.optim.perpgrad import PerpGrad, PerpGradProjection
from reglab.optim.proximal_group_lasso import ProximalGroupLasso
from reglab.optim.proximal_l1 import ProximalL1
from reglab.optim.sam import SAM
from reglab.optim.trained_rank_pruning import TrainedRankPruning

__all__ = [
    "ProximalGroupLasso",
    "DecoupledWeightDecay", "ProximalL1",
    "AMP", "ClipGradNorm", "GradientNormMethod", "GradientNormPenalty", "PerpGrad",
    "PerpGradProjection", "SAM", "TrainedRankPruning",
]
