"""The harness keeps the final weights of fine-tuning runs, keyed by the run."""

import torch

from reglab.bench.evaluation import evaluate
from reglab.bench.run_weights import load_weights, weights_path
from reglab.bench.runs import Settings, Status, resolve
from reglab.bench.train import execute, prepare

FAST = Settings(
    data={"pretrain_steps": 5, "pretrain_batch_size": 32},
    model={"arch": "mlp", "width": 16, "depth": 1},
    budget={"steps": 3, "eval_every": 3},
)


def test_a_finetune_run_keeps_the_final_weights_it_reports_metrics_of(tmp_path):
    config = resolve("finetune-digits", "none", 1, [FAST])
    result = execute(config, tmp_path)
    assert result.status is Status.DONE, result.message
    assert weights_path(tmp_path, config.key).exists()
    state = load_weights(tmp_path, config.key)
    split, x_train, x_test, model, _ = prepare(config, tmp_path)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    assert any(not torch.equal(start[k], v) for k, v in state.items())  # trained, not the start
    model.load_state_dict(state)
    again = evaluate(model, split, x_train, x_test)
    assert again["test_acc"] == result.metrics["test_acc"]
    assert again["shift_acc"] == result.metrics["shift_acc"]


def test_tasks_that_do_not_keep_weights_and_runs_without_a_cache_write_none(tmp_path):
    digits = resolve("digits", "none", 0, [Settings(model={"arch": "mlp", "width": 8},
                                                    budget={"steps": 2, "eval_every": 2})])
    assert execute(digits, tmp_path).status is Status.DONE
    assert not (tmp_path / "weights").exists()
    finetune = resolve("finetune-digits", "none", 0, [FAST])
    assert execute(finetune, None).status is Status.DONE  # no cache folder: nothing to keep
    assert load_weights(tmp_path, finetune.key) is None
