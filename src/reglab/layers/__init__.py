"""Stochastic layers and model surgery (catalog family E)."""

from reglab.layers.drop_path import DropPath, Residual, stochastic_depth_rates
from reglab.layers.dropout_schedule import DropoutSchedule
from reglab.layers.fractal_join import FractalJoin
from reglab.layers.ghost_batchnorm import GhostBatchNorm, apply_ghost_batchnorm
from reglab.layers.half_finetuning import apply_half_finetuning, unfreeze
from reglab.layers.large_dropout import LargeDropout, apply_large_dropout
from reglab.layers.mixout import Mixout, MixoutMask, MixoutTarget, apply_mixout
from reglab.layers.rnn_dropout import RNNDropout, apply_rnn_dropout
from reglab.layers.weight_compander import (
    WeightCompander,
    apply_weight_compander,
    remove_weight_compander,
)
from reglab.layers.multi_sample_dropout import (
    MultiSampleDropout,
    apply_multi_sample_dropout,
    multi_sample_loss,
)

__all__ = [
    "WeightCompander", "apply_weight_compander", "remove_weight_compander",
    "DropPath", "DropoutSchedule", "FractalJoin", "LargeDropout", "Mixout", "MixoutMask",
    "MixoutTarget",
    "MultiSampleDropout", "Residual", "apply_large_dropout", "apply_mixout",
    "apply_multi_sample_dropout", "multi_sample_loss", "stochastic_depth_rates",
    "apply_half_finetuning", "unfreeze",
    "GhostBatchNorm", "apply_ghost_batchnorm", "RNNDropout", "apply_rnn_dropout",
]
