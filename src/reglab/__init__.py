"""reglab: regularization methods from the literature for PyTorch, with a harness that checks their claims.

>>> import reglab as rl
>>> "l2" in rl.available("parameter-penalty")
True
"""

from reglab import functional, schedules
from reglab._core.outputs import SampleOutputs
from reglab._core.recipe import Recipe
from reglab._core.registry import (
    Capabilities,
    Family,
    Kind,
    MethodEntry,
    Paper,
    UnknownNameError,
    available,
    card,
    create,
    register,
)
from reglab._core.registry import get as entry
from reglab._core.selection import Selection, Which, select
from reglab import activity, continual, data, layers, losses, merging, metrics, optim, penalties
from reglab.activity import *  # noqa: F403
from reglab.continual import *  # noqa: F403
from reglab.data import *  # noqa: F403
from reglab.layers import *  # noqa: F403
from reglab.losses import *  # noqa: F403
from reglab.merging import *  # noqa: F403
from reglab.metrics import *  # noqa: F403
from reglab.optim import *  # noqa: F403
from reglab.penalties import *  # noqa: F403
from reglab import tune
from reglab.tune import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    "Capabilities", "Family", "Kind", "MethodEntry", "Paper", "Recipe", "SampleOutputs", "Selection",
    "UnknownNameError", "Which",
    "available", "card", "create", "entry", "functional", "register", "schedules", "select",
    *penalties.__all__, *data.__all__, *losses.__all__, *layers.__all__, *optim.__all__,
    *metrics.__all__, *continual.__all__, *merging.__all__, *activity.__all__,
    *tune.__all__,
]
