"""Pure functions of the activity package, re-exported by ``reglab.functional``."""

from reglab.activity.activation_l1 import activation_l1
from reglab.activity.coding_rate import coding_rate
from reglab.activity.flops import flops
from reglab.activity.isotropy import isoscore
from reglab.activity.jacobian_norm import jacobian_frobenius
from reglab.activity.kurtosis import kurtosis
from reglab.activity.least_volume import least_volume
from reglab.activity.vne import vne

__all__ = [
    "activation_l1", "coding_rate", "flops", "isoscore", "jacobian_frobenius", "kurtosis",
    "least_volume", "vne",
]
