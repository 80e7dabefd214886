"""The scripts in examples/ run as written."""

import pathlib
import runpy

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
# Examples of an optional extra: skipped, with the reason, when the extra is not installed.
NEEDS = {"with_lightning.py": ("lightning", "lightning"),
         "with_huggingface.py": ("transformers", "huggingface")}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, capsys):
    if path.name in NEEDS:
        module, extra = NEEDS[path.name]
        pytest.importorskip(module, reason=f"the {extra!r} extra is not installed")
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{path.name} printed nothing"
