"""HTML journey report: self-contained (offline, plotly.js inlined once), escaped, and it renders in Chromium.

The rollup folder is written by hand here so these tests do not depend on `cx rollup` or on a model.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from pipeline.rollup.display import JOURNEY_ORDER, journey_order
from pipeline.rollup.report import ReportError, build_report

MODEL_VERSION = "cx-terms-v3-test"
INPUT_SHA256 = "9f1c0ffee5a7d3b2c4e6a8b0d2f4e6a8" * 2
HOSTILE_QUOTE = 'Mail me at <EMAIL> <script>alert(1)</script> & I\'ll "talk"'
TOUCHPOINTS = ("call_center", "delivery", "kiosk")  # kiosk: not a known touchpoint, must still show
MONTHS = ("2026-01", "2026-02", "2026-03")
LABELS = {"terms": ("time", "money", "risk"), "forces": ("fairness", "control")}


# ---------------------------------------------------------------- a small rollup folder


def ci(p: float, width: float) -> tuple[float, float]:
    """A plausible interval around p (the report only displays it)."""
    return max(0.0, p - width), min(1.0, p + width)


def cell_rows(touchpoint: str, month: str, n: int, seed: int) -> list[dict]:
    """cells.csv rows for one touchpoint/month, values varied by `seed` so the heat map has contrast."""
    rows = []
    for dimension, labels in LABELS.items():
        for k, label in enumerate(labels):
            volume = max(1, (n * (2 + (seed + k) % 5)) // 10)
            negative = (volume * (1 + (seed * 3 + k) % 8)) // 10
            share, neg_share, pain = volume / n, negative / volume, 100 * negative / n
            rows.append(
                {
                    "dimension": dimension,
                    "touchpoint": touchpoint,
                    "month": month,
                    "label": label,
                    "volume": volume,
                    "touchpoint_comments": n,
                    "share": share,
                    "share_lo": ci(share, 0.05)[0],
                    "share_hi": ci(share, 0.05)[1],
                    "negative": negative,
                    "negative_share": neg_share,
                    "negative_share_lo": ci(neg_share, 0.1)[0],
                    "negative_share_hi": ci(neg_share, 0.1)[1],
                    "net_sentiment": 0.2 - neg_share,
                    "pain_index": pain,
                    "pain_index_lo": pain * 0.8,
                    "pain_index_hi": pain * 1.2,
                }
            )
    return rows


def touchpoint_row(touchpoint: str, month: str, n: int, seed: int) -> dict:
    """touchpoints.csv row; NPS from promoter/detractor counts as the rollup computes it."""
    scored = n - 2
    promoters, detractors = scored * (2 + seed % 3) // 10, scored * (3 + seed % 4) // 10
    nps = 100 * (promoters - detractors) / scored
    neg = 0.2 + 0.1 * (seed % 4)
    return {
        "touchpoint": touchpoint,
        "month": month,
        "comments": n,
        "negative_share": neg,
        "negative_share_lo": neg - 0.05,
        "negative_share_hi": neg + 0.05,
        "positive_share": 0.4,
        "net_sentiment": 0.4 - neg,
        "n_scored": scored,
        "promoters": promoters,
        "passives": scored - promoters - detractors,
        "detractors": detractors,
        "nps": nps,
        "nps_lo": nps - 12,
        "nps_hi": nps + 12,
        "csat": float("nan"),
    }


def write_rollup(folder: Path, *, months: bool = True, optional_files: bool = True) -> Path:
    """A rollup folder shaped like `cx rollup`'s output: cells, touchpoints, drivers, quotes, summary."""
    folder.mkdir(parents=True, exist_ok=True)
    periods = ["all", *MONTHS] if months else ["all"]
    cells, tps = [], []
    for p, month in enumerate(periods):
        for t, touchpoint in enumerate((*TOUCHPOINTS, "all")):
            n = 40 + 13 * t + 7 * p if month != "all" else 300 + 50 * t
            cells += cell_rows(touchpoint, month, n, seed=3 * t + p)
            tps.append(touchpoint_row(touchpoint, month, n, seed=t + p))
    pd.DataFrame(cells).to_csv(folder / "cells.csv", index=False)
    pd.DataFrame(tps).to_csv(folder / "touchpoints.csv", index=False)
    if optional_files:
        drivers = [
            {
                "dimension": dimension,
                "label": label,
                "n_with": 80 + 10 * k,
                "n_without": 400,
                "nps_with": -20.0 + 9 * k,
                "nps_without": 5.0,
                "impact": -25.0 + 9 * k,
                "impact_lo": -33.0 + 9 * k,
                "impact_hi": -17.0 + 9 * k,
            }
            for dimension, labels in LABELS.items()
            for k, label in enumerate(labels)
        ]
        pd.DataFrame(drivers).to_csv(folder / "drivers.csv", index=False)
        quotes = [
            ("terms", "call_center", "time", 1, "q1", "45 minutes on hold, then cut off.", "negative", 0.97),
            ("terms", "call_center", "time", 2, "q2", HOSTILE_QUOTE, "negative", 0.91),
            ("terms", "delivery", "money", 1, "q3", "NA", "negative", 0.88),
        ]
        columns = ["dimension", "touchpoint", "label", "rank", "id", "text", "sentiment", "probability"]
        pd.DataFrame(quotes, columns=columns).to_csv(folder / "quotes.csv", index=False)
    summary = {
        "input": "outputs/score/verbatims.scored.parquet",
        "rows": 1210,
        "scored_rows": 1200,
        "quarantined": 10,
        "model_version": MODEL_VERSION,
        "input_sha256": INPUT_SHA256,
        "by": ["touchpoint", "month"] if months else ["touchpoint"],
        "overall": {"comments": 1200, "negative_share": 0.31, "nps": -4.5, "n_scored": 1150},
        "top_pain": [
            {
                "touchpoint": "call_center",
                "dimension": "terms",
                "label": "time",
                "pain_index": 21.3,
                "volume": 120,
            },
            {
                "touchpoint": "delivery",
                "dimension": "terms",
                "label": "money",
                "pain_index": 14.0,
                "volume": 90,
            },
            {
                "touchpoint": "kiosk",
                "dimension": "forces",
                "label": "control",
                "pain_index": 9.5,
                "volume": 40,
            },
        ],
    }
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


@pytest.fixture
def report(tmp_path: Path) -> str:
    """The HTML of a report built from the full hand-made rollup."""
    out = build_report(write_rollup(tmp_path / "rollup"), tmp_path / "out" / "report.html")
    assert out == tmp_path / "out" / "report.html"
    assert out.is_file()
    return out.read_text(encoding="utf-8")


# ---------------------------------------------------------------- static checks


def test_header_names_model_version_and_input_digest(report: str) -> None:
    assert MODEL_VERSION in report
    assert INPUT_SHA256[:16] in report
    assert "outputs/score/verbatims.scored.parquet" in report
    assert "-4.5" in report  # overall NPS


def test_report_is_self_contained(report: str) -> None:
    assert "<script src=" not in report.lower()
    for tag in re.findall(r"<script\b[^>]*>", report, flags=re.IGNORECASE):
        assert "src" not in tag.lower() and "cdn." not in tag and "https://" not in tag, tag
    assert "<link" not in report.lower() and "@import" not in report and "@font-face" not in report
    # plotly.js carries URLs in its own code (never fetched here); outside it, the page names no web address.
    plotly_js = get_plotlyjs()
    assert report.count(plotly_js) == 1, "plotly.js must be inlined exactly once"
    rest = report.replace(plotly_js, "")
    assert "https://" not in rest and "http://" not in rest and "cdn." not in rest
    assert 'http-equiv="Content-Security-Policy"' in report
    assert rest.count("Plotly.newPlot(") == 4  # heat map, forces, trend, drivers


def test_quotes_are_html_escaped(report: str) -> None:
    assert "&lt;EMAIL&gt;" in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert "<script>alert(1)" not in report
    assert "<EMAIL>" not in report
    assert "&amp; I&#39;ll &#34;talk&#34;" in report  # markupsafe's entities
    assert "<blockquote>NA</blockquote>" in report  # a comment reading "NA" is text, not a missing value


def test_touchpoints_follow_the_journey_with_unknown_ones_after() -> None:
    order = journey_order(["kiosk", "call_center", "all", "delivery", "advertising", "atm"])
    assert order == ["advertising", "delivery", "call_center", "atm", "kiosk", "all"]
    assert journey_order(reversed(JOURNEY_ORDER)) == list(JOURNEY_ORDER)


def test_sections_and_trend_present_with_months(report: str) -> None:
    for heading in (
        "Journey heat map",
        "Forces profile",
        "Trend by month",
        "NPS drivers",
        "How to read this",
    ):
        assert heading in report
    assert 'id="fig-trend"' in report
    assert "2026-02" in report
    assert "Wilson" in report and "Pain index" in report and "Net sentiment" in report


def test_without_months_or_optional_files_the_report_says_so(tmp_path: Path) -> None:
    rollup = write_rollup(tmp_path / "rollup", months=False, optional_files=False)
    html = build_report(rollup, tmp_path / "report.html", title="Q1 <draft>").read_text(encoding="utf-8")
    assert 'id="fig-trend"' not in html
    assert "--by month" in html
    assert 'id="fig-terms"' in html and 'id="fig-forces"' in html
    assert "No driver estimates" in html and "No example quotes stored" in html
    assert "<title>Q1 &lt;draft&gt;</title>" in html


def test_missing_required_file_is_a_clear_error(tmp_path: Path) -> None:
    rollup = write_rollup(tmp_path / "rollup")
    (rollup / "cells.csv").unlink()
    with pytest.raises(ReportError, match=r"cells\.csv"):
        build_report(rollup, tmp_path / "report.html")


# ---------------------------------------------------------------- headless Chromium

# Chromium writes every console message (log, warning, error alike) to stderr as `INFO:CONSOLE(...)`, so
# errors are told apart by their text: uncaught exceptions, console.error("...Error..."), CSP violations.
CONSOLE_ERROR = re.compile(r"Uncaught|Error|error|Content Security Policy")


@dataclass(frozen=True)
class Rendered:
    """What one headless Chromium run of a page left behind."""

    stderr: str
    screenshot: Path
    netlog: Path


def render(chromium: str, page: Path, workdir: Path) -> Rendered:
    """Load PAGE from disk in headless Chromium with name resolution disabled; screenshot and net log."""
    workdir.mkdir(parents=True, exist_ok=True)
    shot, netlog = workdir / "shot.png", workdir / "netlog.json"
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={workdir / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # a request the page makes fails fast, never leaves the box
        f"--log-net-log={netlog}",
        "--window-size=1400,2400",
        "--virtual-time-budget=5000",
        f"--screenshot={shot}",
        page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert shot.is_file(), proc.stderr[-3000:]
    return Rendered(proc.stderr, shot, netlog)


def console_errors(stderr: str) -> list[str]:
    """Console lines that report a JavaScript error or a blocked load."""
    return [line for line in stderr.splitlines() if "CONSOLE" in line and CONSOLE_ERROR.search(line)]


def page_requests(netlog: Path) -> list[str]:
    """Network URLs requested by the page itself (the browser's own update/time checks are left out).

    Requests a file:// page makes carry a `file://` network isolation key in the net log.
    """
    events = json.loads(netlog.read_text(encoding="utf-8"))["events"]
    urls = set()
    for event in events:
        params = event.get("params") or {}
        url = params.get("url", "")
        if str(params.get("network_isolation_key", "")).startswith("file://") and not url.startswith("file:"):
            urls.add(url)
    return sorted(urls)


def screenshot_stats(path: Path) -> tuple[float, int, float]:
    """(share of non-white pixels, distinct colours, share of saturated pixels) of a screenshot."""
    image_mod = pytest.importorskip("PIL.Image")
    with image_mod.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16).reshape(-1, 3)
    non_white = float((rgb.min(axis=1) < 235).mean())
    saturated = float((np.ptp(rgb, axis=1) > 60).mean())  # chart colour, not grey text or borders
    colours = len(np.unique(rgb, axis=0))
    return non_white, colours, saturated


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium not installed (Debian package chromium)")
    return path


def test_report_renders_in_chromium_without_errors_or_requests(chromium: str, tmp_path: Path) -> None:
    # First prove the detectors work on a page with a deliberate error and a remote image.
    broken = tmp_path / "broken.html"
    broken.write_text(
        '<html><body><h1>broken</h1><img src="https://example.invalid/pixel.png">'
        '<script>console.log("fine"); undefinedFunction();</script></body></html>',
        encoding="utf-8",
    )
    bad = render(chromium, broken, tmp_path / "broken")
    errors = console_errors(bad.stderr)
    assert any("Uncaught ReferenceError" in e for e in errors), bad.stderr[-3000:]
    assert not any('"fine"' in e for e in errors)
    assert "https://example.invalid/pixel.png" in page_requests(bad.netlog)

    out = build_report(write_rollup(tmp_path / "rollup"), tmp_path / "report.html")
    good = render(chromium, out, tmp_path / "report")
    assert console_errors(good.stderr) == [], good.stderr[-3000:]
    assert page_requests(good.netlog) == []
    non_white, colours, saturated = screenshot_stats(good.screenshot)
    assert non_white > 0.05, f"screenshot nearly blank ({non_white:.1%} non-white)"
    assert colours > 200, f"only {colours} colours: charts did not draw"
    assert saturated > 0.02, f"only {saturated:.1%} coloured pixels: charts did not draw"


def test_no_scores_and_no_input_digest_still_render(tmp_path: Path) -> None:
    rollup = write_rollup(tmp_path / "rollup")
    summary = json.loads((rollup / "summary.json").read_text(encoding="utf-8"))
    summary.update(input_sha256=None, overall={**summary["overall"], "nps": None, "n_scored": 0})
    (rollup / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    tps = pd.read_csv(rollup / "touchpoints.csv")
    tps[["nps", "nps_lo", "nps_hi"]] = float("nan")
    tps["n_scored"] = 0
    tps.to_csv(rollup / "touchpoints.csv", index=False)
    drivers = pd.read_csv(rollup / "drivers.csv")
    drivers[["nps_with", "impact", "impact_lo", "impact_hi"]] = float("nan")
    drivers.to_csv(rollup / "drivers.csv", index=False)
    html = build_report(rollup, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "not recorded" in html
    assert "No driver estimates" in html
    assert 'id="fig-trend"' in html


def test_csat_rollup_shows_csat_instead_of_nps(tmp_path: Path) -> None:
    rollup = write_rollup(tmp_path / "rollup")
    summary = json.loads((rollup / "summary.json").read_text(encoding="utf-8"))
    summary["overall"]["nps"] = None
    (rollup / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    tps = pd.read_csv(rollup / "touchpoints.csv")
    tps[["nps", "nps_lo", "nps_hi"]] = float("nan")
    tps["csat"] = 0.625
    tps.to_csv(rollup / "touchpoints.csv", index=False)
    html = build_report(rollup, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Overall CSAT" in html and "62.5%" in html
    assert "NPS [95% CI]" not in html and "CSAT (% 4–5)" in html


def _overall_cells(dimension: str, rows: list[tuple[str, str, int, int, float]]) -> pd.DataFrame:
    """Overall (all months) cells of one dimension from (touchpoint, label, volume, touchpoint comments,
    negative share); the interval columns, which the maps do not read, are zeros."""
    cells = pd.DataFrame(
        [
            {
                "dimension": dimension,
                "touchpoint": tp,
                "month": "all",
                "label": label,
                "volume": volume,
                "touchpoint_comments": total,
                "share": volume / total,
                "negative_share": neg,
                "pain_index": 0.0,
            }
            for tp, label, volume, total, neg in rows
        ]
    )
    for column in (
        "share_lo",
        "share_hi",
        "negative_share_lo",
        "negative_share_hi",
        "pain_index_lo",
        "pain_index_hi",
        "net_sentiment",
    ):
        cells[column] = 0.0
    return cells


def test_heat_map_leaves_cells_with_too_few_comments_uncoloured():
    """A negative share over 2 comments is not painted as the worst cell on the map."""
    from pipeline.rollup.charts import terms_heatmap

    cells = _overall_cells(
        "terms",
        [
            ("delivery", "time", 30, 40, 0.5),
            ("delivery", "money", 2, 40, 1.0),
            ("call_center", "time", 12, 40, 0.25),
        ],
    )
    trace = terms_heatmap(cells, min_n=10).data[0]
    z = np.asarray(trace.z, dtype=float)
    texts = [t for row in trace.text for t in row if t]
    assert np.isnan(z).sum() >= 1 and np.nanmax(z) == pytest.approx(0.5)  # the 2-comment 100% is not coloured
    assert "2<br>too few" in texts and "30<br>50% neg" in texts
    coloured = np.asarray(terms_heatmap(cells, min_n=1).data[0].z, dtype=float)
    assert np.nanmax(coloured) == pytest.approx(1.0)  # without a minimum it would have been the darkest


def test_force_shares_of_a_touchpoint_with_too_few_comments_are_left_uncoloured():
    """The Forces map stretches its colours to the largest share: 2 of 3 comments must not set the scale."""
    from pipeline.rollup.charts import forces_heatmap

    cells = _overall_cells(
        "forces", [("delivery", "control", 10, 40, 0.5), ("ordering", "fairness", 2, 3, 0.5)]
    )
    trace = forces_heatmap(cells, min_n=10).data[0]
    z = np.asarray(trace.z, dtype=float)
    assert np.nanmax(z) == pytest.approx(0.25) and trace.zmax == pytest.approx(0.25)
    assert "2<br>too few" in [t for row in trace.text for t in row if t]
    coloured_forces = np.asarray(forces_heatmap(cells, min_n=1).data[0].z, dtype=float)
    assert np.nanmax(coloured_forces) == pytest.approx(2 / 3)


def test_every_data_field_is_escaped_and_a_missing_one_prints_as_nothing(tmp_path: Path) -> None:
    folder = write_rollup(tmp_path / "rollup")
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    hostile = "<b>x</b>&\"'"
    summary |= {
        "model_version": hostile,
        "input_sha256": hostile,
        "by": [hostile],
        "min_n": 10,
        "top_pain": [],
    }
    del summary["input"]
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    html = build_report(folder, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<b>x</b>" not in html and html.count("&lt;b&gt;x&lt;/b&gt;&amp;&#34;&#39;") == 3
    assert "input:  · grouped by:" in html and ">None<" not in html
    assert "fewer than 10 comments" in html and "The rollup lists no pain cells." in html


def write_themes(folder: Path) -> Path:
    """A `cx themes` folder for the hand-written rollup: two themes in call_center x time, one emerging."""
    folder.mkdir(parents=True)
    quote = [{"id": "q1", "text": HOSTILE_QUOTE, "sentiment": "negative"}]
    base = {"dimension": "terms", "touchpoint": "call_center", "label": "time", "cell_n": 30}
    themes = pd.DataFrame(
        [
            base | {"theme": 0, "name": "hold · music · minute", "n": 20, "share": 2 / 3, "uncertain": False},
            base | {"theme": 1, "name": "callback · promise", "n": 4, "share": 0.1, "uncertain": True},
        ]
    ).assign(
        names=json.dumps({"en": ["hold", "music"], "ru": ["ожидание"]}),
        negative_share=0.9,
        negative_low=0.7,
        negative_high=0.97,
        nps=-40.0,
        nps_impact=-3.5,
        quotes=json.dumps(quote),
    )
    themes.to_parquet(folder / "themes.parquet")
    months = themes[["dimension", "touchpoint", "label", "theme"]].merge(
        pd.DataFrame({"month": ["2026-01", "2026-02"], "share": [0.05, 0.2]}), how="cross"
    )
    months.assign(n=5, month_total=50).to_parquet(folder / "theme_months.parquet")
    pd.DataFrame(
        [
            base
            | {
                "theme": 0,
                "name": "hold · music · minute",
                "month": "2026-02",
                "previous": "2026-01",
                "share": 0.2,
                "previous_share": 0.05,
                "q": 0.004,
                "emerging": True,
            }
        ]
    ).to_parquet(folder / "emerging.parquet")
    return folder


def test_clicking_a_heat_map_cell_shows_its_themes(chromium: str, tmp_path: Path) -> None:
    """Headless Chromium, driven by Playwright: the emerging issue is listed at the top; a click on the
    call_center x time cell shows its two themes, the uncertain one marked, quotes as text."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the click test drives Chromium with Playwright"
    )
    out = build_report(
        write_rollup(tmp_path / "rollup"), tmp_path / "report.html", themes_dir=write_themes(tmp_path / "th")
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.resolve().as_uri())
        assert "hold · music · minute" in page.locator("#emerging table").inner_text()
        page.wait_for_selector("#fig-terms .nsewdrag")
        box = page.locator("#fig-terms .nsewdrag").first.bounding_box()
        layout = page.evaluate(
            "() => { const f = document.getElementById('fig-terms'); "
            "return {x: f._fullLayout.xaxis.l2p(f.data[0].x.indexOf('time')), "
            "y: f._fullLayout.yaxis.l2p(f.data[0].y.indexOf('call_center'))}; }"
        )
        page.mouse.click(box["x"] + layout["x"], box["y"] + layout["y"])
        panel = page.locator("#themes-panel")
        panel.locator(".theme").first.wait_for()
        assert panel.locator("h3").inner_text() == "call_center · time (TERMS)"
        assert panel.locator(".theme h4").all_inner_texts() == ["hold · music · minute", "callback · promise"]
        assert panel.locator(".theme.uncertain h4").all_inner_texts() == ["callback · promise"]
        assert HOSTILE_QUOTE in panel.locator("blockquote").first.inner_text()  # shown as text, not run
        assert "2026-01 5.0% → 2026-02 20.0%" in panel.inner_text()
        assert "en: hold · music | ru: ожидание" in panel.locator(".theme").first.inner_text()
        browser.close()
    assert errors == []
