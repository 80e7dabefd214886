import pytest
import torch

import reglab as rl
from reglab._core import registry
from reglab._core.registry import Family, Kind, Paper, register


def test_available_lists_sorted_names_and_filters_by_family():
    names = rl.available()
    assert names == sorted(names) and "l2" in names
    assert "l2" in rl.available(Family.PARAMETER_PENALTY)
    assert "l2" in rl.available("parameter-penalty")
    assert "l2" not in rl.available("loss")
    with pytest.raises(ValueError, match="did you mean 'loss'"):
        rl.available("los")


def test_create_builds_with_kwargs_and_unknown_names_suggest():
    pen = rl.create("l2", params=[torch.ones(3)], strength=2.0)
    assert isinstance(pen, rl.L2)
    assert float(pen()) == pytest.approx(2.0 * 0.5 * 3)
    with pytest.raises(rl.UnknownNameError, match="did you mean 'l2'"):
        rl.create("l3")


def test_card_is_the_module_docstring_and_defaults_come_from_the_signature():
    card = rl.card("l2")
    assert card.startswith("L2 penalty") and "arXiv:1711.05101" in card
    entry = rl.entry("l2")
    assert entry.defaults == {"strength": 1e-4}
    assert entry.family is Family.PARAMETER_PENALTY and entry.kind is Kind.PENALTY


def test_register_rejects_bad_and_duplicate_names():
    paper = Paper("A", "T", 2020)
    with pytest.raises(ValueError, match="lower-case words"):
        register("Bad_Name", family=Family.LOSS, kind=Kind.LOSS, paper=paper)
    with pytest.raises(ValueError, match="already registered"):
        register("l2", family=Family.LOSS, kind=Kind.LOSS, paper=paper)(object)


def test_metric_entries_bind_keyword_arguments():
    entry = registry.MethodEntry("m", Family.DIAGNOSTIC, Kind.METRIC, Paper("A", "T", 2020),
                                 lambda z, eps=1e-7: z.sum() + eps)
    f = entry.build(eps=1.0)
    assert float(f(torch.ones(2))) == 3.0
    with pytest.raises(TypeError):
        entry.build(nope=1)


def test_paper_citation_and_link():
    p = Paper("Ann Author", "A Title", 2021, arxiv="2101.00001")
    assert p.link() == "https://arxiv.org/abs/2101.00001"
    assert p.cite() == "Ann Author. A Title. 2021. arXiv:2101.00001"
    assert Paper("B", "C", 1999, url="http://x").link() == "http://x"


def test_entry_of_finds_the_registered_class_only():
    assert registry.entry_of(rl.L2([torch.ones(1)])).name == "l2"
    assert registry.entry_of(torch.nn.Linear(1, 1)) is None
