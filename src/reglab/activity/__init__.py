"""Activity and representation penalties (catalog family B): forward hooks on named modules.

Each penalty hooks the modules it is given by name and returns its value from ``forward()``,
like a parameter penalty: ``loss = task_loss + pen()``. See ``reglab.activity._base`` for the
shared behaviour (eval mode, hook removal, distributed batch statistics).
"""

from reglab.activity._base import ActivityPenalty, Site
from reglab.activity._functional import (
    activation_l1,
    coding_rate,
    flops,
    isoscore,
    jacobian_frobenius,
    kurtosis,
    least_volume,
    vne,
)
from reglab.activity.activation_l1 import ActivationL1
from reglab.activity.coding_rate import CodingRate
from reglab.activity.flops import FLOPS, QuadraticWarmup, quadratic_warmup
from reglab.activity.isotropy import Isotropy
from reglab.activity.jacobian_norm import JacobianNorm
from reglab.activity.kurtosis import Kurtosis
from reglab.activity.least_volume import LeastVolume
from reglab.activity.vne import VNE

__all__ = [
    "FLOPS",
    "VNE",
    "ActivationL1",
    "ActivityPenalty",
    "CodingRate",
    "Isotropy",
    "JacobianNorm",
    "Kurtosis",
    "LeastVolume",
    "QuadraticWarmup",
    "Site",
    "activation_l1",
    "coding_rate",
    "flops",
    "isoscore",
    "jacobian_frobenius",
    "kurtosis",
    "least_volume",
    "quadratic_warmup",
    "vne",
]
