"""Against what users would write or pick instead (issue 17): paired ratios peer time / our time.

- Mixup and CutMix, batch and per-sample modes, against timm's ``Mixup`` ('batch' / 'elem'
  modes) on the same 256×3×32×32 batch (goal: >= 1 for the batch modes). timm is an optional
  peer: ``make bench`` installs it with ``pip install --no-deps`` and only its ``data/mixup.py``
  is loaded here (by file path, so neither torchvision nor the rest of timm is imported); without
  timm these rows are skipped with the reason. timm mixes in place, so it is timed on the
  caller's batch as a user would call it; ours returns a new batch by default, and mixes the
  caller's batch in place, like timm, with ``inplace=True`` (both rows are reported). Mixing in
  place repeatedly keeps the values bounded (convex combinations, pasted pixels).
- A training step with ``L2`` against the same step with ``torch.optim.SGD(weight_decay=...)``
  on the same tensors (the no-decay group for biases, as ``reglab.select`` leaves them out); a
  step with ``L1`` against the hand-written ``sum(w.abs().sum() for w in weights)``; a step with
  ``ElasticNet`` against the hand loop plus SGD's weight decay. MLP 64-256-256-10 and a small CNN,
  batch 128 and 1024 (goal: step time ours / peer <= 1.05; these rows are ours / peer). Each
  penalty is timed both ways a user can apply it: as a loss term (``loss + pen()``, the default)
  and attached to the optimizer (``pen.attach(opt)``: the gradient added in the step, as weight
  decay is; the goal applies to this form, the loss-term rows are reported). A
  fourth row per net times a penalty that computes nothing (an ``autograd.Function`` on the
  weights returning 0 and no gradient) against SGD's weight decay: the cost of the loss-term
  interface itself, below which no ``loss + pen()`` can go.

The transform rows are peer / ours (above 1: ours faster). Ratios are the median over back-to-back pairs (``_timing.paired_ratios``), with the quartiles.
Run: ``.venv/bin/python -m benchmarks.bench_peers`` (writes benchmarks/results/peers.json).
"""

from __future__ import annotations

import importlib.util
import sysconfig
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import reglab as rl
from benchmarks._timing import paired_ratios, report, save

N, C, H, W, K = 256, 3, 32, 32, 10
TIMM_VERSION = "1.0.31"  # the version `make bench` installs (pip install --no-deps)


def load_timm_mixup() -> tuple[ModuleType | None, str]:
    """timm's ``data/mixup.py`` loaded alone by file path, or None and the reason it is absent."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        purelib = Path(sysconfig.get_paths()["purelib"])
        path = purelib / "timm" / "data" / "mixup.py"
    else:
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "mixup.py"
    if not path.is_file():
        return None, f"timm is not installed (pip install --no-deps timm=={TIMM_VERSION})"
    file_spec = importlib.util.spec_from_file_location("_timm_mixup", path)
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module, ""


def _row(name: str, r: dict[str, float], goal: str, peer: str, ours_over_peer: bool = False
         ) -> dict[str, Any]:
    """A result row: peer / ours (above 1: ours faster), or ours / peer when asked."""
    ratio, q1, q3 = r["ratio"], r["q1"], r["q3"]
    if ours_over_peer:  # the median commutes with 1/x; the quartiles swap
        ratio, q1, q3 = 1.0 / ratio, 1.0 / q3, 1.0 / q1
    return {"benchmark": name, "ratio": ratio, "goal": goal, "peer": peer,
            "quartiles": f"{q1:.3f}-{q3:.3f}",
            "peer_ms": round(r["peer"] * 1e3, 3), "ours_ms": round(r["ours"] * 1e3, 3)}


def transforms_vs_timm() -> list[dict[str, Any]]:
    timm, reason = load_timm_mixup()
    if timm is None:
        print(f"skipped Mixup / CutMix against timm: {reason}")
        return []
    torch.manual_seed(0)
    x, y = torch.randn(N, C, H, W), torch.randint(0, K, (N,))
    g = torch.Generator().manual_seed(0)
    peer = f"timm {TIMM_VERSION} Mixup"

    def timm_mix(mode: str, cutmix: bool) -> Any:
        alphas = {"mixup_alpha": 0.0, "cutmix_alpha": 1.0} if cutmix else {"mixup_alpha": 1.0}
        return timm.Mixup(**alphas, mode=mode, label_smoothing=0.0, num_classes=K)

    cases = [
        ("Mixup batch mode", "batch", False, rl.Mixup(1.0, K, generator=g)),
        ("CutMix batch mode", "batch", True, rl.CutMix(1.0, K, generator=g)),
        ("Mixup batch mode, inplace=True", "batch", False, rl.Mixup(1.0, K, generator=g, inplace=True)),
        ("CutMix batch mode, inplace=True", "batch", True, rl.CutMix(1.0, K, generator=g, inplace=True)),
        ("Mixup per-sample", "elem", False, rl.Mixup(1.0, K, per_sample=True, generator=g)),
        ("CutMix per-sample", "elem", True, rl.CutMix(1.0, K, per_sample=True, generator=g)),
    ]
    rows = []
    for name, mode, cutmix, ours in cases:
        theirs = timm_mix(mode, cutmix)
        r = paired_ratios(lambda t=theirs: t(x, y), lambda o=ours: o(x, y), pairs=30)
        goal = ">= 1" if mode == "batch" else "report"
        rows.append(_row(f"{name}: timm '{mode}' / ours (256x3x32x32)", r, goal, peer))
    return rows


def _mlp(batch: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, torch.randn(batch, 64), torch.randint(0, 10, (batch,))


def _cnn(batch: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 10),
    )
    return model, torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))


def _sgd(model: nn.Module, weight_decay: float) -> torch.optim.SGD:
    """SGD with momentum; ``weight_decay`` on the weights only (biases in a no-decay group)."""
    weights = rl.select(model).params()
    chosen = {id(p) for p in weights}
    others = [p for p in model.parameters() if id(p) not in chosen]
    return torch.optim.SGD([{"params": weights, "weight_decay": weight_decay},
                            {"params": others, "weight_decay": 0.0}], lr=1e-3, momentum=0.9)


def _step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer,
          penalty: Callable[[], torch.Tensor] | None) -> Callable[[], None]:
    def run() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if penalty is not None:
            loss = loss + penalty()
        loss.backward()
        opt.step()
    return run


class _NoOpPenalty(torch.autograd.Function):
    """An autograd node on the weights that computes nothing: the floor of any loss-term penalty
    (``loss + pen()``: one more node forward and backward), against decay inside the optimizer."""

    @staticmethod
    def forward(ctx: Any, *weights: torch.Tensor) -> torch.Tensor:
        return weights[0].new_zeros(())

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, ...]:
        return (None,) * len(ctx.needs_input_grad)


def penalties_vs_natural(only: str = "") -> list[dict[str, Any]]:
    """Step-time rows for every net whose name contains ``only`` (all by default)."""
    rows = []
    lam = 1e-4
    nets = (("MLP 64-256-256-10, batch 128", lambda: _mlp(128), 20, 10),
            ("MLP 64-256-256-10, batch 1024", lambda: _mlp(1024), 20, 4),
            ("CNN 2 conv + linear, batch 128", lambda: _cnn(128), 12, 1),
            ("CNN 2 conv + linear, batch 1024", lambda: _cnn(1024), 6, 1))
    for net, build, pairs, calls in nets:
        if only not in net:
            continue
        torch.manual_seed(0)
        model, x, y = build()
        weights = rl.select(model).params()

        def hand_l1(weights=weights) -> torch.Tensor:
            return lam * sum(w.abs().sum() for w in weights)

        def attached(pen: nn.Module, model=model, x=x, y=y) -> Callable[[], None]:
            opt = _sgd(model, 0.0)
            pen.attach(opt)
            return _step(model, x, y, opt, None)

        cases = (
            ("L2 attached", "SGD(weight_decay)", _step(model, x, y, _sgd(model, lam), None),
             attached(rl.L2(model, lam))),
            ("L2 as a loss term", "SGD(weight_decay)", _step(model, x, y, _sgd(model, lam), None),
             _step(model, x, y, _sgd(model, 0.0), rl.L2(model, lam))),
            ("L1 attached", "hand loop sum(w.abs().sum())", _step(model, x, y, _sgd(model, 0.0), hand_l1),
             attached(rl.L1(model, lam))),
            ("L1 as a loss term", "hand loop sum(w.abs().sum())", _step(model, x, y, _sgd(model, 0.0), hand_l1),
             _step(model, x, y, _sgd(model, 0.0), rl.L1(model, lam))),
            ("ElasticNet attached", "hand L1 loop + SGD(weight_decay)",
             _step(model, x, y, _sgd(model, 0.5 * lam), lambda: 0.5 * hand_l1()),
             attached(rl.ElasticNet(model, lam, l1_ratio=0.5))),
            ("ElasticNet as a loss term", "hand L1 loop + SGD(weight_decay)",
             _step(model, x, y, _sgd(model, 0.5 * lam), lambda: 0.5 * hand_l1()),
             _step(model, x, y, _sgd(model, 0.0), rl.ElasticNet(model, lam, l1_ratio=0.5))),
            ("a no-op autograd.Function (floor of a loss term)", "SGD(weight_decay)",
             _step(model, x, y, _sgd(model, lam), None),
             _step(model, x, y, _sgd(model, 0.0), lambda w=weights: _NoOpPenalty.apply(*w))),
        )
        for name, peer, theirs, ours in cases:
            r = paired_ratios(theirs, ours, pairs=pairs, calls=calls)
            goal = "<= 1.05" if "attached" in name else "report"
            rows.append(_row(f"{net}: step with {name} / step with {peer}", r, goal, peer,
                             ours_over_peer=True))
    return rows


def main() -> None:
    torch.set_num_threads(1)
    rows = transforms_vs_timm() + penalties_vs_natural()
    report(rows)
    print(f"results written to {save('peers', rows)}")


if __name__ == "__main__":
    main()
