"""reglab in the Hugging Face ``Trainer``: ``ReglabTrainer`` and ``ReglabTrainerCallback``.

Needs the ``huggingface`` extra: ``pip install "reglab[huggingface]"`` (transformers, accelerate).

``ReglabTrainer(..., methods=[...])`` is a ``transformers.Trainer`` that builds a ``reglab.Recipe``
of the methods and the Trainer's optimizer (``optimizers=(opt, scheduler)``, plain or wrapped,
e.g. ``rl.SAM(SGD(...))``; or the Trainer's own AdamW) and trains with it:

- batches are dicts ``{input_name: x, "labels": y}`` plus ``"index"`` for losses that keep
  per-example state (ELR, PS-KD); the model is called as ``model(x)`` and may return a tensor
  or an output with ``.logits``;
- batch transforms run once per micro-batch, before the forward;
- the loss is the recipe's loss (``nn.CrossEntropyLoss`` when none is given) plus the penalties.
  Gradient accumulation over k micro-batches: the data loss and activity penalties are divided
  by k, and parameter penalties are added once, undivided, to the last micro-batch of each step
  (they do not depend on the batch). This is the scaling trap of ``compute_loss_func``, which
  the Trainer treats as already scaled, so a penalty added there would count k times;
- closure-evaluating wrappers (SAM, AMP, gradient-norm penalty) step through the Trainer's
  ``optimizer.step()``. The Trainer keeps each accumulation window's transformed micro-batches:
  the first closure pass is the window's forward-backward already made, and each later pass (at
  the perturbed weights) zeroes the gradient and re-runs every micro-batch of the window, scaled
  as above, on the same transformed batch (Mixup is not redrawn). So a step equals the wrapper's
  step on the window's mean loss, with any ``gradient_accumulation_steps``. They need
  ``max_grad_norm=0`` (the Trainer would clip only the first pass; clip with
  ``rl.ClipGradNorm(rl.SAM(...))``) and no DeepSpeed (it steps inside ``backward``); other
  settings are refused with a ``ValueError``;
- post-step hooks run after each optimizer step (attached to the optimizer, as ``Recipe`` does);
- the training logs gain each method's current strength (``reglab/strength/<i>-<Class>``) and
  each penalty's last value (``reglab/value/<i>-<Class>``);
- checkpoints (``save_strategy``) hold every method's state in ``reglab_methods.pt`` beside the
  optimizer's, and ``train(resume_from_checkpoint=...)`` restores it: the resumed run continues
  bit for bit, from a checkpoint saved in mid-epoch too (the Trainer skips the batches seen).

``ReglabTrainerCallback(methods)`` serves a plain ``Trainer`` with methods that leave the loss
alone: post-step hooks, and the strengths in the logs.

Example (see ``examples/with_huggingface.py`` for a complete script)::

    opt = rl.SAM(torch.optim.SGD(model.parameters(), lr=0.1), rho=0.05)
    trainer = ReglabTrainer(
        model=model, args=TrainingArguments("out", max_steps=100, max_grad_norm=0.0,
                                            report_to="none", train_sampling_strategy="sequential"),
        train_dataset=dataset, optimizers=(opt, None),
        methods=[rl.L2(model, strength=1e-3), rl.Mixup(0.2, num_classes=10)])
    trainer.train()

Traps:
    - The Trainer's default ``max_grad_norm`` is 1.0 (it clips) and its default scheduler decays
      the learning rate linearly to zero; a plain loop does neither.
    - Penalties must be built on the model given to the Trainer, before ``train()``.
    - ``compute_loss`` is replaced: the model's own loss (from ``labels``) is not used.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

try:
    from transformers import Trainer, TrainerCallback
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "reglab.integrations.huggingface needs transformers and accelerate: "
        "pip install 'reglab[huggingface]'"
    ) from err

from reglab._core.registry import Kind
from reglab.integrations._common import (
    Split,
    check_methods,
    kind_of,
    load_methods_state,
    methods_state,
    strengths,
)

__all__ = ["ReglabTrainer", "ReglabTrainerCallback"]

STATE_FILE = "reglab_methods.pt"


class _ClosureStep(torch.optim.Optimizer):
    """The Trainer's optimizer when the user's needs a closure: ``step()`` hands it the closure
    that ``ReglabTrainer.training_step`` left. Everything else is the user's optimizer."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:  # no super().__init__: a view
        self.optimizer = optimizer
        self.closure: Callable[[], torch.Tensor] | None = None

    @property  # type: ignore[override]
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property  # type: ignore[override]
    def state(self) -> Any:
        return self.optimizer.state

    @property  # type: ignore[override]
    def defaults(self) -> dict[str, Any]:
        return self.optimizer.defaults

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        closure, self.closure = closure or self.closure, None
        if closure is None:
            raise RuntimeError("no closure is pending: step() must follow ReglabTrainer.training_step")
        return self.optimizer.step(closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.optimizer.add_param_group(param_group)

    def __repr__(self) -> str:
        return repr(self.optimizer)


def _outputs(out: Any) -> Any:
    return out.logits if hasattr(out, "logits") else out


class ReglabTrainer(Trainer):
    """A ``transformers.Trainer`` that trains with reglab methods; see the module docstring.

    ``methods``: constructed reglab methods (not the optimizer). ``input_name``: the batch key of
    the model's input (default ``"x"``); labels are ``"labels"``, sample indices ``"index"``.
    """

    def __init__(self, *args: Any, methods: Sequence[object] = (), input_name: str = "x",
                 **kwargs: Any) -> None:
        self.reglab_methods = check_methods(methods)
        self.input_name = input_name
        self.split: Split | None = None
        self._closure_step: _ClosureStep | None = None
        #: the accumulation window's micro-batches so far: (x, y, index, scale, detached loss)
        self._window: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, float, torch.Tensor]] = []
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ set-up and checks
    def create_optimizer(self, model: Any = None) -> torch.optim.Optimizer:
        if isinstance(self.optimizer, _ClosureStep):
            return self.optimizer
        optimizer = super().create_optimizer(model) if model is not None else super().create_optimizer()
        for m in self.reglab_methods:
            if isinstance(m, torch.nn.Module):
                m.to(self.args.device)
        self.split = Split(self.reglab_methods, optimizer)
        if self.split.recipe.needs_closure:
            name = type(optimizer).__name__
            if self.is_deepspeed_enabled:
                raise ValueError(
                    f"{name} re-evaluates the loss through the closure, but DeepSpeed steps the "
                    "optimizer inside backward(); train it without DeepSpeed"
                )
            if self.args.max_grad_norm:
                raise ValueError(
                    f"max_grad_norm={self.args.max_grad_norm} would clip only the first of {name}'s "
                    "closure passes; set max_grad_norm=0 and wrap the optimizer instead: "
                    "rl.ClipGradNorm(rl.SAM(...), max_norm=...)"
                )
            self._closure_step = _ClosureStep(optimizer)
            self.optimizer = self._closure_step
        return self.optimizer

    # ------------------------------------------------------------------ the step
    # The batch keys are ReglabTrainer's (input_name, "labels", "index"), not the model's
    # signature: keep them all (as remove_unused_columns=False would).
    def _remove_unused_columns(self, dataset: Any, description: str | None = None) -> Any:
        return dataset

    def _get_collator_with_removed_columns(self, data_collator: Callable[..., Any],
                                           description: str | None = None) -> Callable[..., Any]:
        return data_collator

    def _batch(self, inputs: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        extra = sorted(set(inputs) - {self.input_name, "labels", "index"})
        if self.input_name not in inputs or "labels" not in inputs or extra:
            raise ValueError(
                f"ReglabTrainer needs batches with the keys {self.input_name!r} and 'labels' (and "
                f"'index' for losses with per-example state), got {sorted(inputs)}; set input_name="
            )
        return inputs[self.input_name], inputs["labels"], inputs.get("index")

    def training_step(self, model: torch.nn.Module, inputs: dict[str, Any],
                      num_items_in_batch: Any = None) -> torch.Tensor:
        split = self.split
        if split is None:
            raise RuntimeError("ReglabTrainer.training_step runs inside train(), after create_optimizer()")
        model.train()
        x, y, index = self._batch(self._prepare_inputs(inputs))
        x, y = split.transform(x, y)
        scale = 1.0 / self.current_gradient_accumulation_steps
        # parameter penalties once a step, on the micro-batch whose gradient is synced
        last = bool(self.accelerator.sync_gradients)
        loss = self._micro_loss(split, model, x, y, index, scale, last)
        self.accelerator.backward(loss, create_graph=split.recipe.create_graph)
        if self._closure_step is not None:
            self._window.append((x, y, index, scale, loss.detach()))
            if last:
                window, self._window = self._window, []
                self._closure_step.closure = self._window_closure(split, model, window)
        return loss.detach()

    def _micro_loss(self, split: Split, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                    index: torch.Tensor | None, scale: float, last: bool) -> torch.Tensor:
        """One micro-batch's loss: (data loss + activity penalties) * scale, plus the parameter
        penalties, undivided, on the window's last micro-batch."""
        with self.compute_loss_context_manager():
            out = _outputs(model(x))
            loss = split.loss(out, y, index, parameter_penalties=False) * scale
            if last:
                for i, penalty in enumerate(split.recipe.penalties):
                    if penalty in split.parameter_penalties:
                        value = penalty()
                        split.last_values[i] = value.detach()
                        loss = loss + value
        return loss

    def _window_closure(self, split: Split, model: torch.nn.Module,
                        window: list[Any]) -> Callable[[], torch.Tensor]:
        """The closure of a closure-evaluating optimizer over one accumulation window.

        Its first pass is the forward-backward already made on each micro-batch (the gradient
        is in place); each later pass zeroes the gradient and re-runs every micro-batch of the
        window on its transformed batch, the earlier ones without gradient sync. It returns the
        window's loss (the mean data loss plus the penalties).
        """
        first = [torch.stack([entry[4] for entry in window]).sum()]

        def closure() -> torch.Tensor:
            if first:  # the passes at w were just made: their gradient is in place
                return first.pop()
            self._closure_step.zero_grad()  # type: ignore[union-attr]
            losses = []
            for i, (x, y, index, scale, _) in enumerate(window):
                last = i == len(window) - 1
                with contextlib.nullcontext() if last else self.accelerator.no_sync(model):
                    again = self._micro_loss(split, model, x, y, index, scale, last)
                    self.accelerator.backward(again, create_graph=split.recipe.create_graph)
                losses.append(again.detach())
            return torch.stack(losses).sum()

        return closure

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # training logs: add each method's strength and each penalty's value
            logs = {**logs, **reglab_logs(self.reglab_methods, self.split)}
        super().log(logs, start_time)

    # ------------------------------------------------------------------ checkpoints
    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        super()._save_optimizer_and_scheduler(output_dir)
        if self.args.should_save:
            torch.save({"methods": methods_state(self.reglab_methods)}, os.path.join(output_dir, STATE_FILE))

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        path = os.path.join(checkpoint, STATE_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} is missing: the checkpoint was not written by ReglabTrainer")
        state = torch.load(path, map_location=self.args.device, weights_only=False)
        load_methods_state(self.reglab_methods, state["methods"])


def reglab_logs(methods: Sequence[object], split: Split | None) -> dict[str, float]:
    """Each method's current strength and each penalty's last value, as log entries."""
    logs = {f"reglab/strength/{name}": value for name, value in strengths(methods).items()}
    if split is not None:
        for i, value in sorted(split.last_values.items()):
            logs[f"reglab/value/{i}-{type(split.recipe.penalties[i]).__name__}"] = float(value)
    return logs


class ReglabTrainerCallback(TrainerCallback):
    """Post-step hooks and strength logging for a plain ``transformers.Trainer``.

    For methods that need no change to the loss: post-step hooks (attached to the Trainer's
    optimizer when training begins, so they run right after each optimizer step, before the
    scheduler) and any method with a strength, which is added to the training logs. Other
    methods (penalties, transforms, losses) need ``ReglabTrainer``; they are refused here.
    """

    def __init__(self, methods: Sequence[object]) -> None:
        self.methods = check_methods(methods)
        inside = [m for m in self.methods if kind_of(m) is not Kind.POST_STEP]
        if inside:
            names = ", ".join(type(m).__name__ for m in inside)
            raise ValueError(
                f"{names} change the loss, which a TrainerCallback cannot do: use "
                "ReglabTrainer(..., methods=[...]) instead"
            )

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        optimizer = kwargs.get("optimizer")
        while optimizer is not None and type(optimizer).__module__.startswith("accelerate"):
            optimizer = optimizer.optimizer  # accelerate's AcceleratedOptimizer
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"ReglabTrainerCallback needs the Trainer's optimizer, got {type(optimizer).__name__}")
        for hook in self.methods:
            hook.attach(optimizer)  # type: ignore[attr-defined]

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
               **kwargs: Any) -> None:
        if logs is None or "loss" not in logs:  # training logs only
            return
        entries = reglab_logs(self.methods, None)
        logs.update(entries)  # seen by the callbacks after this one (reporting integrations)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(entries)
