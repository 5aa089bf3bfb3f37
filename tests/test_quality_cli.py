"""``python -m survey cfa`` in a subprocess: lavaan's figures from a CSV file, clear refusals, and
the app's own responses. Reference figures: see tests/test_quality.py (lavaan's tutorial)."""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from semopy.examples import holzinger39
from sqlmodel import Session

from models.db import make_engine
from survey.demo.data import seed_demo

ROOT = Path(__file__).resolve().parent.parent
HS_FACTORS = ["--factor", "visual=x1,x2,x3", "--factor", "textual=x4,x5,x6", "--factor", "speed=x7,x8,x9"]


def run(*args: str, url: str = "sqlite:///unused.db") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": url, "PULSE_DEMO_DATA": "0"}
    return subprocess.run(
        [sys.executable, "-m", "survey", "cfa", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def hs_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hs") / "hs.csv"
    holzinger39.get_data().to_csv(path, index=False)
    return path


def test_single_group_figures_from_a_csv_file(hs_csv):
    result = run("--csv", str(hs_csv), *HS_FACTORS)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (round(out["chisq"], 3), out["df"], out["n"]) == (85.306, 24, 301)
    assert (round(out["cfi"], 3), round(out["tli"], 3), round(out["srmr"], 3)) == (0.931, 0.896, 0.065)
    assert [round(value, 3) for value in [out["rmsea"], *out["rmsea_ci90"]]] == [0.092, 0.071, 0.114]
    assert set(out["omega"]) == set(out["ave"]) == {"visual", "textual", "speed"}
    assert set(out["loadings"]["visual"]) == {"x1", "x2", "x3"}
    assert set(out["htmt"]) == {"visual~textual", "visual~speed", "textual~speed"}
    assert "maximum likelihood" in out["estimator"]


def test_grouped_figures_from_a_csv_file(hs_csv):
    result = run("--csv", str(hs_csv), *HS_FACTORS, "--group", "school")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [(round(out[m]["chisq"], 3), out[m]["df"]) for m in ("configural", "metric", "scalar")] == [
        (115.851, 48),
        (124.044, 54),
        (164.103, 60),
    ]
    assert round(out["metric_vs_configural"]["chisq_diff"], 3) == 8.192
    assert round(out["scalar_vs_metric"]["chisq_diff"], 3) == 40.059
    assert out["level"] == "metric"
    assert [item["item"] for item in out["differing_intercepts"]] == ["x3", "x7"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give either --csv FILE or --responses"),
        (("--factor", "visual=x1,x2,x3", "--responses"), "give either --csv FILE or --responses"),
        (("--factor", "visual:x1,x2"), "--factor 'visual:x1,x2': use NAME=ITEM,ITEM"),
        (("--factor", "visual=x1,x2,x3", "--factor", "visual=x4,x5,x6"), "--factor visual is given twice"),
        (("--factor", "visual=x1,x2,x3", "--since", "2026-01"), "--since applies to --responses only"),
        (("--factor", "visual=x1,x2,nine"), "column nine is missing from the header (row 1)"),
        (("--factor", "visual=x1,x2,x3", "--group", "nope"), "column nope is missing from the header"),
    ],
)
def test_bad_requests_are_named(hs_csv, args, message):
    needs_csv = "--factor" in args
    result = run(*(("--csv", str(hs_csv)) if needs_csv else ()), *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_cell_that_is_not_a_number_is_named_by_row_and_column(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("a,b,c\n1,2,3\n2,x,3\n", encoding="utf-8")
    result = run("--csv", str(path), "--factor", "f=a,b,c")
    assert result.returncode == 1
    assert "row 3, column b: 'x' is not a number" in result.stderr


@pytest.fixture(scope="module")
def small_demo(sqlite_template, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("cfa") / "demo.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with Session(engine) as session:
        seed_demo(session, now=datetime(2026, 11, 20, tzinfo=UTC), accounts=16)
        session.commit()
    engine.dispose()
    return url


def test_the_apps_responses_fit_six_indicators(small_demo):
    result = run("--responses", url=small_demo)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out["omega"]) == [
        "satisfaction",
        "trust",
        "control_mutuality",
        "commitment",
        "mindset",
        "word_of_mouth",
    ]
    assert out["loadings"]["satisfaction"]["SAT4"] > 0.5  # reverse-keyed before fitting
    assert out["n"] > 100
    later = json.loads(run("--responses", "--since", "2026-01", url=small_demo).stdout)
    assert 0 < later["n"] < out["n"]


def test_one_instrument_version_cannot_be_tested_for_invariance(small_demo):
    result = run("--responses", "--group", "version", url=small_demo)
    assert result.returncode == 1
    assert "invariance needs at least two groups with 100 or more complete rows; found 1" in result.stderr
    bad = run("--responses", "--group", "colour", url=small_demo)
    assert "--group 'colour': with --responses use language, version or segment" in bad.stderr
    month = run("--responses", "--since", "2026-13", url=small_demo)
    assert "--since '2026-13': use YYYY-MM" in month.stderr
