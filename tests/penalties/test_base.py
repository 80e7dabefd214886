"""Shared penalty plumbing: non-finite parameters are refused with the parameter's name."""

import pytest
import torch
from torch import nn

import reglab as rl


def test_non_finite_parameter_at_construction_names_it():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"params must hold finite values: parameter '1.weight'"):
        rl.L1(model, strength=0.1)


@pytest.mark.parametrize("cls", [rl.L1, rl.L2, rl.ElasticNet, rl.Nuclear, rl.SoftOrthogonal, rl.L2Init])
def test_parameter_turning_non_finite_later_raises_at_forward(cls):
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    pen = cls(model, strength=0.1)
    pen()
    with torch.no_grad():
        model[1].weight[1, 0] = float("inf")
    with pytest.raises(ValueError, match=r"parameter '1.weight' has non-finite values"):
        pen()


def test_overflow_with_finite_parameters_is_reported_as_overflow():
    w = torch.full((4, 4), 1e30)
    with pytest.raises(ValueError, match="overflowed torch.float32"):
        rl.L2([w], strength=1.0)()


def test_zero_strength_returns_a_zero_in_the_parameters_dtype():
    w = torch.ones(2, 2, dtype=torch.float64, requires_grad=True)
    out = rl.L1([w], strength=0.0)()
    assert out.dtype == torch.float64 and float(out) == 0.0


def _penalty_entries():
    from reglab._core.registry import Kind, entries

    return [e for e in entries() if e.kind is Kind.PENALTY]


@pytest.mark.parametrize("entry", _penalty_entries(), ids=lambda e: e.name)
@pytest.mark.parametrize("bad", [None, 3, "weights", torch.ones(2, 2)], ids=repr)
def test_every_penalty_names_params_when_it_is_none_or_of_the_wrong_type(entry, bad):
    from reglab._core.samples import SampleContext

    kwargs = dict(entry.sample(SampleContext()).kwargs, params=bad)
    with pytest.raises(TypeError, match=r"^params must be "):
        entry.build(**kwargs)


@pytest.mark.parametrize("entry", _penalty_entries(), ids=lambda e: e.name)
def test_every_penalty_names_any_argument_given_as_none_or_of_the_wrong_type(entry):
    from reglab._core.samples import SampleContext

    kwargs = entry.sample(SampleContext()).kwargs
    for name, default in entry.defaults.items():
        # None is a valid value where it is the default (anchors, generator)
        for bad in ((3j, "x") if default is None else (None, 3j, "x")):
            with pytest.raises((TypeError, ValueError), match=rf"\b{name}\b") as err:
                entry.build(**dict(kwargs, **{name: bad}))
            assert "object is not" not in str(err.value)  # a message of ours, not Python's


def test_l2_none_names_its_argument():
    with pytest.raises(TypeError, match=r"params must be a module, a Selection or an iterable of "
                                        r"tensors, got None \(NoneType\)"):
        rl.L2(None)


# --- attach(optimizer): the penalty's gradient added inside optimizer.step() (issue 17) ---

import copy  # noqa: E402

import torch.nn.functional as F  # noqa: E402

from reglab._core import registry  # noqa: E402
from reglab._core.samples import SampleContext  # noqa: E402
from reglab.penalties._base import ParameterPenalty  # noqa: E402

PARAMETER_PENALTIES = [e for e in registry.entries()
                       if isinstance(e.build(**e.sample(SampleContext()).kwargs), ParameterPenalty)]


def _train(entry, attach: bool, steps: int = 3) -> tuple[list[torch.Tensor], list[float]]:
    """``steps`` SGD steps on the sample MLP in float64, with the penalty as a loss term or attached;
    the weights after each step and the penalty values ``pen()`` reported before each step."""
    ctx = SampleContext()
    pen = entry.build(**entry.sample(ctx).kwargs)
    trained = list(ctx.model.parameters())  # and the selection, where a sample selects elsewhere
    trained += [p for p in pen.selection if all(p is not q for q in trained)]
    opt = torch.optim.SGD(trained, lr=0.05, momentum=0.9)
    if attach:
        pen.attach(opt)
    weights, values = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(ctx.model(ctx.x), ctx.y)
        if attach:
            values.append(float(pen()))
        else:
            term = pen()
            values.append(float(term.detach()))
            loss = loss + term
        loss.backward()
        opt.step()
        weights.extend(p.detach().clone() for p in trained)
    return weights, values


@pytest.mark.parametrize("entry", PARAMETER_PENALTIES, ids=[e.name for e in PARAMETER_PENALTIES])
def test_attached_penalty_trains_like_the_loss_term(entry):
    """Every parameter penalty: three SGD-with-momentum steps with ``attach`` give the weights of
    ``loss + pen()`` (float64), and ``pen()`` reports the same values while attached (spectral's
    value uses its power-iteration vectors of the last step: it changes no state while attached)."""
    ref, ref_values = _train(entry, attach=False)
    got, got_values = _train(entry, attach=True)
    for a, b in zip(ref, got):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)
    close = dict(rel=1e-2) if entry.name == "spectral" else dict(rel=1e-10, abs=1e-14)
    assert got_values == pytest.approx(ref_values, **close)


@pytest.mark.parametrize("entry", PARAMETER_PENALTIES, ids=[e.name for e in PARAMETER_PENALTIES])
def test_attached_value_changes_no_state(entry):
    ctx = SampleContext()
    pen = entry.build(**entry.sample(ctx).kwargs)
    opt = torch.optim.SGD(pen.selection.params(), lr=0.1)
    pen.attach(opt)
    before = copy.deepcopy(pen.state_dict())
    pen()
    pen()
    after = pen.state_dict()
    assert pen.attached and set(after) == set(before)
    for k, v in before.items():
        torch.testing.assert_close(after[k], v, rtol=0, atol=0)


@pytest.mark.parametrize("cls", [rl.L1, rl.L2, rl.ElasticNet, rl.L2Init, rl.L2SP])
def test_closed_form_gradient_equals_autograd(cls):
    """The closed forms (no value, no node) against autograd through ``scaled_value``, with exact
    zeros in the weights (L1's subgradient 0 at 0) and anchors away from the weights."""
    torch.manual_seed(0)
    w = [torch.randn(4, 5, dtype=torch.float64, requires_grad=True),
         torch.randn(3, dtype=torch.float64, requires_grad=True)]
    with torch.no_grad():
        w[0][0, :3] = 0.0
    pen = cls(w, strength=0.3)
    if isinstance(pen, rl.L2Init):  # move the weights off the anchors
        with torch.no_grad():
            torch._foreach_add_(w, [torch.randn_like(p) for p in w])
    expected = torch.autograd.grad(pen.scaled_value(w, 0.3), w)
    grads = [torch.full_like(p, 2.0) for p in w]
    pen.add_gradient_(w, grads, 0.3)
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e + 2.0, rtol=1e-14, atol=1e-15)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()


def test_attached_value_is_detached_and_does_not_advance_the_schedule():
    model = _mlp()
    pen = rl.L2(model, strength=rl.schedules.linear(0.0, 1.0, steps=4))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    pen.attach(opt)
    assert pen.attached
    out = pen()
    assert out.grad_fn is None and not out.requires_grad and float(out) == 0.0
    pen()
    assert pen.strength.state_dict() == rl.L2(model, strength=rl.schedules.linear(0.0, 1.0, steps=4)).strength.state_dict()
    opt.step()  # the step advances it: the next value uses the next strength
    assert float(pen().detach()) == pytest.approx(0.25 * 0.5 * sum(float(p.detach().square().sum()) for p in rl.select(model)))


def test_attach_twice_adds_once_and_detach_removes():
    model = _mlp()
    pen = rl.L2(model, strength=0.5)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    assert pen.attach(opt) is pen.attach(opt)
    before = [p.detach().clone() for p in rl.select(model)]
    opt.zero_grad(set_to_none=False)
    opt.step()  # zero loss gradient: w <- w − 1.0·0.5·w
    for p, b in zip(rl.select(model), before):
        torch.testing.assert_close(p.detach(), 0.5 * b)
    pen.detach()
    assert not pen.attached
    opt.zero_grad(set_to_none=False)
    opt.step()
    for p, b in zip(rl.select(model), before):
        torch.testing.assert_close(p.detach(), 0.5 * b)
    assert pen().requires_grad  # a loss term again


def test_attached_gradient_reaches_parameters_without_a_gradient_and_skips_frozen_ones():
    """A selected weight outside the loss's graph gets λ·∇R, as ``loss + pen()`` would give it; a
    frozen one (requires_grad=False) gets nothing, as under autograd."""
    model = _mlp()
    pen = rl.L1(model, strength=0.1)
    model[2].weight.requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    pen.attach(opt)
    frozen = model[2].weight.detach().clone()
    assert model[0].weight.grad is None
    opt.step()
    torch.testing.assert_close(model[0].weight.grad, 0.1 * torch.sign(model[0].weight.detach() + model[0].weight.grad))
    assert model[2].weight.grad is None
    torch.testing.assert_close(model[2].weight.detach(), frozen)


def test_attach_refuses_an_optimizer_that_does_not_step_the_selection():
    model = _mlp()
    pen = rl.L2(model, strength=0.1)
    with pytest.raises(ValueError, match=r"optimizer does not update 1 of the 2 selected parameters \(first: '2.weight'\)"):
        pen.attach(torch.optim.SGD(model[0].parameters(), lr=0.1))
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer, got list"):
        pen.attach([model[0].weight])


def test_attached_zero_strength_adds_nothing():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    rl.ElasticNet(model, strength=0.0).attach(opt)
    before = copy.deepcopy(model.state_dict())
    opt.zero_grad(set_to_none=False)
    opt.step()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


@pytest.mark.parametrize("make", [
    lambda params: torch.optim.LBFGS(params, lr=0.5, max_iter=4, line_search_fn="strong_wolfe"),
    lambda params: rl.SAM(torch.optim.SGD(params, lr=0.1, momentum=0.9), rho=0.05),
], ids=["lbfgs", "sam"])
@pytest.mark.parametrize("cls", [rl.L2, rl.ElasticNet, rl.SoftOrthogonal])
def test_attached_penalty_with_a_closure_equals_the_loss_term(make, cls):
    """Optimizers that re-evaluate a closure (LBFGS with its line search, SAM at the perturbed
    weights; Lightning always passes one): the gradient is added after each evaluation and the value
    to the returned loss, so the trajectory is that of the penalty inside the closure's loss."""
    ctx = SampleContext()
    runs = []
    for attach in (False, True):
        model = copy.deepcopy(ctx.model)
        pen = cls(model, strength=0.05)
        opt = make(model.parameters())
        if attach:
            pen.attach(opt)

        def closure(model=model, pen=pen, attach=attach):
            opt.zero_grad()
            loss = F.cross_entropy(model(ctx.x), ctx.y)
            loss = loss if attach else loss + pen()
            loss.backward()
            return loss

        losses = [float(opt.step(closure).detach()) for _ in range(3)]
        runs.append(([p.detach().clone() for p in model.parameters()], losses))
    (ref, ref_losses), (got, got_losses) = runs
    for a, b in zip(ref, got):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12)
    assert got_losses == pytest.approx(ref_losses, rel=1e-10)


def test_penalty_attached_to_an_optimizer_that_is_gone_is_a_loss_term_again():
    model = _mlp()
    pen = rl.L2(model, strength=0.1)
    pen.attach(torch.optim.SGD(model.parameters(), lr=0.1))  # not kept: collected at once
    import gc
    gc.collect()
    assert not pen.attached
    assert pen().requires_grad


def test_removing_the_returned_handle_detaches_and_attach_registers_again():
    model = _mlp()
    pen = rl.L2(model, strength=0.5)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    pen.attach(opt).remove()  # the torch idiom for hooks
    assert not pen.attached and pen().requires_grad
    pen.attach(opt)
    before = [p.detach().clone() for p in rl.select(model)]
    opt.zero_grad(set_to_none=False)
    opt.step()
    for p, b in zip(rl.select(model), before):
        torch.testing.assert_close(p.detach(), 0.5 * b)


def test_a_copy_or_a_pickle_of_an_attached_penalty_comes_out_detached():
    import io

    model = _mlp()
    pen = rl.L1(model, strength=0.1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    pen.attach(opt)
    clone = copy.deepcopy(pen)
    assert pen.attached and not clone.attached
    assert clone().requires_grad  # a loss term: its selection is the copied model's
    buffer = io.BytesIO()
    torch.save(pen, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert not loaded.attached and float(loaded().detach()) == pytest.approx(float(pen()))


def test_attached_gradient_counts_once_per_accumulation_window():
    """k micro-batches then one step: attached, λ·∇R is added once per window; the loss-term
    reference adds ``pen()`` to the window's mean loss once."""
    ctx = SampleContext()
    runs = []
    for attach in (False, True):
        model = copy.deepcopy(ctx.model)
        pen = rl.ElasticNet(model, strength=0.05)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if attach:
            pen.attach(opt)
        for _ in range(3):
            opt.zero_grad()
            for i in range(3):  # three micro-batches of two examples
                loss = F.cross_entropy(model(ctx.x[2 * i:2 * i + 2]), ctx.y[2 * i:2 * i + 2]) / 3
                if not attach and i == 2:
                    loss = loss + pen()
                loss.backward()
            opt.step()
        runs.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*runs):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


def test_attached_schedule_advances_once_per_step_even_when_the_closure_runs_twice():
    model = _mlp()
    pen = rl.L2(model, strength=rl.schedules.linear(0.0, 1.0, steps=10))
    opt = rl.SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=0.05)
    pen.attach(opt)
    x, y = torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 1, 0, 1])

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    assert int(pen.strength.state_dict()["step"]) == 3
