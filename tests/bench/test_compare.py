"""reglab compare: the same budget for every method, picked on validation, ranked with ties."""

import itertools

import yaml

from reglab._cli.main import main
from reglab.bench.compare import bundled_leagues, league_for, load_league, rank_with_ties
from reglab.bench.store import Store

LEAGUE = {
    "description": "tiny",
    "task": "digits",
    "settings": {"data": {"train_size": 150}, "model": {"arch": "mlp", "width": 8}},
    "full": {"points": 3, "seeds": 3},
    "quick": {"points": 2, "seeds": 2, "steps": 3, "eval_every": 3},
    "entries": [
        {"name": "l2", "recipe": "l2", "param": "methods.0.strength=log:1e-4:1e-1"},
        {
            "name": "ls",
            "methods": [{"label-smoothing": {"smoothing": 0.1}}],
            "param": "methods.0.smoothing=linear:0.1:0.5",
        },
        {"name": "none", "recipe": "none"},
    ],
}


def test_rank_with_ties_matches_a_pairwise_reference():
    ests = [(0.9, 0.85, 0.95), (0.8, 0.78, 0.82), (0.88, 0.83, 0.93), (0.5, 0.4, 0.79)]
    ref = []
    for e in ests:  # beaten by every interval wholly above its own
        ref.append(1 + sum(1 for o in ests if o is not e and o[1] > e[2]))
    assert rank_with_ties(ests) == ref == [1, 3, 1, 3]  # 0.79 overlaps 0.78
    for a, b in itertools.permutations(ests, 2):  # overlapping intervals never split ranks apart
        ra, rb = rank_with_ties([a, b])
        assert (ra == rb) == (not (a[1] > b[2] or b[1] > a[2]))


def test_bundled_leagues_parse_and_give_every_method_the_same_budget():
    assert {"label-noise", "augmentation", "sharpness", "penalties"} <= set(bundled_leagues())
    for name in bundled_leagues():
        league = load_league(name)
        sel = league.selection_configs(quick=True)
        sizes = {len(v) for e, v in sel.items() if e != league.baseline}
        assert sizes == {league.quick.points}, name
        assert all(c.data["validation"] > 0 for v in sel.values() for _, c in v)
        finals = league.final_configs({}, quick=True)
        assert all(c.data["validation"] == 0 for cs in finals.values() for c in cs)
    custom = league_for("noisy-digits", ["elr", "mixup"])
    assert [e.name for e in custom.entries] == ["elr", "mixup", "none"]


def test_compare_picks_on_validation_runs_seeds_and_reports(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(LEAGUE))
    results = tmp_path / "res"
    argv = ["compare", str(path), "--quick", "--results", str(results), "--workers", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "tiny on digits" in out and "cost" in out
    with Store(results / "results.db", readonly=True) as store:
        rows = store.runs()
        ((_, mode, result),) = [c for c in store.claims()]
    assert mode == "league quick" and len(rows) == 2 * 2 + 3 * 2
    by_key = {r.key: r for r in rows}
    for r in result["rows"]:
        if r["param"] is None:
            continue
        scored = [(s, -v) for v, s in r["validation"] if s is not None]
        assert r["pick"] == -max(scored)[1]  # the best validation score (ties: the smaller)
        finals = [by_key[k] for k in r["keys"]]
        assert [f.config.seed for f in finals] == [0, 1]
        assert all(f.config.data["validation"] == 0 for f in finals)
        arg = r["param"].rsplit(".", 1)[-1]
        assert all(f.config.methods[0]["args"][arg] == r["pick"] for f in finals)
    base = next(r for r in result["rows"] if r["entry"] == "none")
    assert base["cost"] == 1.0
    assert main(argv) == 0  # again: everything stored, nothing runs
    assert "were already in" in capsys.readouterr().out
    report = tmp_path / "report"
    assert main(["report", "--results", str(results), "--out", str(report)]) == 0
    summary = (report / "summary.md").read_text()
    assert "League tables" in summary and "tiny on digits (quick)" in summary
    assert (report / "league-1.png").exists()
