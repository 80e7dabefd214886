"""The fused foreach norms equal per-tensor loops, forward and backward, and twice differentiable."""

import pytest
import torch

from reglab.penalties._foreach import elementwise_norms

SHAPES = [(3, 4), (7,), (2, 3, 5), (1,), (4, 1, 3, 3)]


def tensors(seed=0, shapes=SHAPES):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


def loop(params, l1, l2):
    total = torch.zeros((), dtype=torch.float64)
    for p in params:
        total = total + l1 * p.abs().sum() + l2 * 0.5 * (p * p).sum()
    return total


@pytest.mark.parametrize("l1,l2", [(1.0, 0.0), (0.0, 1.0), (0.3, 0.7), (2.5, 0.0), (0.0, 0.4)])
def test_value_and_gradient_equal_the_per_tensor_loop(l1, l2):
    a, b = tensors(), tensors()
    fast, slow = elementwise_norms(a, l1, l2), loop(b, l1, l2)
    torch.testing.assert_close(fast, slow, rtol=1e-13, atol=0)
    (3.0 * fast).backward()
    (3.0 * slow).backward()
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-13, atol=0)


def test_one_hundred_tensors_equal_the_loop():
    shapes = [(8 + i % 5, 3 + i % 7) for i in range(100)]
    a, b = tensors(1, shapes), tensors(1, shapes)
    torch.testing.assert_close(elementwise_norms(a, 0.2, 0.8), loop(b, 0.2, 0.8), rtol=1e-12, atol=0)


@pytest.mark.parametrize("l1,l2", [(1.0, 0.0), (0.0, 1.0), (0.3, 0.7)])
def test_gradcheck_and_double_backward(l1, l2):
    x, y = tensors()[:2]
    fn = lambda u, v: elementwise_norms([u, v], l1, l2)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, y))
    assert torch.autograd.gradgradcheck(fn, (x, y))


def test_mixed_dtypes_promote_and_keep_gradient_dtypes():
    a = torch.randn(3, 3, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    out = elementwise_norms([a, b], 0.5, 0.5)
    out.backward()
    assert out.dtype == torch.float64 and a.grad.dtype == torch.float32


def test_bad_weights_raise():
    with pytest.raises(ValueError, match="not both 0"):
        elementwise_norms(tensors(), 0.0, 0.0)
    with pytest.raises(ValueError, match="at least one tensor"):
        elementwise_norms([], 1.0, 0.0)


@pytest.mark.parametrize("dot_max", [0, 100], ids=["foreach-norm", "dot-per-tensor"])
@pytest.mark.parametrize("l1,l2", [(1.0, 0.0), (0.3, 0.7)])
def test_both_l1_value_paths_equal_the_loop(monkeypatch, dot_max, l1, l2):
    import reglab.penalties._foreach as fe

    monkeypatch.setattr(fe, "DOT_MAX_TENSORS", dot_max)
    a, b = tensors(), tensors()
    fast, slow = elementwise_norms(a, l1, l2), loop(b, l1, l2)
    torch.testing.assert_close(fast, slow, rtol=1e-13, atol=0)
    fast.backward()  # upstream gradient 1 with l1 = 1: the kept signs are returned as they are
    slow.backward()
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-13, atol=0)


def test_sum_of_squares_without_foreach_powsum_equals_the_loop(monkeypatch):
    import reglab.penalties._foreach as fe

    monkeypatch.setattr(fe, "_POWSUM", None)  # torch versions before _foreach_powsum
    a, b = tensors(), tensors()
    torch.testing.assert_close(elementwise_norms(a, 0.0, 0.6), loop(b, 0.0, 0.6), rtol=1e-13, atol=0)


@pytest.mark.parametrize("l1,l2", [(1.0, 0.0), (0.3, 0.7), (0.0, 1.0)])
def test_second_backward_with_retain_graph_recomputes_the_signs(l1, l2):
    a, b = tensors(), tensors()
    fast, slow = elementwise_norms(a, l1, l2), loop(b, l1, l2)
    for _ in range(2):  # the first backward scales the kept signs in place; the second recomputes
        (2.0 * fast).backward(retain_graph=True)
        (2.0 * slow).backward(retain_graph=True)
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-13, atol=0)


def test_backward_leaves_the_parameters_unchanged():
    a = tensors()
    before = [p.detach().clone() for p in a]
    elementwise_norms(a, 0.4, 0.6).backward()
    assert all(torch.equal(p, q) for p, q in zip(a, before))
