"""Write the documentation site's pages into build/docs/ (``make docs`` then runs ``mkdocs build``).

Generated from the registry, the bundled claims and the README, so the site cannot drift:
- ``methods/NAME.md``: one page a method: its paper, needs, defaults, the claims that use it with
  their latest measured verdicts (the README's claims table, measured by ``make demo``), and its
  method card (the module docstring ``reglab show NAME`` prints) turned into markdown;
- ``families/FAMILY.md``: one page a family, listing its methods;
- ``claims.md``: every bundled claim, its methods and its verdict.
The hand-written guides (``docs/*.md``) are copied beside them, with two kinds of markers replaced:
``<!-- example: examples/NAME.py -->`` by that script (run by tests/test_examples.py) and
``<!-- families -->`` by the list of family pages. tests/test_docs.py checks every code block.

Run: ``python docs/gen.py [OUT]`` (default build/docs).
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from pathlib import Path

import reglab
from reglab._core import registry
from reglab._core.registry import Family, MethodEntry

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ROOT / "docs"
OUT = ROOT / "build" / "docs"
README = ROOT / "README.md"

FAMILY_TITLES = {
    Family.PARAMETER_PENALTY: "Parameter penalties",
    Family.ACTIVITY: "Activity penalties",
    Family.BATCH_TRANSFORM: "Batch transforms",
    Family.LOSS: "Regularizing losses",
    Family.LAYER: "Layers and model surgery",
    Family.OPTIMIZER: "Optimizer wrappers",
    Family.CONTINUAL: "Continual learning and plasticity",
    Family.TUNING: "Choosing the strength",
    Family.DIAGNOSTIC: "Diagnostics",
    Family.TRANSPORT: "Transport",
}
# A card's section heading: "Arguments:", "Equation::", "Equation (per example n of the batch)::"
_SECTION = re.compile(r"^([A-Z][\w ()/,.'-]{0,60}?)(::?)\s*$")
_EXAMPLE = re.compile(r"^<!-- example: (\S+) -->$", flags=re.M)


def readme_verdicts(text: str) -> dict[str, dict[str, str]]:
    """The README's claims table: claim id -> {"paper", "effect", "verdict"}.

    The table is the one whose header starts with ``| claim | paper |`` and ends with ``verdict``.

    >>> readme_verdicts("| claim | paper | effect | verdict |\\n|---|---|---|---|\\n| a | P | +1 | held |")
    {'a': {'paper': 'P', 'effect': '+1', 'verdict': 'held'}}
    """
    lines = text.splitlines()
    for i, line in enumerate(lines):
        head = [c.strip() for c in line.strip().strip("|").split("|")]
        if head[:2] == ["claim", "paper"] and head[-1] == "verdict":
            break
    else:
        return {}
    rows = {}
    for line in lines[i + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == len(head):
            rows[cells[0]] = {"paper": cells[1], "effect": cells[-2], "verdict": cells[-1]}
    return rows


def _body(lines: list[str], i: int) -> tuple[list[str], int]:
    """The indented (or blank) lines from ``i`` on, dedented, and the index after them."""
    j = i
    while j < len(lines) and (not lines[j].strip() or lines[j][:1] in " \t"):
        j += 1
    while j > i and not lines[j - 1].strip():
        j -= 1
    return textwrap.dedent("\n".join(lines[i:j])).splitlines(), j


_ARGUMENT = re.compile(r"^[\w*]+( \([^)]*\))?: ")


def _items(body: list[str]) -> list[str]:
    """A section's body as a markdown list.

    An item starts at a line at column 0 that starts with "- " or an argument's name ("alpha: "),
    or follows a blank line or a line ending a sentence; other lines go on the item before.
    """
    out, prev = [], ""
    for line in body:
        if not line.strip():
            out.append("")
        elif line.startswith("- "):
            out.append(line)
        elif line[:1] not in " \t" and (
            _ARGUMENT.match(line) or not prev.strip() or prev.rstrip().endswith((".", ";", ":"))
        ):
            out.append("- " + line)
        else:
            out.append("  " + line.strip())
        prev = line
    return out


def card_markdown(card: str) -> str:
    """A method card (a docstring in the Google style, RST literal blocks) as markdown.

    ``Name::`` sections become preformatted text (equations), ``Example:`` a ``pycon`` block (the
    doctest, run by pytest over src/reglab), other ``Name:`` sections a list of their entries.

    >>> print(card_markdown("Sum.\\n\\nEquation::\\n\\n    y = a + b\\n\\nTraps:\\n    - a trap"))
    Sum.
    <BLANKLINE>
    ### Equation
    <BLANKLINE>
    ```text
    y = a + b
    ```
    <BLANKLINE>
    ### Traps
    <BLANKLINE>
    - a trap
    <BLANKLINE>
    """
    lines, out, i = card.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        section = _SECTION.match(line)
        nxt = next((x for x in lines[i + 1 :] if x.strip()), "")
        if not section or nxt[:1] not in " \t":
            out.append(line[:-1] if line.endswith("::") else line)
            i += 1
            continue
        title, colons = section.groups()
        body, i = _body(lines, i + 1)
        while body and not body[0].strip():
            body.pop(0)
        out += [f"### {title}", ""]
        if colons == "::":
            out += ["```text", *body, "```"]
        elif title.startswith("Example"):
            out += ["```pycon", *body, "```"]
        else:
            out += _items(body)
        out.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


def api_name(entry: MethodEntry) -> str:
    """``reglab.Mixup`` when the target is exported at the top level, else its module path."""
    name = entry.target.__name__
    if getattr(reglab, name, None) is entry.target:
        return f"reglab.{name}"
    return f"{entry.target.__module__}.{name}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _paper(entry: MethodEntry) -> str:
    p = entry.paper
    link = p.link()
    title = f"[{p.title}]({link})" if link else p.title
    return f"{p.authors}. {title}. {p.year}."


def _claims_using() -> dict[str, list[str]]:
    """method name -> ids of the bundled claims that use it (read from the claims file)."""
    from reglab.bench.claims import claims_using

    return {e.name: claims_using(e.name) for e in registry.entries()}


def method_page(entry: MethodEntry, claims: list[str], verdicts: dict[str, dict[str, str]]) -> str:
    defaults = ", ".join(f"`{k}={v!r}`" for k, v in entry.defaults.items()) or "none"
    family = f"[{FAMILY_TITLES[entry.family]}](../families/{entry.family.value}.md)"
    lines = [
        f"# {entry.name}",
        "",
        "| | |",
        "|---|---|",  # a table without a header: MkDocs needs one, left empty
        f"| API | `{api_name(entry)}` (`reglab.create({entry.name!r}, ...)`) |",
        f"| family | {family} |",
        f"| kind | {entry.kind.value} |",
        f"| paper | {_cell(_paper(entry))} |",
        f"| needs | {', '.join(entry.capabilities.flags()) or 'none'} |",
        f"| defaults | {_cell(defaults)} |",
        "",
        "## Claims",
        "",
    ]
    if not claims:
        lines.append("No claim of the harness uses this method (see [the claims](../claims.md)).")
    else:
        lines += [
            "Latest measured verdicts: the README's table of `reglab reproduce --quick` "
            "(`make demo`); a claim not in it runs only in the full mode (`reglab reproduce ID`).",
            "",
            "| claim | measured effect [95% interval] (seeds) | verdict |",
            "|---|---|---|",
        ]
        for cid in claims:
            v = verdicts.get(cid, {"effect": "not measured in the quick table", "verdict": "-"})
            lines.append(f"| [{cid}](../claims.md#{cid}) | {v['effect']} | {v['verdict']} |")
    lines += ["", "## Method card", "", f"`reglab show {entry.name}` prints this card.", ""]
    return "\n".join(lines) + "\n" + card_markdown(entry.card)


def family_page(family: Family, entries: list[MethodEntry], claims: dict[str, list[str]]) -> str:
    lines = [f"# {FAMILY_TITLES[family]}", "", f"Family `{family.value}` (`reglab list --family "
             f"{family.value}`).", ""]
    if not entries:
        return "\n".join(lines + ["No method of this family is built yet."]) + "\n"
    lines += ["| method | kind | paper | year | claims |", "|---|---|---|---|---|"]
    for e in entries:
        used = ", ".join(f"[{c}](../claims.md#{c})" for c in claims[e.name]) or "-"
        lines.append(
            f"| [{e.name}](../methods/{e.name}.md) | {e.kind.value} | {_cell(e.paper.title)} "
            f"| {e.paper.year} | {used} |"
        )
    return "\n".join(lines) + "\n"


def claims_page(verdicts: dict[str, dict[str, str]], used: dict[str, list[str]]) -> str:
    from reglab.bench.claims import load_claims

    lines = [
        "# Claims",
        "",
        "The claims that `reglab reproduce` checks (`src/reglab/bench/claims.yaml`), with the "
        "latest verdict measured in the quick mode (the README's table, from `make demo`). A claim "
        "marked *full mode only* runs only in `reglab reproduce` without `--quick`. The "
        "[harness guide](harness.md) says how a verdict is reached.",
    ]
    for claim in load_claims():
        methods = sorted(m for m, ids in used.items() if claim.id in ids)
        v = verdicts.get(claim.id)
        lines += [
            "",
            f"## {claim.id}",  # its anchor is the id itself (lower-case words and dashes)
            "",
            f"*{claim.paper}*. {claim.statement}",
            "",
            "- methods: " + (", ".join(f"[{m}](methods/{m}.md)" for m in methods) or "-"),
            "- checks: " + "; ".join(f"`{c.text}`" for c in claim.checks),
            f"- task: `{claim.task}`, {claim.seeds} seeds",
            "- latest quick verdict: "
            + (f"**{v['verdict']}**, {v['effect']}" if v else "*full mode only*"),
        ]
    return "\n".join(lines) + "\n"


def guide(text: str) -> str:
    """A hand-written page with its markers replaced (examples inlined, the family list)."""

    def example(m: re.Match) -> str:
        path = ROOT / m.group(1)
        return f"`{m.group(1)}`:\n\n```python\n{path.read_text().rstrip()}\n```"

    families = "\n".join(
        f"- [{FAMILY_TITLES[f]}](families/{f.value}.md): {len(registry.available(f))} methods"
        for f in Family
    )
    return _EXAMPLE.sub(example, text).replace("<!-- families -->", families)


def generate(out: Path = OUT) -> list[Path]:
    """Write every page under ``out`` (emptied first); returns the pages written."""
    if out.exists():
        shutil.rmtree(out)
    (out / "methods").mkdir(parents=True)
    (out / "families").mkdir()
    verdicts = readme_verdicts(README.read_text())
    used = _claims_using()
    pages = {}
    for e in registry.entries():
        pages[f"methods/{e.name}.md"] = method_page(e, used[e.name], verdicts)
    for f in Family:
        members = [e for e in registry.entries() if e.family is f]
        pages[f"families/{f.value}.md"] = family_page(f, members, used)
    pages["claims.md"] = claims_page(verdicts, used)
    for path in sorted(GUIDES.glob("*.md")):
        pages[path.name] = guide(path.read_text())
    for path in sorted(GUIDES.glob("*.css")):
        pages[path.name] = path.read_text()
    for rel, text in pages.items():
        (out / rel).write_text(text)
    return [out / rel for rel in pages]


if __name__ == "__main__":
    written = generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {len(written)} pages to {written[0].parents[1] if written else OUT}")
