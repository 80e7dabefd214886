"""Pure tensor functions behind reglab's methods: the math, testable alone.

Each class in reglab is a thin holder of hyperparameters and state around one of these; each
package lists its own in ``_functional.py``.
"""

from reglab.activity import _functional as _activity
from reglab.activity._functional import *  # noqa: F403
from reglab.data import _functional as _data
from reglab.data._functional import *  # noqa: F403
from reglab.layers import _functional as _layers
from reglab.layers._functional import *  # noqa: F403
from reglab.losses import _functional as _losses
from reglab.losses._functional import *  # noqa: F403
from reglab.metrics import _functional as _metrics
from reglab.metrics._functional import *  # noqa: F403
from reglab.optim import _functional as _optim
from reglab.optim._functional import *  # noqa: F403
from reglab.penalties import _functional as _penalties
from reglab.penalties._functional import *  # noqa: F403

__all__ = [*_penalties.__all__, *_data.__all__, *_losses.__all__, *_layers.__all__,
           *_optim.__all__, *_metrics.__all__, *_activity.__all__]
