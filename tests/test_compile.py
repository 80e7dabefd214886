"""Pure tensor functions trace under ``torch.compile`` and give the eager result.

The ``aot_eager`` backend runs TorchDynamo and AOTAutograd (graph capture, functionalization,
the backward graph) without compiling C++, so the check stays fast on CPU.
"""

import pytest
import torch

from reglab import functional as RF

g = torch.Generator().manual_seed(0)
W = [torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(3, 6, generator=g, dtype=torch.float64)]
LOGITS = torch.randn(8, 5, generator=g, dtype=torch.float64)
LABELS = torch.randint(0, 5, (8,), generator=g)
X = torch.randn(8, 3, 4, 4, generator=g, dtype=torch.float64)
SOFT = torch.softmax(torch.randn(8, 5, generator=g, dtype=torch.float64), 1)
PERM = torch.randperm(8, generator=g)

CASES = {
    "l2": (RF.l2, (W,)),
    "l1": (RF.l1, (W,)),
    "elastic_net": (RF.elastic_net, (W, 0.3)),
    "soft_orthogonal": (RF.soft_orthogonal, (W,)),
    "offdiag_orthogonal": (RF.offdiag_orthogonal, (W,)),
    "stablemax_cross_entropy": (RF.stablemax_cross_entropy, (LOGITS, LABELS)),
    "soft_cross_entropy": (RF.soft_cross_entropy, (LOGITS, SOFT)),
    "z_loss": (RF.z_loss, (LOGITS,)),
    "confidence_penalty": (RF.confidence_penalty, (LOGITS,)),
    "mixup": (RF.mixup, (X, SOFT, 0.3, PERM)),
    "smooth_labels": (RF.smooth_labels, (SOFT, 0.1)),
}


def leaf(a):
    """A fresh differentiable copy of a float tensor (or of each tensor in a list); else ``a``."""
    if isinstance(a, list):
        return [leaf(t) for t in a]
    if isinstance(a, torch.Tensor) and a.is_floating_point():
        return a.detach().clone().requires_grad_(True)
    return a


def grads(args):
    tensors = [t for a in args for t in (a if isinstance(a, list) else [a])
               if isinstance(t, torch.Tensor) and t.requires_grad]
    return [torch.zeros_like(t) if t.grad is None else t.grad for t in tensors]  # no path: 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_equals_eager_with_gradients(name):
    fn, args = CASES[name]
    eager_args, compiled_args = [leaf(a) for a in args], [leaf(a) for a in args]
    torch._dynamo.reset()
    expected = fn(*eager_args)
    got = torch.compile(fn, backend="aot_eager")(*compiled_args)
    torch.testing.assert_close(got, expected)
    for out in (expected, got):
        (out[0] if isinstance(out, tuple) else out).sum().backward()
    for a, b in zip(grads(eager_args), grads(compiled_args)):
        torch.testing.assert_close(b, a)
