import pytest
import torch
from torch import nn

import reglab as rl
from reglab._core.registry import UnknownNameError
from reglab.bench.optimizers import OptimizerSpec
from reglab.bench.recipes import (
    BUNDLED,
    MethodSpec,
    build_schedule,
    build_step,
    bundled_recipes,
    load_recipe,
    parse_recipe,
)


def test_yaml_file_with_schedule_and_exponent_numbers(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "description: test\noptimizer: {lr: 1e-2}\nmethods:\n"
        "  - l2: {strength: {schedule: early, value: 1e-3, until: '50%'}, params: all}\n"
    )
    spec = load_recipe(path)
    assert spec.name == "mine" and spec.optimizer == {"lr": 0.01}
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    recipe = build_step(
        spec.methods, model, OptimizerSpec(), num_classes=2, num_examples=8, total_steps=10
    )
    pen = recipe.penalties[0]
    assert len(pen.selection) == 4  # "all" keeps the biases
    values = []
    for _ in range(6):
        values.append(float(pen.strength()))
        pen.strength.advance()
    assert values == [1e-3] * 5 + [0.0]  # on for 50% of 10 steps


@pytest.mark.parametrize(
    "data, error, message",
    [
        ({"method": []}, ValueError, "unknown key 'method' \\(did you mean 'methods'"),
        ({"methods": ["l3"]}, UnknownNameError, "unknown method 'l3' \\(did you mean 'l2'"),
        (
            {"methods": [{"l2": {"strenght": 1}}]},
            ValueError,
            "'l2' has no argument 'strenght' \\(did you mean 'strength'",
        ),
        ({"methods": [{"l2": {"params": "weigths"}}]}, ValueError, "did you mean 'weights'"),
        (
            {"methods": [{"l2": {"strength": {"schedule": "erly", "value": 1, "until": 3}}}]},
            ValueError,
            "unknown schedule 'erly' \\(did you mean 'early'",
        ),
        (
            {"methods": [{"l2": {"strength": {"schedule": "early", "value": 1, "untill": 3}}}]},
            ValueError,
            "unknown key 'untill' \\(did you mean 'until'",
        ),
        ({"methods": ["ece"]}, ValueError, "'ece' is a metric, not a training-step method"),
        ({"methods": [{"l2": 1, "l1": 2}]}, ValueError, "each method is `name` or `name: {args}`"),
        ({"methods": "l2"}, ValueError, "'methods' must be a list"),
    ],
)
def test_bad_recipes_name_the_nearest_valid_key(data, error, message):
    with pytest.raises(error, match=message):
        parse_recipe(data, "bad")


def test_bundled_names_and_file_errors(tmp_path):
    assert "none" in bundled_recipes() and load_recipe("none").methods == ()
    assert load_recipe("l2").methods == (MethodSpec("l2", {"strength": 1e-4}),)
    with pytest.raises(UnknownNameError, match="unknown recipe 'l22' \\(did you mean 'l2'"):
        load_recipe("l22")
    with pytest.raises(FileNotFoundError, match="recipe file .*missing.yaml does not exist"):
        load_recipe(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods: [l2\n")
    with pytest.raises(ValueError, match="is not valid YAML"):
        load_recipe(bad)


def test_surgery_runs_before_the_optimizer_and_wrappers_nest_in_order(stand_ins):
    spec = parse_recipe(
        {
            "methods": [
                {"test-wrap": {"label": "inner"}},
                "test-scale",
                {"test-wrap": {"label": "outer"}},
                {"l2": {"strength": 0.1}},
            ]
        },
        "x",
    )
    model = nn.Sequential(nn.Linear(3, 2))
    recipe = build_step(spec.methods, model, OptimizerSpec(name="sgd", lr=0.1), 2, 8, 10)
    scale = model[-1].scale
    assert any(p is scale for g in recipe.optimizer.param_groups for p in g["params"])
    assert recipe.optimizer.label == "outer" and recipe.optimizer.optimizer.label == "inner"
    assert isinstance(recipe.optimizer.optimizer.optimizer, torch.optim.SGD)
    assert isinstance(recipe.penalties[0], rl.L2)
    recipe.step(model, torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))  # the composed step runs


def test_harness_filled_arguments_are_refused(stand_ins):
    with pytest.raises(
        ValueError, match="'test-wrap' argument 'optimizer' is filled in by the harness"
    ):
        parse_recipe({"methods": [{"test-wrap": {"optimizer": "sgd"}}]}, "bad")


def test_schedule_percent_of_steps():
    s = build_schedule({"schedule": "step", "values": [1.0, 0.5], "boundaries": ["25%"]}, 40, "x")
    assert [s(t) for t in (0, 9, 10)] == [1.0, 1.0, 0.5]


@pytest.mark.parametrize("name", [n for n in bundled_recipes() if n != "none"])
def test_every_bundled_recipe_loads_when_its_methods_exist(name):
    import yaml

    methods = yaml.safe_load((BUNDLED / f"{name}.yaml").read_text()).get("methods") or []
    missing = [m if isinstance(m, str) else next(iter(m)) for m in methods]
    missing = [m for m in missing if m not in rl.available()]
    if missing:
        pytest.skip(f"methods not registered yet: {missing}")
    assert load_recipe(name).name == name


def test_a_binary_recipe_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="not a text file") as e:
        load_recipe(path)
    assert str(path) in str(e.value)
