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

Supported combinations (others are refused with a ``ValueError`` when fitting starts):

- a plain optimizer or a gradient rewrite (``ClipGradNorm``, ``DecoupledWeightDecay``, ...):
  any ``accumulate_grad_batches``, any ``gradient_clip_val``;
- a closure-evaluating wrapper (``SAM``, ``AMP``, ``GradientNormPenalty``): only
  ``accumulate_grad_batches=1`` and no ``gradient_clip_val`` (clip with
  ``rl.ClipGradNorm(rl.SAM(...))``);
- transforms, a loss, activity penalties or double backprop need the ``ReglabModule`` mixin;
  parameter penalties and post-step hooks work with any ``training_step``.

Automatic optimization only, one optimizer. Lightning evaluates SAM's closure through its own
optimizer closure, so each pass runs ``training_step`` on the same transformed batch; with
accumulation Lightning would re-run only the last micro-batch, so that is refused.

Checkpoints: the callback's ``state_dict()`` holds every method's state (generators, strength
step counters, ELR's targets, post-step counters); Lightning saves it in the checkpoint and
``trainer.fit(..., ckpt_path=...)`` restores it, so a resumed run continues bit for bit
(the optimizer, wrapper state included, is saved by Lightning itself).

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

from collections.abc import Sequence
from typing import Any

import torch

try:
    import lightning.pytorch as pl
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "reglab.integrations.lightning needs Lightning: pip install 'reglab[lightning]'"
    ) from err

from reglab.integrations._common import Split, check_methods, load_methods_state, methods_state

__all__ = ["ReglabCallback", "ReglabModule"]


def _unpack(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1], batch[2] if len(batch) == 3 else None
    raise TypeError(
        "ReglabModule needs batches (x, y) or (x, y, index), got "
        f"{type(batch).__name__}{'' if not isinstance(batch, (tuple, list)) else f' of {len(batch)}'}"
    )


class ReglabCallback(pl.Callback):
    """Apply reglab methods inside Lightning's hooks; see the module docstring."""

    def __init__(self, methods: Sequence[object]) -> None:
        self.methods = check_methods(methods)
        self.split: Split | None = None
        self.batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None

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
            if trainer.accumulate_grad_batches != 1:
                raise ValueError(
                    f"{type(trainer.optimizers[0]).__name__} re-evaluates the loss through the closure, "
                    f"but accumulate_grad_batches={trainer.accumulate_grad_batches}: Lightning's closure "
                    "re-runs only the last micro-batch; use accumulate_grad_batches=1 (a larger batch)"
                )
            if trainer.gradient_clip_val:
                raise ValueError(
                    f"gradient_clip_val={trainer.gradient_clip_val} would clip the gradient of every "
                    "closure pass, not the one the optimizer steps with; wrap the optimizer instead: "
                    "rl.ClipGradNorm(rl.SAM(...), max_norm=...)"
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
        if isinstance(pl_module, ReglabModule):
            pl_module.reglab_callback = self

    # ------------------------------------------------------------------ hooks
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        if isinstance(pl_module, ReglabModule) and self.split is not None:
            x, y, index = _unpack(batch)
            x, y = self.split.transform(x, y)
            self.batch = (x, y, index)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        if self.split is not None:
            self.split.add_penalty_gradients()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.batch = None

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

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        cb = self.reglab_callback
        if cb is not None and cb.split is not None and cb.split.recipe.create_graph:
            kwargs.setdefault("create_graph", True)
        super().backward(loss, *args, **kwargs)  # type: ignore[misc]
