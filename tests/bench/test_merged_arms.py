"""Merged arms of a claim: soups, best-on-validation and DARE built from kept run weights."""

import pytest
import torch

from reglab.bench import streams
from reglab.bench.claims import evaluate, parse_claim
from reglab.bench.evaluation import evaluate as evaluate_model
from reglab.bench.run_weights import load_weights, weights_path
from reglab.bench.store import Store
from reglab.bench.train import execute, prepare
from reglab.merging import dare_merge

LRS = {"lr-a": 1e-3, "lr-b": 3e-2, "lr-c": 3e-1}
SOUP = {
    "id": "soup",
    "paper": "P",
    "statement": "soups",
    "task": "finetune-digits",
    "data": {"pretrain_steps": 5, "pretrain_batch_size": 32, "val_per_class": 4},
    "model": {"arch": "mlp", "width": 16, "depth": 1},
    "budget": {"steps": 4, "eval_every": 4},
    "seeds": 2,
    "arms": {k: {"recipe": "none", "optimizer": {"lr": v}} for k, v in LRS.items()},
    "merges": {
        "uniform": {"kind": "uniform-soup", "of": list(LRS)},
        "greedy": {"kind": "greedy-soup", "of": list(LRS)},
        "best": {"kind": "best", "of": list(LRS)},
        "same": {"kind": "dare", "of": ["lr-a"], "p": 0.0},
        "dropped": {"kind": "dare", "of": ["lr-c"], "p": 0.9},
    },
    "checks": [
        {"measure": "test_acc", "difference": ["uniform", "lr-a"], "below": 0},
        {"measure": "test_acc", "difference": ["greedy", "best"], "above": 0},
        {"measure": "shift_acc", "difference": ["same", "lr-a"], "within": 0.01},
        {"measure": "test_acc", "difference": ["dropped", "lr-c"], "below": 0},
        {"measure": "test_acc", "arm": "best", "above": 0},
    ],
}


@pytest.fixture(scope="module")
def soup_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("soup")
    claim = parse_claim(SOUP, "x")
    configs = claim.configs(quick=False)
    with Store(folder / "results.db") as store:
        for runs in configs.values():
            for c in runs:
                store.write(c, execute(c, folder / "cache"))
    return claim, configs, folder


def _metrics(config, state, cache):
    split, x_train, x_test, model, _ = prepare(config, cache)
    model.load_state_dict(state)
    out = evaluate_model(model, split, x_train, x_test)
    model.eval()
    with torch.no_grad():
        out["val_acc"] = float((model(split.x_val).argmax(1) == split.y_val).double().mean())
    return out


def test_merged_arms_equal_hand_made_soups_and_merges(soup_store):
    claim, configs, folder = soup_store
    cache = folder / "cache"
    with Store(folder / "results.db") as store:
        result = evaluate(claim, store, quick=False)  # the cache beside the store by default
    uniform, greedy, same, dropped, best_arm = result["checks"]
    assert uniform["n"] == greedy["n"] == same["n"] == dropped["n"] == 2
    uniform_diffs, best_accs, dropped_diffs = [], [], []
    for seed in range(2):
        members = [configs[a][seed] for a in LRS]
        states = [load_weights(cache, c.key) for c in members]
        mean = {k: sum(s[k] for s in states) / 3 for k in states[0]}  # a hand-averaged soup
        alone = [_metrics(c, s, cache) for c, s in zip(members, states)]
        uniform_diffs.append(_metrics(members[0], mean, cache)["test_acc"] - alone[0]["test_acc"])
        vals = [m["val_acc"] for m in alone]
        best = alone[vals.index(max(vals))]
        assert f"best seed {seed}: {list(LRS)[vals.index(max(vals))]}" in result["notes"]
        best_accs.append(best["test_acc"])
        assert any(n.startswith(f"greedy soup seed {seed}: ") for n in result["notes"])
        # DARE's base is the run's start (pretrained body, fresh head), its masks the seed's stream
        c = configs["lr-c"][seed]
        start = prepare(c, cache)[3].state_dict()
        gen = streams.generator(seed, "merge/dropped")
        merged = dare_merge(start, [load_weights(cache, c.key)], p=0.9, generator=gen)
        own = _metrics(c, load_weights(cache, c.key), cache)["test_acc"]
        dropped_diffs.append(_metrics(c, merged, cache)["test_acc"] - own)
    assert uniform["mean"] == pytest.approx(sum(uniform_diffs) / 2)
    assert best_arm["mean"] == pytest.approx(sum(best_accs) / 2)
    assert dropped["mean"] == pytest.approx(sum(dropped_diffs) / 2)
    assert same["mean"] == pytest.approx(0.0, abs=1e-12)  # p = 0 keeps the whole delta: the run itself
    assert same["verdict"] == "held"


def test_a_member_without_weights_leaves_its_seed_out_with_a_note(soup_store, tmp_path):
    claim, configs, folder = soup_store
    import shutil

    shutil.copytree(folder, tmp_path / "copy")
    gone = configs["lr-b"][1].key
    weights_path(tmp_path / "copy" / "cache", gone).unlink()
    with Store(tmp_path / "copy" / "results.db") as store:
        result = evaluate(claim, store, quick=False)
    assert result["checks"][0]["n"] == 1 and result["checks"][2]["n"] == 2
    assert any(f"uniform seed 1 left out (run {gone}" in n for n in result["notes"])


@pytest.mark.parametrize(
    "merges, checks, message",
    [
        ({"u": {"kind": "uniform-soup", "of": ["lr-z"]}}, None, "unknown arm 'lr-z'"),
        ({"u": {"kind": "dare", "of": ["lr-a", "lr-b"]}}, None, "dare merge is of one arm"),
        ({"u": {"kind": "uniform-soup", "of": ["lr-a"], "p": 0.5}}, None, "'p' is the drop rate"),
        ({"u": {"kind": "dare", "of": ["lr-a"], "p": 1.0}}, None, "p must be"),
        ({"u": {"kind": "stew", "of": ["lr-a"]}}, None, "kind"),
        ({"lr-a": {"kind": "best", "of": ["lr-b"]}}, None, "name of a trained arm"),
        ({"u": {"kind": "best", "of": ["lr-a"]}},
         [{"measure": "max(test_acc)", "arm": "u", "above": 0}], "only the final metrics"),
        ({"u": {"kind": "best", "of": ["lr-a"]}},
         [{"measure": "feature_rank", "arm": "u", "above": 0}], "only the final metrics"),
    ],
)
def test_bad_merges_are_refused_when_parsed(merges, checks, message):
    raw = {**SOUP, "merges": merges, "checks": checks or [{"measure": "test_acc", "arm": "lr-a", "above": 0}]}
    with pytest.raises(ValueError, match=message):
        parse_claim(raw, "x")


def test_merged_runs_must_share_the_split_and_the_start():
    arms = {**SOUP["arms"], "wide": {"recipe": "none", "model": {"width": 32}}}
    raw = {**SOUP, "arms": arms, "merges": {"u": {"kind": "uniform-soup", "of": ["lr-a", "wide"]}},
           "checks": [{"measure": "test_acc", "arm": "u", "above": 0}]}
    with pytest.raises(ValueError, match="'wide' has other model settings"):
        parse_claim(raw, "x")


def test_choosing_on_validation_needs_a_validation_set(tmp_path):
    raw = {**SOUP, "data": {**SOUP["data"], "val_per_class": 0}, "seeds": 1,
           "merges": {"g": {"kind": "greedy-soup", "of": ["lr-a"]}},
           "checks": [{"measure": "test_acc", "arm": "g", "above": 0}]}
    claim = parse_claim(raw, "x")
    c = claim.configs(quick=False)["lr-a"][0]
    with Store(tmp_path / "results.db") as store:
        store.write(c, execute(c, tmp_path / "cache"))
        with pytest.raises(ValueError, match="val_per_class"):
            evaluate(claim, store, quick=False)
