"""End-of-run measures (reglab.bench.final_measures), the models' penultimate / batch-norm options,
and the recipes of issues 13 and 15, each against an independent reference."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reglab._core.registry import UnknownNameError
from reglab.bench.datasets import Split
from reglab.bench.final_measures import final_measures, jacobian_norm, penultimate, weight_zeros
from reglab.bench.measures import Measure
from reglab.bench.models import Arch, ModelSpec, build_model
from reglab.bench.optimizers import OptimizerSpec
from reglab.bench.recipes import build_step, load_recipe
from reglab.metrics.effective_rank import effective_rank


def _split(n: int = 12, d: int = 4, classes: int = 3) -> Split:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (n,), generator=g)
    return Split(x_train=x, y_train=y, x_test=x.clone(), y_test=y.clone(), clean_train=y.clone(),
                 num_classes=classes)


def test_weight_zeros_counts_rows_and_entries_but_not_the_head() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Conv1d(1, 2, 3), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight[2] = 0.0  # one whole row of 4
        model[0].weight[0, 1] = 0.0  # one scattered entry
        model[2].weight[1] = 0.0  # one whole filter of 2 (3 entries)
        model[3].weight.zero_()  # the head: left out
    out = weight_zeros(model)
    assert out["zero_rows"] == pytest.approx(2 / 6)  # rows: 4 of the linear, 2 filters
    assert out["zero_weights"] == pytest.approx((3 + 1 + 3) / (12 + 6))


def test_jacobian_norm_of_a_linear_model_is_the_weights_frobenius_norm() -> None:
    lin = nn.Linear(5, 3, dtype=torch.float64)
    x = torch.randn(7, 5, dtype=torch.float64)
    assert jacobian_norm(lin, x) == pytest.approx(float(lin.weight.detach().norm()), rel=1e-12)


def test_penultimate_is_the_heads_input_in_both_archs() -> None:
    for arch in (Arch.MLP, Arch.CNN):
        torch.manual_seed(0)
        model = build_model(ModelSpec(arch=arch, width=8, channels=2), (1, 8, 8), 10).double()
        x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
        logits, z = penultimate(model, x)
        head = model.classifier if arch is Arch.MLP else model.classifier[-1]
        name = "features.penultimate" if arch is Arch.MLP else "classifier.penultimate"
        assert dict(model.named_modules())[name].__class__ is nn.Identity
        torch.testing.assert_close(logits, head(z))
        assert z.shape == (5, 8)


def test_final_measures_match_references_and_leave_the_mode() -> None:
    split = _split()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    model.train()
    out = final_measures(model, split, split.x_train, split.x_test, seed=0)
    assert model.training
    z = torch.relu(model[0](split.x_test)).detach()
    assert out["feature_rank"] == pytest.approx(float(effective_rank(z)))
    assert out["zero_activations"] == pytest.approx(float((z == 0).double().mean()))
    assert 0.0 <= out["noisy_test_acc"] <= 1.0
    assert out == final_measures(model, split, split.x_train, split.x_test, seed=0)  # seeded noise
    assert out["zero_rows"] == 0.0 and out["zero_weights"] == 0.0


def test_integer_inputs_give_nan_for_input_measures() -> None:
    split = _split()
    ids = torch.randint(0, 5, (12, 2))
    split = Split(ids, split.y_train, ids.clone(), split.y_test, split.y_train, 3, vocab=5)
    model = build_model(ModelSpec(width=8), (2,), 3, vocab=5)
    out = final_measures(model, split, split.x_train, split.x_test, seed=0)
    assert math.isnan(out["jacobian_norm"]) and math.isnan(out["noisy_test_acc"])


@pytest.mark.parametrize("name", ["feature_rank", "zero_rows", "noisy_test_acc", "jacobian_norm"])
def test_claims_can_measure_the_final_metrics(name: str) -> None:
    m = Measure.parse(name)
    assert m.kind == "final" and m.range[0] == 0.0
    with pytest.raises(UnknownNameError, match="unknown metric"):
        Measure.parse(f"max({name})")  # no curve: measured once at the end


def test_batch_norm_option_and_ghost_surgery_from_a_recipe() -> None:
    spec = ModelSpec(arch=Arch.CNN, width=8, channels=2, norm="batch")
    model = build_model(spec, (1, 8, 8), 10)
    kinds = [type(m).__name__ for m in model.modules()]
    assert kinds.count("BatchNorm2d") == 2 and kinds.count("BatchNorm1d") == 2  # depth 2
    assert "BatchNorm2d" not in [type(m).__name__ for m in build_model(ModelSpec(arch=Arch.CNN), (1, 8, 8), 10).modules()]
    recipe = load_recipe("ghost-batchnorm")
    assert recipe.model == {"norm": "batch"}
    build_step(recipe.methods, model, OptimizerSpec(), 10, 100, 10, seed=0)
    assert sum(type(m).__name__ == "GhostBatchNorm" for m in model.modules()) == 4
    with pytest.raises(ValueError, match="model.norm"):
        ModelSpec(norm="layer")
    with pytest.raises(ValueError, match="transformer"):
        build_model(ModelSpec(arch=Arch.TRANSFORMER, width=8, norm="batch"), (2,), 3, vocab=5)


@pytest.mark.parametrize(
    "recipe",
    ["acls", "proximal-group-lasso", "proximal-l1", "vne-raise", "vne-lower", "flops",
     "activation-l1", "jacobian-norm"],
)
def test_new_recipes_build_and_step_on_the_mlp(recipe: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelSpec(width=8), (1, 8, 8), 10)
    step = build_step(load_recipe(recipe).methods, model, OptimizerSpec(), 10, 100, 5, seed=0)
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 10, (6,))
    assert math.isfinite(float(step.step(model, x, y)))


def test_vne_recipes_move_the_penultimate_rank_in_opposite_directions() -> None:
    """A few full-batch steps on fixed data: raising VNE raises the features' RankMe more."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 1, 8, 8, generator=g), torch.randint(0, 10, (64,), generator=g)
    ranks = {}
    for recipe in ("vne-raise", "vne-lower"):
        torch.manual_seed(0)
        model = build_model(ModelSpec(width=16), (1, 8, 8), 10)
        step = build_step(load_recipe(recipe).methods, model, OptimizerSpec(lr=1e-2), 10, 64, 30, seed=0)
        for _ in range(30):
            step.step(model, x, y)
        model.eval()
        with torch.no_grad():
            ranks[recipe] = float(effective_rank(penultimate(model, x)[1]))
    assert ranks["vne-raise"] > ranks["vne-lower"]


def test_train_sharpness_is_the_top_eigenvalue_of_the_dense_training_hessian(monkeypatch) -> None:
    """The end-of-run sharpness against the dense Hessian of the training cross-entropy over the
    first SHARPNESS_EXAMPLES training examples (the rest of the training set left out)."""
    from reglab.bench import final_measures as fm

    monkeypatch.setattr(fm, "SHARPNESS_EXAMPLES", 8)
    monkeypatch.setattr(fm, "SHARPNESS_ITERATIONS", 400)
    split = _split(n=12)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3)).double()  # softmax regression: H is PSD
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    x, y = split.x_train[:8], split.y_train[:8]

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        w, b = flat[:12].view(3, 4), flat[12:]
        return torch.nn.functional.cross_entropy(x @ w.T + b, y)

    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    top = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, flat)).max()
    assert "sharpness" not in final_measures(model, split, split.x_train, split.x_test, seed=0)
    out = final_measures(model, split, split.x_train, split.x_test, 0, optional=("sharpness",))
    assert out["sharpness"] == pytest.approx(float(top), rel=1e-6)
    # a different subset (all 12 examples) has a different Hessian: the subset is what is measured
    monkeypatch.setattr(fm, "SHARPNESS_EXAMPLES", 12)
    assert fm.train_sharpness(model, split.x_train, split.y_train, 0) != pytest.approx(
        float(top), rel=1e-3
    )


def test_train_sharpness_is_nan_when_a_parameter_is_unused() -> None:
    from reglab.bench.final_measures import train_sharpness

    split = _split()
    model = nn.Sequential(nn.Linear(4, 3)).double()
    model.unused = nn.Linear(2, 2).double()  # autograd.grad refuses its gradient
    assert math.isnan(train_sharpness(model, split.x_train, split.y_train, 0))


def test_a_claim_that_checks_an_optional_measure_asks_its_runs_for_it() -> None:
    from reglab.bench.claims import parse_claim

    def claim(measure: str) -> dict:
        return {
            "id": "c",
            "paper": "P",
            "statement": "S",
            "task": "digits",
            "budget": {"steps": 3},
            "arms": {"a": "none", "b": "l2"},
            "checks": [{"measure": measure, "difference": ["b", "a"], "below": 0.0}],
            "quick": {"seeds": 2},
        }

    costly = parse_claim(claim("sharpness"), "test").configs(quick=True)
    plain = parse_claim(claim("test_acc"), "test").configs(quick=True)
    assert all(c.measures == ["sharpness"] for cs in costly.values() for c in cs)
    assert all(c.measures == [] for cs in plain.values() for c in cs)
    # the measure changes the run's key; a run without one keeps the key it had before
    assert costly["a"][0].key != plain["a"][0].key
    assert "measures" not in plain["a"][0]._keyed()


def test_budget_measures_are_checked() -> None:
    from reglab.bench.runs import Settings, resolve

    config = resolve("digits", "none", 0, [Settings(budget={"measures": ["sharpness"]})])
    assert config.measures == ["sharpness"]
    with pytest.raises(ValueError, match="did you mean 'sharpness'"):
        resolve("digits", "none", 0, [Settings(budget={"measures": ["sharpnes"]})])
    with pytest.raises(ValueError, match="list of names"):
        resolve("digits", "none", 0, [Settings(budget={"measures": "sharpness"})])
