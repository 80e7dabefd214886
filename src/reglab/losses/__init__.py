"""Regularizing losses (catalog family D): loss modules like nn.CrossEntropyLoss."""

from reglab.losses.acls import ACLS
from reglab.losses.confidence_penalty import ConfidencePenalty
from reglab.losses.elle import ELLE
from reglab.losses.elr import ELR
from reglab.losses.pskd import PSKD
from reglab.losses.smart import SMART
from reglab.losses.soft_cross_entropy import soft_cross_entropy
from reglab.losses.stablemax import StableMaxCrossEntropy
from reglab.losses.z_loss import ZLoss

__all__ = [
    "ACLS",
    "ConfidencePenalty",
    "ELLE",
    "ELR",
    "PSKD",
    "SMART",
    "StableMaxCrossEntropy",
    "ZLoss",
    "soft_cross_entropy",
]
