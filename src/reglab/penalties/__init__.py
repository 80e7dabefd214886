"""Parameter penalties (catalog family A): modules whose ``forward()`` returns a scalar to add to the loss."""

from reglab.penalties.elastic_net import ElasticNet
from reglab.penalties.group_envelope import GroupEnvelope
from reglab.penalties.group_lasso import GroupBy, GroupLasso
from reglab.penalties.group_orthogonal import GroupOrthogonal
from reglab.penalties.hyperspherical_energy import HypersphericalEnergy
from reglab.penalties.l1 import L1
from reglab.penalties.l2 import L2
from reglab.penalties.l2_init import L2Init
from reglab.penalties.l2_sp import L2SP
from reglab.penalties.norm_loss import NormLoss
from reglab.penalties.nuclear import Nuclear
from reglab.penalties.offdiag_orthogonal import OffDiagonalOrthogonal
from reglab.penalties.soft_orthogonal import SoftOrthogonal
from reglab.penalties.spectral import Spectral
from reglab.penalties.path_importance import PathIntegralImportance
from reglab.penalties.wasserstein_init import WassersteinInit
from reglab.penalties.weighted_anchor import (
    LayerWeights,
    WeightedAnchor,
    squared_gradient_importance,
)

__all__ = [
    "GroupBy", "GroupEnvelope", "GroupLasso", "HypersphericalEnergy", "NormLoss",
    "ElasticNet", "GroupOrthogonal", "L1", "L2", "L2Init", "L2SP", "Nuclear",
    "OffDiagonalOrthogonal", "SoftOrthogonal", "Spectral", "WassersteinInit",
    "LayerWeights", "PathIntegralImportance", "WeightedAnchor", "squared_gradient_importance",
]
