"""Pure functions of the penalties package, re-exported by ``reglab.functional``."""

from reglab.penalties._anchor import l2_anchor
from reglab.penalties.elastic_net import elastic_net
from reglab.penalties.group_orthogonal import group_orthogonal
from reglab.penalties.l1 import l1
from reglab.penalties.l2 import l2
from reglab.penalties.nuclear import nuclear
from reglab.penalties.offdiag_orthogonal import offdiag_orthogonal
from reglab.penalties.soft_orthogonal import soft_orthogonal
from reglab.penalties.spectral import power_iteration_, spectral

__all__ = [
    "elastic_net", "group_orthogonal", "l1", "l2", "l2_anchor", "nuclear", "offdiag_orthogonal",
    "power_iteration_", "soft_orthogonal", "spectral",
]
