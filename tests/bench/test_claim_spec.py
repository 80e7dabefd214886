"""A parsed claim's run configs: one per arm and seed, with the quick overrides."""

from claim_fixtures import CLAIM

from reglab.bench.claims import parse_claim


def test_configs_per_arm_with_quick_overrides():
    claim = parse_claim(CLAIM, "x")
    full, quick = claim.configs(quick=False), claim.configs(quick=True)
    assert [c.seed for c in full["l2"]] == [0, 1, 2] and len(quick["plain"]) == 2
    assert quick["l2"][0].steps == 10 and full["l2"][0].steps == 20
    assert full["plain"][0].optimizer["lr"] == 0.01 and full["l2"][0].optimizer["lr"] == 1e-3
    assert full["l2"][0].methods == [{"name": "l2", "args": {"strength": 1e-4}}]
