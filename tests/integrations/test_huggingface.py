"""``reglab.integrations.huggingface`` trains like ``reglab.Recipe`` in a plain loop."""

import pytest
import torch
from torch.utils.data import Dataset

import reglab as rl

pytest.importorskip("transformers", reason="the 'huggingface' extra is not installed")
pytest.importorskip("accelerate", reason="the 'huggingface' extra is not installed")
import _cases as cases
from transformers import TrainingArguments

from reglab.integrations.huggingface import ReglabTrainer


class Examples(Dataset):
    def __init__(self):
        self.x, self.y, self.index = cases.data()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i], "index": self.index[i]}


class CrossEntropy(torch.nn.Module):
    """A model returning its loss, as the plain ``transformers.Trainer`` wants."""

    def __init__(self):
        super().__init__()
        self.net = cases.net()

    def forward(self, x, labels, index=None):
        return {"loss": torch.nn.functional.cross_entropy(self.net(x), labels)}


def args(tmp_path, accumulate=1, steps=cases.STEPS, **kwargs):
    options = {"output_dir": str(tmp_path), "max_steps": steps, "seed": 0,
               "per_device_train_batch_size": cases.BATCH // accumulate,
               "gradient_accumulation_steps": accumulate, "max_grad_norm": 0.0,
               "lr_scheduler_type": "constant", "train_sampling_strategy": "sequential",
               "report_to": "none", "save_strategy": "no", "logging_strategy": "no",
               "use_cpu": True, "disable_tqdm": True, "dataloader_num_workers": 0}
    options.update(kwargs)
    return TrainingArguments(**options)


def train(case, tmp_path, accumulate=1, seed=0, resume=None, **kwargs):
    model = cases.net()
    trainer = ReglabTrainer(model=model, args=args(tmp_path, accumulate, **kwargs), train_dataset=Examples(),
                            optimizers=(cases.optimizer(case, model), None),
                            methods=cases.methods(case, model, seed=seed))
    trainer.train(resume_from_checkpoint=resume)
    return model, trainer


@pytest.mark.parametrize("case, accumulate", cases.PARITY)
def test_trainer_equals_the_plain_recipe_loop(case, accumulate, tmp_path):
    model, _ = train(case, tmp_path, accumulate)
    cases.assert_same_parameters(model, cases.reference(case, accumulate))


def test_closure_wrapper_with_trainer_clipping_is_refused(tmp_path):
    with pytest.raises(ValueError, match="ClipGradNorm"):
        train("l2-mixup-sam", tmp_path, max_grad_norm=1.0)


def test_batches_without_the_input_key_are_refused(tmp_path):
    model = cases.net()
    trainer = ReglabTrainer(model=model, args=args(tmp_path), train_dataset=Examples(), input_name="pixels",
                            optimizers=(torch.optim.SGD(model.parameters(), lr=0.1), None))
    with pytest.raises(ValueError, match="'pixels' and 'labels'"):
        trainer.train()


def test_logs_hold_each_methods_strength_and_value(tmp_path):
    _, trainer = train("elr-l2-shrink", tmp_path, logging_strategy="steps", logging_steps=5)
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == cases.STEPS // 5
    assert logs[-1]["reglab/strength/0-ELR"] == 3.0
    assert logs[-1]["reglab/strength/1-L2"] == 0.01
    # the value logged at step 20 is L2's value in that step, at the parameters after step 19
    before = cases.plain("elr-l2-shrink", cases.STEPS - 1)
    expected = 0.5 * 0.01 * sum(m.weight.detach().pow(2).sum().item() for m in before if hasattr(m, "weight"))
    assert logs[-1]["reglab/value/0-L2"] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("case, accumulate, stop", [(case, 1, 10) for case in cases.CASES]
                         + [("l2-mixup-sam", 4, 7)])
def test_resume_from_a_checkpoint_is_bit_exact(case, accumulate, stop, tmp_path):
    """Stop at step 10 (an epoch's end) or 7 (in mid-epoch: the Trainer skips the batches already
    seen), resume from the Trainer's checkpoint with methods seeded otherwise: the same
    parameters, bit for bit, as the run that did not stop."""
    through, _ = train(case, tmp_path, accumulate, save_strategy="steps", save_steps=stop)
    resumed, _ = train(case, tmp_path / "again", accumulate, seed=100, resume=str(tmp_path / f"checkpoint-{stop}"))
    cases.assert_same_parameters(resumed, through, atol=0)
    cases.assert_same_parameters(resumed, cases.reference(case, accumulate))


def test_callback_runs_post_step_hooks_in_a_plain_trainer(tmp_path):
    """A plain Trainer with the callback equals the Recipe loop with the same post-step hook."""
    from transformers import Trainer

    from reglab.integrations.huggingface import ReglabTrainerCallback

    model = CrossEntropy()
    hook = rl.ShrinkPerturb(0.99, 1e-3, model.net, generator=torch.Generator().manual_seed(2))
    trainer = Trainer(model=model, args=args(tmp_path, remove_unused_columns=False), train_dataset=Examples(),
                      optimizers=(torch.optim.SGD(model.parameters(), lr=0.1), None),
                      callbacks=[ReglabTrainerCallback([hook])])
    trainer.train()
    ref = cases.net()
    cases.recipe_loop(ref, rl.ShrinkPerturb(0.99, 1e-3, ref, generator=torch.Generator().manual_seed(2)),
                      torch.optim.SGD(ref.parameters(), lr=0.1))
    cases.assert_same_parameters(model.net, ref)
    assert hook.applied == cases.STEPS


@pytest.mark.parametrize("accumulate", [1, 4])
def test_penalty_attached_to_the_optimizer_in_a_plain_trainer(tmp_path, accumulate):
    """A plain Trainer, no reglab class: the penalty attached to the optimizer it is given acts in
    accelerate's optimizer step, once per accumulation window (the window's mean loss plus the
    penalty once, as the Recipe loop on whole batches)."""
    from transformers import Trainer

    model = CrossEntropy()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rl.ElasticNet(model.net, strength=0.05).attach(opt)
    Trainer(model=model, args=args(tmp_path, accumulate, remove_unused_columns=False), train_dataset=Examples(),
            optimizers=(opt, None)).train()
    ref = cases.net()
    cases.recipe_loop(ref, rl.ElasticNet(ref, strength=0.05), torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9))
    cases.assert_same_parameters(model.net, ref)


def test_callback_refuses_methods_that_change_the_loss():
    from reglab.integrations.huggingface import ReglabTrainerCallback

    with pytest.raises(ValueError, match="use ReglabTrainer"):
        ReglabTrainerCallback([rl.L2(cases.net(), strength=0.1)])
