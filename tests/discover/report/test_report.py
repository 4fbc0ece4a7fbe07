"""The run report: content from a real offline run checked against the run database, the SVG helpers,
and the page loaded in a real headless Chromium (no console error, no network, every plot drawn)."""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
import subprocess
import time

import pytest
from typer.testing import CliRunner

from discover.archive.runs import RunView
from discover.cli import app
from discover.cli.common import UserError
from discover.report import plots
from discover.report.page import champion_id, code_html, reference_classes, render_report, write_report
from tests.discover.archive.test_archive import make_run

PLOTS = 10  # islands, outcomes, operators, lineage, 3 heatmaps, gap against cost, tokens, cost
SECTIONS = ("Summary", "Search progress", "Outcomes", "Operators", "Lineage", "Per-class gaps",
            "Gap and cost", "Tokens and cost", "Test sets", "Champion code")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def page(run_dir):
    return render_report(run_dir)


def _sql(run_dir, query):
    conn = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


# --- content -------------------------------------------------------------------------------------------

def test_page_has_every_section_and_plot_and_nothing_external(page):
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert page.count('<svg class="plot"') == PLOTS
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import", page, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_page_has_no_script_and_no_url_at_all(page):
    """matplotlib's SVG is inlined without its prolog, namespaces, metadata, references or clip paths."""
    assert not re.search(r"<script|\bon\w+=|javascript:", page, re.I)
    assert not re.search(r"https?://", page)
    assert not re.search(r"<use\b|<image\b|xlink:|clip-path|<\?xml|<!DOCTYPE svg|<metadata", page)
    assert len(re.findall(r"<svg\b", page)) == page.count('<svg class="plot"') == PLOTS


def test_operator_table_matches_the_run_database(page, run_dir):
    rows = _sql(run_dir, "SELECT operator, COUNT(*), SUM(status = 'ok') FROM programs"
                         " WHERE sample IS NOT NULL GROUP BY operator")
    assert rows
    for op, n, valid in rows:
        assert f"<tr><td>{op}</td><td>{n}</td><td>{valid}</td><td>{100 * valid / n:.1f} %</td>" in page


def test_champion_is_the_one_the_champion_step_chose(page, run_dir):
    (state,) = _sql(run_dir, "SELECT value FROM state WHERE key = 'champion'")[0]
    pid = json.loads(state)["program_id"]
    with RunView(run_dir) as view:
        assert champion_id(view) == pid
        code = view.code(pid)
    assert f"Lineage of the champion #{pid}" in page and f"Champion #{pid}: gap %" in page
    shown = html.unescape(re.sub(r"<[^>]+>", "", page.split("<h2>Champion code</h2>")[1]))
    assert all(line in shown for line in code.splitlines())
    assert 'style="color:' in page.split("<h2>Champion code</h2>")[1]  # highlighted


def test_heatmap_references_agree_with_the_runs_own_seed_scores(run_dir):
    """MDD per class from the numba twin must equal what the sandbox measured for the run's MDD seed."""
    with RunView(run_dir) as view:
        refs = reference_classes(view)
        seed = next(p for p in view.programs() if p.operator == "seed" and p.description == "mdd")
    assert set(refs) == {"MDD", "MDDC"}
    assert refs["MDD"] == pytest.approx(seed.per_class, abs=1e-9)


def test_report_cli_writes_the_file_and_refuses_a_non_run(run_dir, tmp_path):
    out = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["report", str(run_dir), "-o", str(out)])
    assert r.exit_code == 0 and f"wrote {out}" in r.stdout.replace("\n", "")
    assert out.read_text().count('<svg class="plot"') == PLOTS
    r = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert isinstance(r.exception, UserError)
    assert str(r.exception) == f"{tmp_path}: not a run directory (run.sqlite is missing)"


def test_default_output_is_inside_the_run(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    assert write_report(copy) == copy / "report.html" and (copy / "report.html").stat().st_size > 10_000


def test_a_run_that_has_not_started_renders_with_placeholders(tmp_path):
    from discover.store import RunStore

    RunStore.create(tmp_path / "new", "seed = 1\n").close()
    page = render_report(tmp_path / "new")
    assert page.count('<svg class="plot"') == PLOTS - 2  # one placeholder instead of three heatmaps
    assert page.count(">no data</text>") == 6 and ">no lineage</text>" in page and "no valid program" in page


def test_the_code_listing_numbers_every_line_as_the_file_does():
    code = "\n\n# Σ ≤ · é ✓ — wide glyphs that used to push the code column down\n" + "".join(
        f"def f{k}(p, d):  # {'·' * k}\n    return sorted(range(len(p)))\n" for k in range(40))
    text = html.unescape(re.sub(r"<[^>]+>", "", code_html(code)))
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == len(code.rstrip("\n").split("\n"))
    for number, (shown, original) in enumerate(zip(lines, code.split("\n"), strict=False), start=1):
        m = re.fullmatch(r"\s*(\d+)(.*)", shown)
        assert m and int(m[1]) == number and m[2] == original  # its own number, on its own line


def test_the_report_shows_wall_clock_and_the_champions_test_set_scores(run_dir, tmp_path):
    from discover.archive.index import read_index
    from tests.discover.archive.test_archive import make_archive

    page = render_report(run_dir)
    events = _sql(run_dir, "SELECT MIN(created), MAX(created) FROM events")[0]
    total = round(events[1] - events[0])
    shown = f"{total // 60} min {total % 60:02d} s from the first record to the last"
    assert f"wall clock</th><td>{shown}" in page
    assert "is not scored on the stored test sets" in page  # the run promoted nothing indexed
    archive = make_archive(tmp_path, tmp_path)
    r = CliRunner().invoke(app, ["archive", "--archive", str(archive), "promote", str(run_dir), "--name",
                                 "champ", "--force"])
    assert r.exit_code == 0, r.output
    page = render_report(run_dir, archive)
    rec = read_index(archive).get("champ")
    for name, sc in rec.scores.items():
        row = f"<tr><td>{name}</td><td>{sc.n}</td><td>{sc.instances}</td><td>{sc.mean_gap_pct:.3f} %</td>"
        assert row in page
    mdd = read_index(archive).get("MDD").scores["test_n20"].mean_gap_pct
    assert f"{mdd:.3f} %" in page


# --- SVG helpers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lo, hi", [(0, 1), (0, 97.3), (0.5, 0.62), (-3, 12), (0, 123456)])
def test_ticks_are_round_and_cover_the_range(lo, hi):
    t = plots.ticks(lo, hi)
    assert 3 <= len(t) <= 12 and t == sorted(t)
    assert t[0] >= lo - 1e-9 and t[-1] <= hi + 1e-9
    assert t[0] - lo < (hi - lo) / 2 and hi - t[-1] < (hi - lo) / 2
    steps = {round(b - a, 9) for a, b in zip(t, t[1:], strict=False)}
    assert len(steps) == 1
    mantissa = float(f"{steps.pop():e}".split("e")[0])
    assert mantissa in (1.0, 2.0, 2.5, 5.0)


def test_dag_puts_parents_above_children():
    nodes = [plots.TreeNode(3, ("c",), 2, "#fff"), plots.TreeNode(1, ("a",), 0, "#fff"),
             plots.TreeNode(2, ("b",), 1, "#fff")]
    svg = plots.dag(nodes, [(1, 2), (2, 3), (1, 3)], "t")
    boxes = re.findall(r'<g><title>(\w)</title>\s*<path d="M [\d.]+ ([\d.]+)', svg)  # a box's first corner
    ys = {label: float(y) for label, y in boxes}
    assert ys["a"] < ys["b"] < ys["c"]
    assert svg.count("<path ") == 3 + 3  # the three boxes and the three edges


def test_bin_widths_and_thinning():
    assert [plots.round_up(x) for x in (0.3, 1, 1.5, 2.2, 7, 16.7, 166.7)] == [1, 1, 2, 5, 10, 20, 200]
    xs = list(range(5000))
    tx, ty = plots.thin(xs, [2.0 * x for x in xs], 100)
    assert len(tx) <= 101 and tx[0] == 0 and tx[-1] == 4999 and ty == [2.0 * x for x in tx]


def test_plots_escape_text_and_handle_empty_data():
    svg = plots.line_chart([plots.Series("<x>&", [0, 1], [1, 2], "#000")], "a<b", "x", "y")
    assert "<x>" not in svg and "&lt;x&gt;&amp;" in svg and "a&lt;b" in svg
    assert "no data" in plots.line_chart([], "t", "x", "y")
    heat = plots.heatmap(["0.2"], ["0.2", "0.4"], [[None, 1.5]], "h", "RDD", "TF")
    assert "–" in heat and "1.50" in heat


# --- a real browser ------------------------------------------------------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PROBE = """<script>
(function () {
  var errors = [], loaded = false;
  function note(text) { errors.push(text); if (loaded) record(); }
  function record() {
    var plots = Array.prototype.map.call(document.querySelectorAll('svg.plot'), function (s) {
      var r = s.getBoundingClientRect(), b = s.getBBox();
      return {label: s.getAttribute('aria-label'), w: r.width, h: r.height, bw: b.width, bh: b.height,
              marks: s.querySelectorAll('rect,path,polyline,circle,line').length};
    });
    var loads = performance.getEntriesByType('resource').map(function (x) { return x.name; });
    document.documentElement.setAttribute('data-probe', JSON.stringify({errors: errors, plots: plots,
                                                                        loads: loads}));
  }
  window.addEventListener('error', function (e) {
    note('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || 'resource'));
  }, true);
  document.addEventListener('securitypolicyviolation', function (e) {
    note('blocked by CSP: ' + e.violatedDirective + ' ' + e.blockedURI);
  });
  ['error', 'warn'].forEach(function (level) {
    var orig = console[level];
    console[level] = function () {
      note('console.' + level + ': ' + Array.prototype.join.call(arguments, ' '));
      orig.apply(console, arguments);
    };
  });
  // CSP violations are reported asynchronously: record once the page has settled, and on every later error.
  window.addEventListener('load', function () { setTimeout(function () { loaded = true; record(); }, 250); });
})();
</script>"""


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium binary on PATH (tried " + ", ".join(CHROMIUM_NAMES) + "); on Debian/Ubuntu: "
                "apt-get install -y chromium")


def _load_in_browser(page_html: str, tmp_path) -> dict:
    """Load the page, the probe injected first in <head>, in headless Chromium; return the probe's record."""
    exe = _chromium()
    page = tmp_path / "page.html"
    page.write_text(page_html.replace("<head>", "<head>" + PROBE, 1))
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900",
           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = re.search(r'data-probe="([^"]*)"', r.stdout)
    assert m, f"the probe did not report (exit {r.returncode}); stderr: {r.stderr[-2000:]}"
    return json.loads(html.unescape(m.group(1)))


def test_report_loads_in_chromium_without_errors_and_every_plot_renders(page, tmp_path):
    t0 = time.perf_counter()
    probe = _load_in_browser(page, tmp_path)
    assert probe["errors"] == []
    assert probe["loads"] == []  # nothing fetched: the page is self-contained
    assert len(probe["plots"]) == PLOTS
    for p in probe["plots"]:
        assert p["w"] > 100 and p["h"] > 50, p
        assert p["bw"] > 50 and p["bh"] > 30 and p["marks"] >= 3, p
    assert time.perf_counter() - t0 < 60


def test_the_browser_probe_catches_errors_and_empty_plots(page, tmp_path):
    """The harness itself: a network load, a script error and a collapsed plot must all be reported."""
    broken = page.replace("</body>", '<img src="https://example.invalid/x.png">'
                                     '<script>undefined_function()</script>'
                                     '<svg class="plot" width="0" height="0"></svg></body>')
    probe = _load_in_browser(broken, tmp_path)
    text = " | ".join(probe["errors"])
    assert "blocked by CSP: img-src https://example.invalid/x.png" in text
    assert "blocked by CSP: script-src-elem" in text
    assert any(p["w"] == 0 for p in probe["plots"])
