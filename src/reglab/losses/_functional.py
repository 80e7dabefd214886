"""Pure functions of the losses package, re-exported by ``reglab.functional``."""

from reglab.losses.acls import acls_penalty
from reglab.losses.confidence_penalty import confidence_penalty
from reglab.losses.elle import elle_points, local_linearity_error
from reglab.losses.elr import elr_loss, elr_targets
from reglab.losses.pskd import pskd_targets
from reglab.losses.smart import ema_update_, smart_ascent, symmetric_kl
from reglab.losses.soft_cross_entropy import soft_cross_entropy
from reglab.losses.stablemax import log_stablemax, stablemax, stablemax_cross_entropy
from reglab.losses.z_loss import z_loss

__all__ = [
    "acls_penalty",
    "confidence_penalty",
    "elle_points",
    "ema_update_",
    "elr_loss",
    "elr_targets",
    "local_linearity_error",
    "log_stablemax",
    "pskd_targets",
    "smart_ascent",
    "soft_cross_entropy",
    "stablemax",
    "stablemax_cross_entropy",
    "symmetric_kl",
    "z_loss",
]
