"""Pure functions of the penalties package, re-exported by ``reglab.functional``."""

from reglab.penalties._anchor import l2_anchor
from reglab.penalties.elastic_net import elastic_net
from reglab.penalties.group_envelope import group_envelope, group_envelope_prox_, sparse_envelope
from reglab.penalties.group_lasso import block_soft_threshold_, group_lasso, group_norms
from reglab.penalties.group_orthogonal import group_orthogonal
from reglab.penalties.hyperspherical_energy import hyperspherical_energy
from reglab.penalties.l1 import l1
from reglab.penalties.l2 import l2
from reglab.penalties.norm_loss import norm_loss
from reglab.penalties.nuclear import nuclear
from reglab.penalties.offdiag_orthogonal import offdiag_orthogonal
from reglab.penalties.soft_orthogonal import soft_orthogonal
from reglab.penalties.spectral import power_iteration_, spectral

__all__ = [
    "block_soft_threshold_", "group_envelope", "group_envelope_prox_", "group_lasso", "group_norms", "hyperspherical_energy", "norm_loss",
    "elastic_net", "group_orthogonal", "l1", "l2", "l2_anchor", "nuclear", "offdiag_orthogonal",
    "power_iteration_", "soft_orthogonal", "sparse_envelope", "spectral",
]
