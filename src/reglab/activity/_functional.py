"""Pure functions of the activity package, re-exported by ``reglab.functional``."""

from reglab.activity.activation_l1 import activation_l1
from reglab.activity.coding_rate import coding_rate
from reglab.activity.flops import flops
from reglab.activity.jacobian_norm import jacobian_frobenius
from reglab.activity.vne import vne

__all__ = ["activation_l1", "coding_rate", "flops", "jacobian_frobenius", "vne"]
