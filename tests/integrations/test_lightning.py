"""``reglab.integrations.lightning`` trains like ``reglab.Recipe`` in a plain loop."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import reglab as rl

pl = pytest.importorskip("lightning.pytorch", reason="the 'lightning' extra is not installed")
import _cases as cases

from reglab.integrations.lightning import ReglabCallback, ReglabModule


class Net(ReglabModule, pl.LightningModule):
    def __init__(self, case):
        super().__init__()
        self.case = case
        self.net = cases.net()

    def forward(self, x):
        return self.net(x)

    def configure_optimizers(self):
        return cases.optimizer(self.case, self)


def loader(micro_batch):
    return DataLoader(TensorDataset(*cases.data()), batch_size=micro_batch, shuffle=False)


def trainer(callback, steps=cases.STEPS, accumulate=1, checkpoint=None, **kwargs):
    return pl.Trainer(accelerator="cpu", devices=1, max_steps=steps, accumulate_grad_batches=accumulate,
                      callbacks=([callback] if callback else []) + ([checkpoint] if checkpoint else []), logger=False,
                      enable_checkpointing=checkpoint is not None,
                      enable_progress_bar=False, enable_model_summary=False, **kwargs)


def fit(case, accumulate=1, **kwargs):
    model = Net(case)
    callback = ReglabCallback(cases.methods(case, model))
    trainer(callback, accumulate=accumulate, **kwargs).fit(model, loader(cases.BATCH // accumulate))
    return model, callback


@pytest.mark.parametrize("case, accumulate", cases.PARITY)
def test_lightning_equals_the_plain_recipe_loop(case, accumulate):
    model, _ = fit(case, accumulate)
    cases.assert_same_parameters(model.net, cases.reference(case, accumulate))


def test_the_window_reference_of_one_micro_batch_is_the_recipe_loop():
    """``plain_window`` (the hand-written reference under accumulation) is Recipe.step for k = 1."""
    cases.assert_same_parameters(cases.plain_window("l2-mixup-sam", 1), cases.plain("l2-mixup-sam"))


def test_the_plain_loop_differs_without_the_methods():
    """The parity test can fail: the reference moves away from training without the methods."""
    model = cases.plain("elr-l2-shrink")
    bare = cases.net()
    with pytest.raises(AssertionError):
        cases.assert_same_parameters(model, bare)


class PlainSAM(pl.LightningModule):
    """A module without the mixin: its own training_step, SAM as the optimizer."""

    def __init__(self):
        super().__init__()
        self.net = cases.net()

    def training_step(self, batch, batch_idx):
        x, y, _ = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return cases.optimizer("l2-sam", self)


def test_closure_wrapper_with_accumulation_needs_the_mixin():
    model = PlainSAM()
    with pytest.raises(ValueError, match="accumulate_grad_batches=4 every pass must re-run"):
        trainer(ReglabCallback([rl.L2(model, strength=0.1)]), accumulate=4).fit(model, loader(2))


def test_closure_wrapper_without_the_mixin_and_without_accumulation_equals_the_loop():
    """accumulate_grad_batches=1: Lightning's own closure is the whole window, no mixin needed."""
    model = PlainSAM()
    trainer(ReglabCallback([rl.L2(model, strength=1e-2)])).fit(model, loader(cases.BATCH))
    cases.assert_same_parameters(model.net, cases.plain("l2-sam"))


def test_optimizer_step_overridden_without_super_is_refused():
    class Own(Net):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
            optimizer.step(closure=optimizer_closure)

    model = Own("l2-mixup-sam")
    with pytest.raises(RuntimeError, match="does not call super"):
        trainer(ReglabCallback(cases.methods("l2-mixup-sam", model)), accumulate=4).fit(model, loader(2))


def test_closure_wrapper_with_lightning_clipping_is_refused():
    with pytest.raises(ValueError, match="ClipGradNorm"):
        fit("l2-mixup-sam", gradient_clip_val=1.0)


def test_methods_inside_the_loss_need_the_mixin():
    class Plain(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = cases.net()

        def training_step(self, batch, batch_idx):
            x, y, _ = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = Plain()
    callback = ReglabCallback([rl.Mixup(0.4, num_classes=cases.K)])
    with pytest.raises(ValueError, match="add the mixin ReglabModule"):
        trainer(callback).fit(model, loader(cases.BATCH))


def test_parameter_penalty_without_the_mixin_equals_the_loop():
    """Without the mixin, a parameter penalty still acts (through the gradient), as in Recipe."""
    class Plain(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = cases.net()

        def training_step(self, batch, batch_idx):
            x, y, _ = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = Plain()
    trainer(ReglabCallback([rl.L2(model, strength=0.1)])).fit(model, loader(cases.BATCH))
    ref = cases.net()
    cases.recipe_loop(ref, rl.L2(ref, strength=0.1), torch.optim.SGD(ref.parameters(), lr=0.1))
    cases.assert_same_parameters(model.net, ref)


def test_penalty_attached_to_the_optimizer_needs_no_callback():
    """``pen.attach(opt)`` in ``configure_optimizers``: Lightning's step runs the hook, so a plain
    LightningModule trains like the loop with the penalty in the loss (float64)."""
    class Plain(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = cases.net()
            self.pen = rl.ElasticNet(self.net, strength=0.05, l1_ratio=0.5)

        def training_step(self, batch, batch_idx):
            x, y, _ = batch
            self.log("penalty", self.pen())  # detached while attached: logged, not in the loss
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
            self.pen.attach(opt)
            return opt

    model = Plain()
    trainer(None).fit(model, loader(cases.BATCH))
    ref = cases.net()
    cases.recipe_loop(ref, rl.ElasticNet(ref, strength=0.05, l1_ratio=0.5),
                      torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9))
    cases.assert_same_parameters(model.net, ref)


def test_optimizer_among_the_methods_is_refused():
    model = cases.net()
    with pytest.raises(TypeError, match="configure_optimizers"):
        ReglabCallback([torch.optim.SGD(model.parameters(), lr=0.1)])


@pytest.mark.parametrize("case", cases.CASES)
def test_resume_from_a_checkpoint_is_bit_exact(case, tmp_path):
    """Stop at step 10 (an epoch's end), resume from Lightning's checkpoint: the same parameters,
    bit for bit, as the run that did not stop. Mixup's generator, ELR's targets, the shrink's
    generator and counter, the strength counters and SAM's state come from the checkpoint."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    through = Net(case)
    saver = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=10, save_top_k=-1, filename="{step}")
    trainer(ReglabCallback(cases.methods(case, through)), checkpoint=saver).fit(through, loader(cases.BATCH))
    resumed = Net(case)
    callback = ReglabCallback(cases.methods(case, resumed, seed=100))  # other seeds: state must load
    trainer(callback).fit(resumed, loader(cases.BATCH), ckpt_path=tmp_path / "step=10.ckpt")
    cases.assert_same_parameters(resumed.net, through.net, atol=0)
    cases.assert_same_parameters(resumed.net, cases.plain(case))


@pytest.mark.parametrize("case, accumulate", [("l2-mixup-sam", 4), ("elr-l2-shrink", 1)])
def test_resume_in_mid_epoch_is_bit_exact(case, accumulate, tmp_path):
    """Stop at step 7 (in the second epoch of 5 steps), resume: bit for bit the run that did not
    stop. The shuffled train loader is a ResumableLoader (Lightning saves and restores its
    state); the methods and the loader of the resumed run are seeded otherwise, so their state
    (Mixup's draws, SAM's window, ELR's targets, the shrink's generator) comes from the checkpoint."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from reglab.integrations.resumable import ResumableLoader

    def shuffled(seed):
        return ResumableLoader(DataLoader(TensorDataset(*cases.data()), batch_size=cases.BATCH // accumulate,
                                          shuffle=True, generator=torch.Generator().manual_seed(seed)))

    through = Net(case)
    saver = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=7, save_top_k=-1, filename="{step}")
    trainer(ReglabCallback(cases.methods(case, through)), accumulate=accumulate,
            checkpoint=saver).fit(through, shuffled(0))
    resumed = Net(case)
    trainer(ReglabCallback(cases.methods(case, resumed, seed=100)), accumulate=accumulate).fit(
        resumed, shuffled(100), ckpt_path=tmp_path / "step=7.ckpt")
    cases.assert_same_parameters(resumed.net, through.net, atol=0)


def test_checkpoint_from_other_methods_is_refused():
    callback = ReglabCallback([rl.L2(cases.net(), strength=0.1)])
    with pytest.raises(ValueError, match="same methods in the same order"):
        callback.load_state_dict({"methods": [{}, {}]})
