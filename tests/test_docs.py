"""The documentation site (``make docs``): its generated pages, and every code block on it runs.

Code blocks by language: ``python`` in a guide runs here (one namespace a page, in order), or is
an ``examples/`` script shown whole (run by tests/test_examples.py); ``pycon`` is a method card's
example (a doctest, run by pytest over src/reglab); ``sh`` and ``yaml`` (a file named by its first
line) run here in an empty folder, in order; ``text`` is an equation or an install line.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import reglab
from reglab._core import registry
from reglab.bench.claims import claims_using, load_claims

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("docs_gen", ROOT / "docs" / "gen.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", flags=re.S | re.M)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    gen.generate(out)
    return out


def blocks(page: Path) -> list[tuple[str, str]]:
    return FENCE.findall(page.read_text())


def test_generator_doctests():
    assert doctest.testmod(gen).failed == 0


def test_readme_verdicts_are_of_bundled_claims():
    verdicts = gen.readme_verdicts((ROOT / "README.md").read_text())
    assert verdicts, "no claims table found in the README"
    assert set(verdicts) <= {c.id for c in load_claims()}
    assert {v["verdict"] for v in verdicts.values()} <= {"held", "not held", "inconclusive"}


def test_a_page_per_method_and_family(site):
    names = {p.stem for p in (site / "methods").glob("*.md")}
    assert names == set(reglab.available())
    families = {p.stem for p in (site / "families").glob("*.md")}
    assert families == {f.value for f in registry.Family}
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    assert [f"families/{f}.md" for f in sorted(families)] == sorted(nav[-1]["Methods by family"])
    for f in registry.Family:
        page = (site / "families" / f"{f.value}.md").read_text()
        for name in registry.available(f):
            assert f"(../methods/{name}.md)" in page


def test_method_pages_hold_the_card_paper_and_claim_verdicts(site):
    verdicts = gen.readme_verdicts((ROOT / "README.md").read_text())
    for entry in registry.entries():
        page = (site / "methods" / f"{entry.name}.md").read_text()
        assert entry.card.splitlines()[0] in page  # the card's summary
        assert entry.paper.title in page
        for cid in claims_using(entry.name):
            row = next(line for line in page.splitlines() if line.startswith(f"| [{cid}]"))
            if cid in verdicts:
                assert row.endswith(f"| {verdicts[cid]['verdict']} |"), row
            else:
                assert "not measured" in row
    mixup = (site / "methods" / "mixup.md").read_text()
    assert "### Equation" in mixup and "```pycon\n>>> import torch" in mixup


def test_claims_page_lists_every_claim(site):
    page = (site / "claims.md").read_text()
    for claim in load_claims():
        assert f"## {claim.id}\n" in page


def test_every_code_block_is_run_somewhere(site):
    """A block of an unknown kind, or a python block neither run here nor an examples/ script,
    fails; pycon blocks must be a card's example (so the doctests run them)."""
    examples = {p.read_text().rstrip() + "\n" for p in (ROOT / "examples").glob("*.py")}
    cards = "\n".join(e.card for e in registry.entries())
    for page in sorted(site.rglob("*.md")):
        guide = page.parent == site and (ROOT / "docs" / page.name).exists()
        for lang, code in blocks(page):
            if lang == "pycon":
                first = code.splitlines()[0]
                assert first in cards, f"{page.name}: pycon block not from a card: {first}"
            elif lang == "python":
                assert guide, f"{page.name}: python block on a generated page"
            else:
                assert lang in ("sh", "yaml", "text"), f"{page.name}: a {lang!r} block"
    assert sum(code in examples for _, code in blocks(site / "integrations.md")) == 2


def test_guide_python_blocks_run(site):
    for page in sorted(site.glob("*.md")):
        examples = {p.read_text().rstrip() + "\n" for p in (ROOT / "examples").glob("*.py")}
        namespace: dict = {}
        for lang, code in blocks(page):
            if lang == "python" and code not in examples:  # examples run in test_examples.py
                exec(compile(code, str(page), "exec"), namespace)


@pytest.mark.slow  # each command starts a process pool: a few seconds each, minutes on 2 busy cores
def test_guide_shell_blocks_run(site, tmp_path):
    """The harness guide's commands, in an empty folder."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = 0
    for page in sorted(site.glob("*.md")):
        for lang, code in blocks(page):
            if lang == "yaml":
                name = code.splitlines()[0].lstrip("# ").strip()
                (tmp_path / name).write_text(code)
            elif lang == "sh":
                done = subprocess.run(
                    ["bash", "-e", "-c", code], cwd=tmp_path, env=env, capture_output=True,
                    text=True, check=False, timeout=300,
                )
                assert done.returncode == 0, f"{page.name}:\n{code}\n{done.stderr[-3000:]}"
                ran += 1
    assert ran >= 3
    assert (tmp_path / "my-report" / "index.html").exists()


def test_mkdocs_builds_the_site_strictly(site, tmp_path):
    pytest.importorskip("mkdocs", reason="the 'docs' extra is not installed")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config.update(docs_dir=str(site), site_dir=str(tmp_path / "site"))
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(tmp_path / "mkdocs.yml")],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "methods" / "mixup" / "index.html").exists()
