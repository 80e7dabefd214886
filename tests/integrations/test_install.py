"""Installing the integration extras kept the pinned torch and left no broken requirement."""

import importlib.metadata
import pathlib

import pytest
import torch

CONSTRAINTS = pathlib.Path(__file__).resolve().parents[2] / "constraints" / "torch.txt"
EXTRAS = {"lightning": ["lightning"], "huggingface": ["transformers", "accelerate"]}


def installed(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_torch_is_the_pinned_one():
    if not any(installed(p) for packages in EXTRAS.values() for p in packages):
        pytest.skip("neither the 'lightning' nor the 'huggingface' extra is installed")
    pins = [line.strip() for line in CONSTRAINTS.read_text().splitlines() if line.strip().startswith("torch==")]
    assert pins, f"{CONSTRAINTS} pins no torch"
    assert torch.__version__.split("+")[0] == pins[0].split("==")[1]


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_the_extras_requirements_hold(extra):
    """What `pip check` checks, for the extra's packages: each requirement of theirs is met."""
    from packaging.requirements import Requirement  # installed with the extras

    if not all(installed(p) for p in EXTRAS[extra]):
        pytest.skip(f"the {extra!r} extra is not installed")
    for package in EXTRAS[extra]:
        for line in importlib.metadata.requires(package) or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            version = installed(req.name)
            assert version is not None, f"{package} needs {req}, which is not installed"
            assert req.specifier.contains(version, prereleases=True), f"{package} needs {req}, got {version}"
