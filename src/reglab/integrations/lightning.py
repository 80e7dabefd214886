"""reglab in Lightning: ``ReglabCallback`` (methods at Lightning's hooks) and ``ReglabModule``.

Needs the ``lightning`` extra: ``pip install "reglab[lightning]"``.

``ReglabCallback(methods)`` takes constructed reglab methods (not the optimizer: it comes from
``configure_optimizers``, plain or wrapped, e.g. ``rl.SAM(AdamW(...))``) and builds a
``reglab.Recipe`` of them and the trainer's optimizer when fitting starts, so the same
combinations are accepted or refused as in a plain loop. It applies:

- parameter penalties (L2, nuclear, ...): their gradient is added in ``on_before_optimizer_step``,
  after Lightning's own unscaling and after every closure pass (a callback's return value is
  ignored, so it cannot add a term to the loss). Their gradient does not depend on the batch, so
  this equals adding them to the loss; with gradient accumulation it is added once a step;
- post-step hooks (shrink & perturb, ...): attached to the optimizer, run after each step;
- batch transforms, the loss and activity penalties: through ``ReglabModule``, a mixin whose
  ``training_step`` unpacks the batch ``(x, y)`` or ``(x, y, index)``, runs the transforms once
  per micro-batch (``on_train_batch_start``), calls ``self(x)`` and returns the recipe's loss
  (``nn.CrossEntropyLoss`` when no loss is given) plus the activity penalties.

Supported combinations (others are refused with a clear error when fitting starts):

- a plain optimizer or a gradient rewrite (``ClipGradNorm``, ``DecoupledWeightDecay``, ...):
  any ``accumulate_grad_batches``, any ``gradient_clip_val``;
- a closure-evaluating wrapper (``SAM``, ``AMP``, ``GradientNormPenalty``): any
  ``accumulate_grad_batches``, no ``gradient_clip_val`` (clip with
  ``rl.ClipGradNorm(rl.SAM(...))``), no strategy that accumulates by itself (DeepSpeed); with
  ``accumulate_grad_batches > 1`` it needs the ``ReglabModule`` mixin (and a module that
  overrides ``optimizer_step`` must call ``super().optimizer_step``);
- transforms, a loss, activity penalties or double backprop need the ``ReglabModule`` mixin;
  parameter penalties and post-step hooks work with any ``training_step``.

Automatic optimization only, one optimizer. Lightning evaluates the wrapper's closure through its
own optimizer closure. Under gradient accumulation the callback keeps the window's transformed
micro-batches: the first closure pass is the window's forward-backward already made (the last
micro-batch's ``training_step`` and backward, on top of the earlier ones' gradients); every
further pass (at the perturbed weights) zeroes the gradient and re-runs ``training_step`` on each
micro-batch of the window, its loss divided by ``accumulate_grad_batches`` as Lightning divides
it, on the same transformed batch (Mixup is not redrawn). Parameter penalties' gradient is added
after each pass. So a step equals the wrapper's step on the window's mean loss.

Checkpoints: the callback's ``state_dict()`` holds every method's state (generators, strength
step counters, ELR's targets, post-step counters); Lightning saves it in the checkpoint and
``trainer.fit(..., ckpt_path=...)`` restores it, so a resumed run continues bit for bit
(the optimizer, wrapper state included, is saved by Lightning itself). A checkpoint saved at an
epoch's end resumes bit for bit with any loader; one saved in mid-epoch needs a resumable train
loader, ``ResumableLoader(DataLoader(..., generator=...))`` (``reglab.integrations.resumable``,
re-exported here) or torchdata's ``StatefulDataLoader``: with a plain ``DataLoader`` Lightning
warns and restarts the epoch from its first batch. Checkpoints are saved after an optimizer
step, so never inside an accumulation window.

Example (see ``examples/with_lightning.py`` for a complete script)::

    class Net(ReglabModule, L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        def forward(self, x):
            return self.net(x)
        def configure_optimizers(self):
            return rl.SAM(torch.optim.SGD(self.parameters(), lr=0.1), rho=0.05)

    model = Net()
    callback = ReglabCallback([rl.L2(model, strength=1e-3), rl.Mixup(0.2, num_classes=3)])
    L.Trainer(callbacks=[callback], max_steps=100).fit(model, loader)

Traps:
    - Methods built on the model (penalties, post-step hooks) must be built on the module that
      is trained, before ``fit``; the callback moves module-type methods to the module's device.
    - Lightning's ``gradient_clip_val`` clips after the penalty's gradient is added (as clipping
      the loss's gradient in a plain loop would).
    - Transforms and losses are not submodules of the LightningModule: they stay in training
      mode during validation, so compute validation losses in your own ``validation_step``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch

try:
    import lightning.pytorch as pl
    from lightning.pytorch.strategies import ParallelStrategy
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "reglab.integrations.lightning needs Lightning: pip install 'reglab[lightning]'"
    ) from err

from reglab.integrations._common import Split, check_methods, load_methods_state, methods_state
from reglab.integrations.resumable import ResumableLoader

__all__ = ["ReglabCallback", "ReglabModule", "ResumableLoader"]


def _unpack(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1], batch[2] if len(batch) == 3 else None
    raise TypeError(
        "ReglabModule needs batches (x, y) or (x, y, index), got "
        f"{type(batch).__name__}{'' if not isinstance(batch, (tuple, list)) else f' of {len(batch)}'}"
    )


def _loss_of(output: Any) -> torch.Tensor:
    loss = output.get("loss") if isinstance(output, Mapping) else output
    if not isinstance(loss, torch.Tensor):
        raise TypeError(
            f"training_step returned {type(output).__name__}: a closure-evaluating optimizer under "
            "gradient accumulation needs a loss tensor (or a dict with 'loss') from every micro-batch"
        )
    return loss


@contextmanager
def _no_sync(strategy: Any) -> Iterator[None]:
    """No gradient all-reduce during the backward passes of the window's earlier micro-batches."""
    if isinstance(strategy, ParallelStrategy):
        with strategy.block_backward_sync():
            yield
    else:
        yield


class ReglabCallback(pl.Callback):
    """Apply reglab methods inside Lightning's hooks; see the module docstring."""

    def __init__(self, methods: Sequence[object]) -> None:
        self.methods = check_methods(methods)
        self.split: Split | None = None
        self.batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None
        #: the accumulation window's micro-batches: (transformed batch, raw batch, batch_idx)
        self.window: list[tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None], Any, int]] = []
        self._trainer: pl.Trainer | None = None
        self._stepping = False

    # ------------------------------------------------------------------ set-up and checks
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not pl_module.automatic_optimization:
            raise ValueError("ReglabCallback needs automatic optimization (automatic_optimization=True)")
        if len(trainer.optimizers) != 1:
            raise ValueError(f"ReglabCallback needs exactly one optimizer, got {len(trainer.optimizers)}")
        for m in self.methods:
            if isinstance(m, torch.nn.Module):
                m.to(pl_module.device)
        split = Split(self.methods, trainer.optimizers[0])
        if split.recipe.needs_closure:
            name = type(trainer.optimizers[0]).__name__
            if trainer.gradient_clip_val:
                raise ValueError(
                    f"gradient_clip_val={trainer.gradient_clip_val} would clip the gradient of every "
                    "closure pass, not the one the optimizer steps with; wrap the optimizer instead: "
                    "rl.ClipGradNorm(rl.SAM(...), max_norm=...)"
                )
            if trainer.accumulate_grad_batches != 1:
                if trainer.strategy.handles_gradient_accumulation:
                    raise ValueError(
                        f"{name} re-evaluates the loss through the closure, but the strategy "
                        f"{type(trainer.strategy).__name__} accumulates gradients itself; use "
                        "accumulate_grad_batches=1 (a larger batch) or another strategy"
                    )
                if not isinstance(pl_module, ReglabModule):
                    raise ValueError(
                        f"{name} re-evaluates the loss through the closure, and with "
                        f"accumulate_grad_batches={trainer.accumulate_grad_batches} every pass must "
                        "re-run each micro-batch of the window: add the mixin ReglabModule to "
                        f"{type(pl_module).__name__}, or use accumulate_grad_batches=1"
                    )
        inside = split.needs_module
        if inside and not isinstance(pl_module, ReglabModule):
            names = ", ".join(type(m).__name__ for m in inside)
            raise ValueError(
                f"{names} act inside the loss, which a callback cannot change: add the mixin "
                f"ReglabModule to {type(pl_module).__name__} (class {type(pl_module).__name__}"
                "(ReglabModule, L.LightningModule))"
            )
        if split.recipe.create_graph and not isinstance(pl_module, ReglabModule):
            raise ValueError(
                "the optimizer or a penalty needs backward(create_graph=True) (double backprop): "
                f"add the mixin ReglabModule to {type(pl_module).__name__}, whose backward passes it"
            )
        self.split = split
        self._trainer = trainer
        self.window = []
        if isinstance(pl_module, ReglabModule):
            pl_module.reglab_callback = self

    # ------------------------------------------------------------------ hooks
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        if isinstance(pl_module, ReglabModule) and self.split is not None:
            x, y, index = _unpack(batch)
            x, y = self.split.transform(x, y)
            self.batch = (x, y, index)
            if self.split.recipe.needs_closure:
                # Lightning zeroes the gradient on the window's first micro-batch: the same rule
                if batch_idx % trainer.accumulate_grad_batches == 0:
                    self.window = []
                self.window.append((self.batch, batch, batch_idx))

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        if self.split is not None:
            if len(self.window) > 1 and not self._stepping:
                raise RuntimeError(
                    f"{type(pl_module).__name__}.optimizer_step does not call "
                    "super().optimizer_step(...), so the closure of "
                    f"{type(optimizer).__name__} would re-run only the last micro-batch of the "
                    "accumulation window; call ReglabModule's optimizer_step"
                )
            self.split.add_penalty_gradients()

    def window_closure(self, optimizer: Any, closure: Callable[[], Any]) -> Callable[[], Any]:
        """The closure for a closure-evaluating wrapper under gradient accumulation.

        ``closure`` is Lightning's: ``training_step`` and backward of the window's last
        micro-batch, without zeroing the gradient. The first pass is that one (the earlier
        micro-batches' gradients are in place); each later pass zeroes the gradient, re-runs the
        earlier micro-batches (loss / ``accumulate_grad_batches``, as Lightning scales it) and
        then Lightning's closure.
        """
        trainer = self._trainer
        earlier, last = self.window[:-1], self.window[-1][0]
        inner = getattr(optimizer, "optimizer", optimizer)  # LightningOptimizer -> the torch one
        passes = 0

        def window() -> Any:
            nonlocal passes
            passes += 1
            if passes > 1 and trainer is not None:
                optimizer.zero_grad()
                with _no_sync(trainer.strategy):
                    for batch, raw, batch_idx in earlier:
                        self.batch = batch
                        loss = _loss_of(trainer.strategy.training_step(raw, batch_idx))
                        trainer.strategy.backward(loss / trainer.accumulate_grad_batches, inner)
                self.batch = last
            return closure()

        return window

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.batch = None
        self.window = []

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"methods": methods_state(self.methods)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        load_methods_state(self.methods, state_dict["methods"])


class ReglabModule:
    """Mixin for a ``LightningModule`` whose loss comes from the ``ReglabCallback``'s methods.

    Put it first: ``class Net(ReglabModule, L.LightningModule)``. Define ``forward``; the mixin's
    ``training_step`` runs the transformed batch through ``self(x)`` and returns the recipe's loss
    plus the activity penalties, and logs it as ``"train_loss"``. Override ``reglab_forward(x)``
    to compute the outputs differently.
    """

    reglab_callback: ReglabCallback | None = None

    def _reglab(self) -> ReglabCallback:
        cb = self.reglab_callback
        if cb is None or cb.split is None or cb.batch is None:
            raise RuntimeError(
                f"{type(self).__name__} uses ReglabModule but no ReglabCallback set it up: "
                "pass ReglabCallback(methods) in Trainer(callbacks=[...])"
            )
        return cb

    def reglab_forward(self, x: torch.Tensor) -> Any:
        return self(x)  # type: ignore[operator]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        cb = self._reglab()
        x, y, index = cb.batch  # type: ignore[misc]
        loss = cb.split.loss(self.reglab_forward(x), y, index, parameter_penalties=False)  # type: ignore[union-attr]
        self.log("train_loss", loss.detach(), prog_bar=True)  # type: ignore[attr-defined]
        return loss

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any,
                       optimizer_closure: Callable[[], Any] | None = None) -> None:
        """Lightning's step; under gradient accumulation a closure-evaluating optimizer gets the
        window's closure (``ReglabCallback.window_closure``), whose passes re-run every
        micro-batch of the window. A subclass that overrides this must call it."""
        cb = self.reglab_callback
        if cb is None or optimizer_closure is None or len(cb.window) < 2:
            return super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)  # type: ignore[misc]
        cb._stepping = True
        try:
            return super().optimizer_step(  # type: ignore[misc]
                epoch, batch_idx, optimizer, cb.window_closure(optimizer, optimizer_closure))
        finally:
            cb._stepping = False
            cb.window = []

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        cb = self.reglab_callback
        if cb is not None and cb.split is not None and cb.split.recipe.create_graph:
            kwargs.setdefault("create_graph", True)
        super().backward(loss, *args, **kwargs)  # type: ignore[misc]
