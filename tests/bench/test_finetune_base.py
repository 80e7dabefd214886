"""The shared base of the fine-tuning tasks: the few-shot split, the defaults stated once, and
the start from a body pretrained on each task's own source."""

import pytest
import torch

from reglab.bench import pretrained
from reglab.bench.models import Arch, ModelSpec, build_model
from reglab.bench.tasks import get_task
from reglab.bench.tasks.finetune_base import TARGET_CLASSES, FinetuneOptions, FinetuneTask, few_shot

SHARED = ("model", "optimizer", "budget", "archs", "keep_weights")


def test_few_shot_takes_shots_then_validation_then_the_rest_of_each_target_class():
    y = torch.tensor([c for c in range(10) for _ in range(c + 3)])  # class c has c + 3 examples
    tr, va, te = few_shot(y, 2, 1, torch.Generator().manual_seed(0))
    for part, n in ((tr, [2] * 5), (va, [1] * 5)):
        assert torch.bincount(y[part], minlength=10)[5:].tolist() == n
    assert torch.bincount(y[te], minlength=10)[5:].tolist() == list(TARGET_CLASSES)  # c + 3 − 3
    every = torch.cat([tr, va, te]).sort().values
    assert torch.equal(every, torch.nonzero(y >= 5).flatten())  # disjoint, and all of 5-9


@pytest.mark.parametrize("name", ["finetune-digits", "finetune-mnist1d"])
def test_each_task_states_only_its_options_and_data(name):
    task = get_task(name)
    assert isinstance(task, FinetuneTask) and issubclass(task.Options, FinetuneOptions)
    assert not set(SHARED) & set(vars(type(task)))  # the defaults come from the base
    assert task.model == ModelSpec(Arch.CNN, width=128, depth=1, channels=32)
    assert task.keep_weights and task.archs == (Arch.CNN, Arch.MLP)


def test_start_keys_the_pretrained_body_by_the_task_s_source_settings(monkeypatch):
    calls = []
    monkeypatch.setattr(pretrained, "start_from", lambda *args: calls.append(args))
    spec = ModelSpec(Arch.MLP, width=4, depth=1)
    for name, options in (("finetune-digits", {}), ("finetune-mnist1d", {"num_samples": 200})):
        task = get_task(name)
        opts = task.options({**options, "pretrain_steps": 7})
        task.start(build_model(spec, (40,), 5), spec, opts, None)
    (_, _, digits, xd, yd, pd, _), (_, _, mnist, xm, ym, pm, _, source) = calls
    assert (digits, mnist) == ("finetune-digits", "finetune-mnist1d")
    assert pd.steps == pm.steps == 7
    assert sorted(yd.unique().tolist()) == sorted(ym.unique().tolist()) == [0, 1, 2, 3, 4]
    assert xd.shape[1:] == (1, 8, 8) and xm.shape[1:] == (40,)
    assert source == {"num_samples": 200, "dataset_seed": 42}
