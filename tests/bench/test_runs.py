import numpy as np
import pytest

from reglab.bench.recipes import parse_recipe
from reglab.bench.runs import RunConfig, Settings, resolve


def test_settings_precedence_task_then_sweep_then_recipe_then_arm():
    task_default = resolve("modular-addition", "none", 0)
    assert task_default.optimizer["weight_decay"] == 1.0 and task_default.steps == 4000
    sweep = Settings(optimizer={"weight_decay": 0.5, "lr": 0.01}, budget={"steps": 10})
    recipe = parse_recipe({"optimizer": {"weight_decay": 0.0}}, "no-wd")
    both = resolve("modular-addition", recipe, 0, [sweep])
    assert (
        both.optimizer["weight_decay"] == 0.0 and both.optimizer["lr"] == 0.01 and both.steps == 10
    )
    arm = resolve("modular-addition", recipe, 0, [sweep], Settings(optimizer={"weight_decay": 0.2}))
    assert arm.optimizer["weight_decay"] == 0.2


def test_key_depends_on_the_resolved_config_only():
    a = resolve("digits", "none", 0)
    assert (
        a.key == resolve("digits", "none", 0, [Settings(data={"train_size": 1000})]).key
    )  # a default
    b = resolve("digits", "none", 1)
    assert a.key != b.key and a.arm_key == b.arm_key
    assert RunConfig.from_dict(a.to_dict()).key == a.key
    full = resolve("digits", "none", 0, [Settings(budget={"batch_size": "full"})])
    assert full.batch_size is None and full.key != a.key


def test_a_user_file_is_keyed_by_its_content(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    first = resolve("digits", "none", 0, [Settings(data={"data_file": str(path)})])
    np.savez(path, x=np.ones((4, 2)), y=np.array([0, 1, 0, 1]))
    second = resolve("digits", "none", 0, [Settings(data={"data_file": str(path)})])
    assert first.data_digest != second.data_digest and first.key != second.key
    with pytest.raises(FileNotFoundError, match="data file .*nothing.npz does not exist"):
        resolve("digits", "none", 0, [Settings(data={"data_file": str(tmp_path / "nothing.npz")})])


def test_bad_settings_are_refused_before_running():
    with pytest.raises(ValueError, match="unknown key 'step' \\(did you mean 'steps'"):
        Settings(budget={"step": 3})
    with pytest.raises(ValueError, match="steps must be >= 1"):
        resolve("digits", "none", 0, [Settings(budget={"steps": 0})])
    with pytest.raises(ValueError, match="model: unknown key 'widht' \\(did you mean 'width'"):
        resolve("digits", "none", 0, [Settings(model={"widht": 3})])
    with pytest.raises(ValueError, match="supports model.arch cnn, mlp; got 'transformer'"):
        resolve("digits", "none", 0, [Settings(model={"arch": "transformer"})])
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        resolve("digits", "none", -1)
