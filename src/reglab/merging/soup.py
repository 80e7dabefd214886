"""Model soups: average the weights of models fine-tuned from one initialization.

Equation::

    uniform soup:  θ_soup = (1/k) Σ_i θ_i
    greedy soup:   order the k models by held-out score s(θ_i), best first; start with the best;
                   for each next model j: if s(mean(soup ∪ {θ_j})) > s(mean(soup)), add it

The greedy soup is never worse on the held-out set than the best single model (the first
candidate is that model), which is why the paper recommends it over the uniform soup, which a
bad member (too high a learning rate) can ruin.

Arguments:
    state_dicts: a sequence of ``k >= 1`` state dicts with the same keys, shapes and dtypes
        (a mismatch raises ``ValueError`` naming the key). Floating entries are averaged;
        integer entries (BatchNorm's ``num_batches_tracked``) are taken from the first member.
    evaluate: (greedy) a function ``state_dict -> float``, the held-out score, higher is better
        (accuracy, or minus the loss). It is called k times on the members and k − 1 times on
        candidate soups.
    model, batches: optional BatchNorm recalibration (``reglab.recalibrate_batchnorm``): with
        ``batches`` given, every soup (and greedy candidate) is loaded into ``model``, its
        BatchNorm statistics are recomputed over ``batches``, and the recalibrated state dict
        is what is evaluated and returned. ``model`` is changed in place.

Returns:
    ``uniform_soup``: the averaged state dict. ``greedy_soup``: a ``GreedySoup`` with the
    state dict, ``members`` (indices into ``state_dicts``, in the order they were added) and
    ``score`` (the soup's held-out score).

Example:
    >>> import torch, reglab as rl
    >>> a = {"w": torch.tensor([0.0, 2.0])}
    >>> b = {"w": torch.tensor([2.0, 2.0])}
    >>> rl.uniform_soup([a, b])["w"]
    tensor([1., 2.])
    >>> target = torch.tensor([1.0, 2.0])
    >>> soup = rl.greedy_soup([a, b], lambda sd: -float((sd["w"] - target).abs().sum()))
    >>> soup.members, soup.state_dict["w"]
    ([0, 1], tensor([1., 2.]))

Reference:
    Mitchell Wortsman, Gabriel Ilharco, Samir Yitzhak Gadre, Rebecca Roelofs, Raphael
    Gontijo-Lopes, Ari S. Morcos, Hongseok Namkoong, Ali Farhadi, Yair Carmon, Simon Kornblith,
    Ludwig Schmidt. Model soups: averaging weights of multiple fine-tuned models improves
    accuracy without increasing inference time. ICML 2022. arXiv:2203.05482 (recipe 1, greedy).

Reading taken:
    The paper's text says a model is added when held-out accuracy does not drop; its recipe
    and code add it only when the score strictly improves (``>``). We follow the strict rule,
    so a member that leaves the score unchanged is left out (fewer members, same score).

When BatchNorm recalibration is needed:
    Whenever the model has BatchNorm layers and the members differ: the averaged running
    statistics do not match the averaged weights' activations, and accuracy can fall to
    near chance. Pass ``model`` and ``batches`` (a few hundred training examples suffice), or
    call ``reglab.recalibrate_batchnorm`` on the loaded soup. Models with LayerNorm, GroupNorm
    or no normalization need none. The paper's CLIP/ViT models have no BatchNorm.

Traps:
    - All members must be fine-tuned from the same pretrained weights: averaging independently
      initialized networks lands between basins and collapses toward chance.
    - ``evaluate`` must score on held-out data, not the test set, or the selection overfits it.
    - The members must not be changed while souping; the soup is a new dict of new tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import torch
from torch import nn

from reglab._core.registry import Family, Kind, Paper, register
from reglab._core.samples import Sample, SampleContext
from reglab.merging._state import StateDict, averaged, check_state_dicts, summed
from reglab.merging.batchnorm import recalibrate_batchnorm

__all__ = ["GreedySoup", "greedy_soup", "uniform_soup"]

MODEL_SOUPS = Paper(
    authors="Mitchell Wortsman, Gabriel Ilharco, Samir Yitzhak Gadre, Rebecca Roelofs, et al.",
    title="Model soups: averaging weights of multiple fine-tuned models improves accuracy without "
    "increasing inference time",
    year=2022,
    arxiv="2203.05482",
)


class GreedySoup(NamedTuple):
    state_dict: dict[str, torch.Tensor]
    members: list[int]
    score: float


def _recalibrator(
    model: nn.Module | None, batches: Iterable[Any] | None
) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """Identity without ``batches``; else load, recompute BatchNorm statistics, copy back."""
    if batches is None:
        if model is not None:
            raise ValueError("model is only used for BatchNorm recalibration: pass batches= too")
        return lambda sd: sd
    if not isinstance(model, nn.Module):
        raise ValueError(f"batches= recalibrates BatchNorm in model=, which must be an nn.Module, got {model!r}")
    if isinstance(batches, torch.Tensor):
        raise TypeError("batches must be an iterable of batches (a list or a DataLoader), not one tensor")
    batches = list(batches)  # used once per candidate soup

    def recalibrate(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        model.load_state_dict(sd)
        recalibrate_batchnorm(model, batches)
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    return recalibrate


def _score(evaluate: Callable[[StateDict], Any], sd: StateDict) -> float:
    value = evaluate(sd)
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"evaluate must return a number, got {type(value).__name__}") from None
    if score != score:
        raise ValueError("evaluate returned NaN; it must return a finite held-out score")
    return score


def uniform_soup(
    state_dicts: Sequence[StateDict],
    *,
    model: nn.Module | None = None,
    batches: Iterable[Any] | None = None,
) -> dict[str, torch.Tensor]:
    """The entry-wise mean of ``state_dicts``; see ``reglab.card("model-soup")``."""
    dicts = check_state_dicts("state_dicts", state_dicts)
    recalibrate = _recalibrator(model, batches)
    return recalibrate(averaged(summed(dicts), len(dicts), dicts[0]))


def _sample(ctx: SampleContext) -> Sample:
    base = ctx.model.state_dict()
    g = torch.Generator().manual_seed(3)
    dicts = [{k: v + 0.1 * torch.randn(v.shape, generator=g, dtype=v.dtype) for k, v in base.items()}
             for _ in range(3)]

    def evaluate(sd: StateDict) -> float:
        return -float(sum((v - base[k]).square().sum() for k, v in sd.items()))

    return Sample(
        kwargs={}, inputs=(dicts, evaluate),
        invalid=({"batches": [ctx.x]}, {"model": ctx.model}),
    )


@register(
    "model-soup", family=Family.CONTINUAL, kind=Kind.WEIGHTS, paper=MODEL_SOUPS, sample=_sample
)
def greedy_soup(
    state_dicts: Sequence[StateDict],
    evaluate: Callable[[StateDict], Any],
    *,
    model: nn.Module | None = None,
    batches: Iterable[Any] | None = None,
) -> GreedySoup:
    """Greedy soup: add members, best first, while the held-out score strictly improves."""
    dicts = check_state_dicts("state_dicts", state_dicts)
    if not callable(evaluate):
        raise TypeError(f"evaluate must be a function state_dict -> score, got {type(evaluate).__name__}")
    recalibrate = _recalibrator(model, batches)
    scores = [_score(evaluate, sd) for sd in dicts]
    order = sorted(range(len(dicts)), key=lambda i: -scores[i])  # stable: ties keep input order
    members = [order[0]]
    total = summed([dicts[order[0]]])
    soup = {k: v.clone() for k, v in total.items()}
    best = scores[order[0]]
    for j in order[1:]:
        candidate_total = {
            k: (v + dicts[j][k].detach() if v.is_floating_point() else v) for k, v in total.items()
        }
        candidate = recalibrate(averaged(candidate_total, len(members) + 1, dicts[members[0]]))
        score = _score(evaluate, candidate)
        if score > best:
            members.append(j)
            total, soup, best = candidate_total, candidate, score
    return GreedySoup({k: v.detach().clone() for k, v in soup.items()}, members, best)
