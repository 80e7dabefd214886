"""Cross-entropy against integer labels or soft targets: the loss for the batch transforms' output.

Equation::

    ℓ_i = − Σ_k t_ik log softmax(z_i)_k        (soft targets t_i, rows summing to 1)
    ℓ_i = − log softmax(z_i)_{y_i}             (integer labels y_i)

Not a registered method (it has no paper of its own): a plain helper, like
``F.cross_entropy``, that takes either kind of target so the same loss follows Mixup, CutMix,
label smoothing or no transform at all.

Example:
    >>> import torch, torch.nn.functional as F, reglab as rl
    >>> z, y = torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 2, 1, 2])
    >>> bool(torch.isclose(rl.soft_cross_entropy(z, y), F.cross_entropy(z, y)))
    True
    >>> t = F.one_hot(y, 3).double()
    >>> bool(torch.isclose(rl.soft_cross_entropy(z, t), F.cross_entropy(z, y)))
    True
"""

from __future__ import annotations

import torch

from reglab.losses._common import (
    Reduction,
    check_logits,
    check_targets,
    cross_entropy_from_log_probs,
    reduce,
)


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, reduction: Reduction | str = "mean"
) -> torch.Tensor:
    """Cross-entropy of ``logits`` (..., K) against labels (...) or soft targets (..., K).

    ``reduction`` is "mean" (default, over all examples), "sum" or "none" (shape (...)).
    Soft targets must be probability vectors: a row with NaN, a negative entry or a sum away
    from 1 (beyond 1e-5 in float32, see ``reglab._core.targets``) raises ``ValueError``, since
    it would shift the loss by a multiple of log Z and change its gradient. The check costs one
    reduction and, on an accelerator, one device sync per call.
    """
    check_logits(logits)
    hard = check_targets(logits, targets)
    log_probs = torch.log_softmax(logits, dim=-1)
    return reduce(cross_entropy_from_log_probs(log_probs, targets, hard), reduction)
