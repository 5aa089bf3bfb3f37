"""Importing benchmark figures: all or nothing, every problem named."""

from datetime import date

import pytest
from sqlmodel import func, select

from models.tables import Benchmark
from survey.imports.benchmarks import BenchmarkImportError, import_benchmarks, parse_benchmarks, period_bounds

HEADER = "kind,name,indicator,period,value,scale,n,sd,source\n"
GOOD = HEADER + (
    "industry,B2B services average,Trust,2026,3.7,1-5,1240,0.8,Index 2026\n"
    "competitor,Brightline Partners,control mutuality,2026-Q2,74,0-100,310,17,Annual report\n"
)


@pytest.mark.parametrize(
    ("period", "bounds"),
    [
        ("2026", (date(2026, 1, 1), date(2026, 12, 31))),
        ("2026-Q2", (date(2026, 4, 1), date(2026, 6, 30))),
        ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
        ("2026-Q5", None),
        ("26", None),
        ("2026-13", None),
    ],
)
def test_periods(period, bounds):
    assert period_bounds(period) == bounds


def test_figures_are_converted_to_0_100():
    trust, control = parse_benchmarks(GOOD.encode())
    assert trust.indicator == "trust"
    assert trust.value_100 == pytest.approx(67.5)
    assert (trust.period_start, trust.period_end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert control.indicator == "control_mutuality"
    assert control.value_100 == 74


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("company,X,trust,2026,3,1-5,,,S", "row 2, kind: 'company' is not competitor or industry"),
        ("industry,X,happiness,2026,3,1-5,,,S", "row 2, indicator: 'happiness' is not an indicator"),
        (
            "industry,X,trust,last year,3,1-5,,,S",
            "row 2, period: 'last year' is not a year, quarter or month",
        ),
        ("industry,X,trust,2026,6,1-5,,,S", "row 2, value: 6 is outside the stated scale 1-5"),
        ("industry,X,trust,2026,high,1-5,,,S", "row 2, value: 'high' is not a number"),
        ("industry,X,trust,2026,3,5-1,,,S", "row 2, scale: '5-1' is not a range"),
        ("industry,X,trust,2026,3,1-5,1,,S", "row 2, n: '1' is not a whole number of at least 2"),
        ("industry,X,trust,2026,3,1-5,10,-2,S", "row 2, sd: '-2' is not a number of 0 or more"),
        ("industry,X,trust,2026,3,1-5,10,1,", "row 2, source: must say where the figure comes from"),
        ("industry,X,trust,2026,3,1-5,10,1,S,extra", "row 2, row: has more cells than the header"),
    ],
)
def test_bad_rows_are_named_and_nothing_is_imported(session, row, problem):
    data = (GOOD + row + "\n").encode()
    with pytest.raises(BenchmarkImportError) as raised:
        import_benchmarks(session, data)
    assert problem.replace("row 2", "row 4") in str(raised.value)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Benchmark)).one() == 0


def test_missing_columns_and_wrong_encoding_are_named():
    with pytest.raises(BenchmarkImportError, match="row 1, sd: column is missing"):
        parse_benchmarks(b"kind,name,indicator,period,value,scale,n,source\n")
    with pytest.raises(BenchmarkImportError, match="not UTF-8 text"):
        parse_benchmarks(GOOD.replace("average", "moyenne é").encode("latin-1"))


def test_formula_text_is_just_text(session):
    data = (HEADER + 'industry,"=HYPERLINK(""x"")",trust,2026,3,1-5,,,"@SUM(A1)"\n').encode()
    [figure] = parse_benchmarks(data)
    assert figure.name == '=HYPERLINK("x")'


def test_reimporting_the_same_file_updates_instead_of_duplicating(session):
    assert import_benchmarks(session, GOOD.encode()).added == 2
    session.commit()
    again = import_benchmarks(session, GOOD.replace("3.7,", "3.9,").encode())
    session.commit()
    assert (again.added, again.updated) == (0, 2)
    values = session.exec(select(Benchmark.value).order_by(Benchmark.id)).all()
    assert values == [3.9, 74]
