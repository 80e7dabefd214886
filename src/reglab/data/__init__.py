"""Batch transforms (catalog family C): modules (x, y) -> (x, soft targets)."""

from reglab.data.cutmix import CutMix
from reglab.data.cutout import Cutout
from reglab.data.input_noise import InputNoise
from reglab.data.label_smoothing import LabelSmoothing
from reglab.data.mixup import Mixup

__all__ = ["CutMix", "Cutout", "InputNoise", "LabelSmoothing", "Mixup"]
