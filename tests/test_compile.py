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


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_equals_eager_with_gradients(name):
    fn, args = CASES[name]
    leaves = [a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point()
              else [t.detach().clone().requires_grad_(True) for t in a] if isinstance(a, list) else a
              for a in args]
    twins = [[t.detach().clone().requires_grad_(True) for t in a] if isinstance(a, list)
             else a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point()
             else a for a in leaves]
    torch._dynamo.reset()
    compiled = torch.compile(fn, backend="aot_eager", fullgraph=False)
    expected, got = fn(*leaves), compiled(*twins)
    first = lambda out: out[0] if isinstance(out, tuple) else out  # noqa: E731
    torch.testing.assert_close(got, expected)
    first(expected).sum().backward()
    first(got).sum().backward()
    flat = lambda xs: [t for a in xs for t in (a if isinstance(a, list) else [a])  # noqa: E731
                       if isinstance(t, torch.Tensor) and t.requires_grad]
    grad = lambda t: torch.zeros_like(t) if t.grad is None else t.grad  # noqa: E731  (no path = 0)
    for a, b in zip(flat(leaves), flat(twins)):
        torch.testing.assert_close(grad(b), grad(a))
