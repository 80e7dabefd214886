import numpy as np
import pytest
import torch

from reglab.bench.tasks import get_task
from reglab.bench.user_data import load_user_data


def test_npz_with_and_without_a_test_split(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, x=rng.normal(size=(30, 1, 4, 4)), y=np.arange(30) % 3)
    split = load_user_data(path, test_fraction=0.2, seed=0)
    assert split.x_train.shape == (24, 1, 4, 4) and split.num_classes == 3
    assert split.x_train.dtype == torch.float32 and split.vocab is None
    path2 = tmp_path / "data2.npz"
    np.savez(
        path2,
        x=rng.normal(size=(10, 5)),
        y=np.zeros(10),
        x_test=rng.normal(size=(4, 5)),
        y_test=np.ones(4),
    )
    split = load_user_data(path2, test_fraction=0.2, seed=0)
    assert len(split.y_train) == 10 and len(split.y_test) == 4 and split.num_classes == 2


def test_pt_with_integer_tokens_replaces_a_tasks_data(tmp_path):
    path = tmp_path / "tokens.pt"
    x = torch.randint(0, 7, (40, 2))
    torch.save({"x": x, "y": x.sum(1) % 7}, path)
    task = get_task("modular-addition")
    split = task.load(task.options({"data_file": str(path)}), seed=0, cache_dir=None)
    assert split.vocab == 7 and split.num_classes == 7 and len(split.y_train) == 32


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_bytes(b"not a zip file"), "cannot be read as .npz"),
        (lambda p: np.savez(p, x=np.zeros((3, 2))), "missing array 'y'"),
        (lambda p: np.savez(p, x=np.zeros((3, 2)), y=np.zeros(4)), "must have shape \\(3,\\)"),
        (
            lambda p: np.savez(p, x=np.zeros((3, 2)), y=np.array([0.5, 1, 0])),
            "integer class labels",
        ),
        (
            lambda p: np.savez(p, x=np.zeros((3, 2)), y=np.zeros(3), x_test=np.zeros((2, 2))),
            "both 'x_test' and 'y_test'",
        ),
        (lambda p: np.savez(p, x=np.array(["a", "b"]), y=np.zeros(2)), "'x' is not numeric"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises((ValueError, FileNotFoundError), match=message) as info:
        load_user_data(path, test_fraction=0.2, seed=0)
    assert str(path) in str(info.value)


def test_bad_pt_and_suffix(tmp_path):
    pt = tmp_path / "bad.pt"
    pt.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=f"data file {pt}: cannot be read as .pt"):
        load_user_data(pt, 0.2, 0)
    torch.save([1, 2], pt)
    with pytest.raises(ValueError, match="expected a dict of tensors"):
        load_user_data(pt, 0.2, 0)
    csv = tmp_path / "data.csv"
    csv.write_text("1,2")
    with pytest.raises(ValueError, match="unsupported suffix '.csv'"):
        load_user_data(csv, 0.2, 0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("array", ["x", "x_test"])
def test_nan_or_inf_is_refused_naming_the_file_and_first_index(tmp_path, bad, array):
    arrays = {"x": np.zeros((6, 3)), "y": np.arange(6) % 2, "x_test": np.zeros((4, 3))}
    arrays["y_test"] = np.arange(4) % 2
    arrays[array][2, 1] = bad
    arrays[array][3, 0] = bad
    path = tmp_path / "nan.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=f"'{array}' has 2 NaN or infinite.*index \\(2, 1\\)") as e:
        load_user_data(path, test_fraction=0.2, seed=0)
    assert str(path) in str(e.value)


def test_a_label_far_above_the_others_is_refused_and_a_sparse_small_one_warned(tmp_path):
    path = tmp_path / "far.npz"
    y = np.arange(40) % 10
    y[7] = 100_000  # would build 100001 classes
    np.savez(path, x=np.zeros((40, 2)), y=y)
    with pytest.raises(ValueError, match="makes 100001 classes") as e:
        load_user_data(path, test_fraction=0.2, seed=0)
    assert str(path) in str(e.value) and "numpy.unique" in str(e.value)
    small = tmp_path / "small.npz"
    np.savez(small, x=np.zeros((40, 2)), y=(np.arange(40) % 2) * 9)  # labels {0, 9}
    with pytest.warns(UserWarning, match="use 2 distinct values but reach 9"):
        assert load_user_data(small, test_fraction=0.2, seed=0).num_classes == 10


@pytest.mark.parametrize(
    "content",
    [b"hello world\n", b"", bytes(range(256)) * 3, b"PK\x03\x04" + bytes(100)],
    ids=["text", "empty", "binary", "broken-zip"],
)
def test_a_corrupt_pt_file_gives_a_clear_message(tmp_path, content):
    path = tmp_path / "data.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="cannot be read as .pt, the file is corrupt") as e:
        load_user_data(path, test_fraction=0.2, seed=0)
    assert str(path) in str(e.value)
    truncated = tmp_path / "truncated.pt"
    torch.save({"x": torch.zeros(8, 2), "y": torch.zeros(8)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match="cannot be read as .pt"):
        load_user_data(truncated, test_fraction=0.2, seed=0)
