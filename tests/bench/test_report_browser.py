"""``report/index.html`` from a small bench, opened in headless Chromium (``make test-all``).

Checks what a reader sees: no console messages (the page has no script, so any message is an
error), every image loads, every claim is a row of the claims table, and at a phone's width
(375 px) the page does not scroll sideways (wide tables scroll inside their own box). The page is
loaded in an iframe of a small checker page, which measures it and writes the result into its own
DOM for ``--dump-dom``. Skipped, with the reason, when no Chromium is installed
(``apt-get install chromium``; ``make test-all`` installs it when run as root).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from reglab._cli.main import main

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
CLAIMS = """\
claims:
  - id: mixup-tiny-digits
    paper: "mixup: Beyond Empirical Risk Minimization"
    statement: Mixup raises the test accuracy of a small MLP on 8x8 digits.
    task: digits
    data: {train_size: 300}
    model: {arch: mlp, width: 16, depth: 1}
    budget: {steps: 20, batch_size: 32, eval_every: 10}
    seeds: 2
    arms: {mixup: mixup, none: none}
    checks:
      - {measure: test_acc, difference: [mixup, none], above: 0.0}
  - id: l2-tiny-digits-with-a-long-unbroken-identifier-that-must-not-widen-the-page
    paper: "A paper title long enough to wrap on a phone, as real paper titles do, several times"
    statement: L2 changes the training loss of a small MLP on 8x8 digits.
    task: digits
    data: {train_size: 300}
    model: {arch: mlp, width: 16, depth: 1}
    budget: {steps: 20, batch_size: 32, eval_every: 10}
    seeds: 2
    arms: {l2: l2, none: none}
    checks:
      - {measure: train_loss, difference: [l2, none], within: 0.5}
"""
CLAIM_IDS = re.findall(r"^  - id: (\S+)$", CLAIMS, flags=re.M)

# Loads the report in a 375 px wide iframe, then writes what it measured between the markers.
CHECKER = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<iframe id="page" src="index.html" style="width:375px;height:800px;border:0"></iframe>
<pre id="out">pending</pre><script>
document.getElementById("page").addEventListener("load", () => {
  let r;
  try {
    const d = document.getElementById("page").contentDocument;
    const table = d.querySelector("table");
    const body = getComputedStyle(d.body);
    r = {
      images: [...d.images].map(i => [i.getAttribute("src"), i.complete && i.naturalWidth > 0]),
      firstColumn: table ? [...table.rows].slice(1).map(row => row.cells[0].textContent) : [],
      scrollWidth: d.documentElement.scrollWidth,
      clientWidth: d.documentElement.clientWidth,
      fontPx: parseFloat(body.fontSize),
      viewport: (d.querySelector("meta[name=viewport]") || {content: ""}).content,
    };
  } catch (e) { r = {error: String(e)}; }
  document.getElementById("out").textContent = "RESULT" + JSON.stringify(r) + "END";
});
</script></body></html>
"""


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium found: `apt-get install chromium` (make test-all does it as root)")


def chromium(exe: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",  # as root (CI), Chromium refuses to start with its sandbox
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    return subprocess.run(
        [exe, *flags, *args], capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of two tiny claims (8 runs of 20 steps, a few seconds)."""
    root = tmp_path_factory.mktemp("bench")
    (root / "claims.yaml").write_text(CLAIMS)
    results, out = str(root / "results"), root / "report"
    argv = ["--claims-file", str(root / "claims.yaml"), "--results", results, "--workers", "1"]
    assert main(["reproduce", *argv]) == 0
    assert main(["report", "--results", results, "--out", str(out)]) == 0
    return out


def test_report_in_headless_chromium(report, tmp_path):
    exe = browser()
    (report / "check.html").write_text(CHECKER)
    done = chromium(
        exe,
        tmp_path,
        "--allow-file-access-from-files",  # lets the checker read the iframe's document
        "--virtual-time-budget=10000",
        "--dump-dom",
        (report / "check.html").as_uri(),
    )
    found = re.search(r"RESULT(.*)END", done.stdout)
    assert found, f"the checker page did not report:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    result = json.loads(found.group(1))
    assert "error" not in result, result
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "console messages:\n" + "\n".join(console)
    assert result["images"], "the report has no images"
    broken = [src for src, loaded in result["images"] if not loaded]
    assert not broken, f"images that did not load: {broken}"
    assert sorted(result["firstColumn"]) == sorted(CLAIM_IDS)
    assert "width=device-width" in result["viewport"]
    assert result["scrollWidth"] <= result["clientWidth"] == 375, result
    assert result["fontPx"] >= 14


@pytest.mark.parametrize("width", [375, 1280])
def test_report_screenshots(report, tmp_path, width):
    """Screenshots at phone and desktop width are taken (look at them when changing the page)."""
    shot = tmp_path / f"report-{width}.png"
    done = chromium(
        browser(), tmp_path, f"--window-size={width},1600", f"--screenshot={shot}", report.as_uri()
        + "/index.html"
    )
    assert shot.exists(), done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
