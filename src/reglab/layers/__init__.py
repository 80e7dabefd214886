"""Stochastic layers and model surgery (catalog family E)."""

from reglab.layers.drop_path import DropPath, Residual, stochastic_depth_rates
from reglab.layers.dropout_schedule import DropoutSchedule
from reglab.layers.fractal_join import FractalJoin
from reglab.layers.large_dropout import LargeDropout, apply_large_dropout
from reglab.layers.mixout import Mixout, MixoutTarget, apply_mixout
from reglab.layers.multi_sample_dropout import (
    MultiSampleDropout,
    apply_multi_sample_dropout,
    multi_sample_loss,
)

__all__ = [
    "DropPath", "DropoutSchedule", "FractalJoin", "LargeDropout", "Mixout", "MixoutTarget",
    "MultiSampleDropout", "Residual", "apply_large_dropout", "apply_mixout",
    "apply_multi_sample_dropout", "multi_sample_loss", "stochastic_depth_rates",
]
