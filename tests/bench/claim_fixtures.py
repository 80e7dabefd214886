"""A toy claim (two arms on digits, four kinds of checks) and stored runs for it, shared by the
tests of the claim modules (parsing, checks, configs, verdicts)."""

from reglab.bench.runs import Status
from reglab.bench.train import RunResult

CLAIM = {
    "id": "toy",
    "paper": "A Paper",
    "statement": "l2 beats none",
    "task": "digits",
    "model": {"arch": "mlp", "width": 16, "depth": 1},
    "budget": {"steps": 20, "eval_every": 10},
    "seeds": 3,
    "arms": {"l2": "l2", "plain": {"recipe": "none", "optimizer": {"lr": 0.01}}},
    "checks": [
        {"measure": "test_acc", "difference": ["l2", "plain"], "above": 0.0},
        {"measure": "test_acc", "arm": "l2", "above": 0.5},
        {"measure": "step_ms", "ratio": ["l2", "plain"], "below": 2.0},
        {"measure": "steps_to(test_acc >= 0.9)", "difference": ["l2", "plain"], "below": 0},
    ],
    "quick": {"seeds": 2, "budget": {"steps": 10}},
}


def write(store, config, acc, ms=1.0, status=Status.DONE):
    curve = [(0, "test_acc", 0.1), (config.steps, "test_acc", acc)]
    store.write(config, RunResult(status, {"test_acc": acc}, curve, "", 1.0, ms, {}))
