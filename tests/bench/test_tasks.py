"""Tasks in general: names, options, defaults, the noisy variants."""


import pytest
import torch

from reglab._core.registry import UnknownNameError
from reglab.bench.tasks import TASKS, get_task


def test_unknown_task_and_option_name_the_nearest():
    with pytest.raises(UnknownNameError, match="did you mean 'mnist1d'"):
        get_task("mnist-1d")
    with pytest.raises(
        ValueError, match="unknown key 'train_frac' \\(did you mean 'train_fraction'"
    ):
        get_task("modular-addition").options({"train_frac": 0.5})
    with pytest.raises(ValueError, match="label_noise must be in \\[0, 1\\]"):
        get_task("digits").options({"label_noise": 1.5})


def test_every_task_states_its_defaults():
    for task in TASKS.values():
        assert task.summary and task.budget.steps > 0 and task.model.arch in task.archs
        task.options()  # the defaults are valid


def test_noisy_variants_are_the_same_task_with_the_noise_option():
    plain, noisy = get_task("digits"), get_task("noisy-digits")
    assert type(noisy) is type(plain) and type(noisy).Options is type(plain).Options
    assert noisy.options().label_noise == 0.4 and plain.options().label_noise == 0.0
    same = noisy.load(noisy.options({"label_noise": 0.2}), 0, None)
    ref = plain.load(plain.options({"label_noise": 0.2}), 0, None)
    assert torch.equal(same.y_train, ref.y_train) and torch.equal(same.x_test, ref.x_test)
    m1 = get_task("noisy-mnist1d")
    assert type(m1) is type(get_task("mnist1d")) and m1.options().label_noise == 0.4


def test_a_task_registered_with_bad_defaults_is_refused():
    with pytest.raises(ValueError, match="label_noise must be in"):
        type(get_task("digits"))("bad", "bad defaults", label_noise=2.0)
