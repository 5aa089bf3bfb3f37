"""Exports read back with the tools analysts use, and compared value by value with the database."""

import math
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest
from sqlmodel import select

from models.tables import (
    Account,
    Answer,
    Competitor,
    Contact,
    FollowUp,
    IndicatorScore,
    Interaction,
    Response,
    Touchpoint,
)
from survey.exports.columns import wide_columns
from survey.exports.rows import ExportError, ExportRequest, count_responses
from survey.exports.safety import neutralise, neutralise_array
from survey.exports.writers import export
from survey.instrument.definition import load_instrument
from survey.instrument.forms import FORM_LABELS, pulse_page
from survey.instrument.touchpoints import add_touchpoint
from survey.people.access import Scope, owner_scope
from survey.reporting.filters import Filters
from tests.factories import full_answers, respond

HOSTILE_COMMENT = '=HYPERLINK("http://evil.example","click") and more'
HOSTILE_NOTE = "@SUM(A1:A9)"
HOSTILE_LEADER = "+cmd|' /C calc'!A0"
HOSTILE_ACCOUNT = "-2+3 Holdings"
INSTRUMENT = load_instrument()
SCALE_CODES = [item.code for item in INSTRUMENT.items if item.kind == "agree"]


@pytest.fixture
def answered(session, now):
    """Six responses from two managers' accounts: a skipped item, an anonymous respondent,
    an item only partly answered, hostile text in comments, notes, names and providers; the
    last a pulse (a training touchpoint always gets one), the others check-ups."""
    add_touchpoint(session, code="training", name="Training", actor="ada", form_rule="pulse")
    ids = []
    for number in range(6):
        answers = full_answers() | {"COMMENT": HOSTILE_COMMENT if number % 2 == 0 else f"fine {number}"}
        if number == 1:
            answers |= {"SAT1": None, "MOMENT": None, "VALUE_LEVEL": None}
        if number == 2:
            answers |= {"LEADER_OTHER": HOSTILE_LEADER, "CL_SAT": None}
        if number == 3:  # too few trust items: no trust score
            answers |= {"TRU1": None, "TRU2": None, "TRU3": None}
        if number == 5:  # the first pulse asks only its page's questions
            asked = pulse_page(INSTRUMENT, 0)
            answers = {code: value for code, value in answers.items() if code in asked}
        ids.append(
            respond(
                session,
                now - timedelta(days=10 * number),
                {code: value for code, value in answers.items() if value is not None},
                account=("Acme Tools", HOSTILE_ACCOUNT)[number % 2],
                email=f"person{number}@example.com",
                contact_name=f"Person {number}",
                touchpoint="training" if number == 5 else ("delivery", "onboarding")[number % 3 == 0],
            )
        )
    for account in session.exec(select(Account)).all():
        account.owner = "alex" if account.name == "Acme Tools" else "priya"
        account.segment = "Retail" if account.name == "Acme Tools" else "Energy"
        session.add(account)
    anonymous = session.get(Response, ids[4])
    anonymous.anonymous = True
    session.add(anonymous)
    session.add(
        FollowUp(response_id=ids[1], account_id=anonymous.account_id, reasons="detractor", note=HOSTILE_NOTE)
    )
    session.commit()
    return ids


def expected(session) -> dict[int, dict]:
    """Every exported value, straight from the tables."""
    rows = {}
    for response in session.exec(select(Response).order_by(Response.id)).all():
        account = session.get(Account, response.account_id)
        contact = session.get(Contact, response.contact_id)
        follow_up = session.exec(select(FollowUp).where(FollowUp.response_id == response.id)).first()
        answers = {
            a.item_code: a.value
            for a in session.exec(select(Answer).where(Answer.response_id == response.id))
        }
        scores = {}
        for score in session.exec(select(IndicatorScore).where(IndicatorScore.response_id == response.id)):
            prefix = "leader_" if score.subject == "leader" else ""
            scores[f"{prefix}{score.indicator}_score"] = score.score
            scores[f"{prefix}{score.indicator}_100"] = score.score_100
        leader = response.leader_other
        if response.leader_competitor_id:
            leader = session.get(Competitor, response.leader_competitor_id).name
        row = {
            "response_id": response.id,
            "account": account.name,
            "segment": account.segment,
            "touchpoint": session.get(Touchpoint, response.touchpoint_id).name,
            "contact_id": None if response.anonymous else contact.id,
            "contact_name": None if response.anonymous else contact.name,
            "contact_email": None if response.anonymous else contact.email,
            "contact_role": None if response.anonymous else contact.role,
            "interaction_date": session.get(Interaction, response.interaction_id).occurred_at.date(),
            "submitted_at": response.submitted_at,
            "locale": response.locale,
            "instrument_version": response.instrument_version,
            "form": response.form,
            "duration_seconds": response.duration_seconds,
            "follow_up_status": follow_up.status if follow_up else None,
            "follow_up_note": follow_up.note if follow_up else None,
            "NPS": response.nps,
            "LEADER": leader,
            "VALUE_LEVEL": response.value_level,
            "MOMENT": response.moment,
            "COMMENT": response.comment,
            "nps_category": response.nps_category,
        }
        row |= {code: answers.get(code) for code in SCALE_CODES}
        row |= {c.name: scores.get(c.name) for c in wide_columns() if c.kind == "float"}
        rows[response.id] = row
    return rows


def missing(value) -> bool:
    return (
        value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT
    )


def same(found, wanted, name: str, response_id: int) -> None:
    where = f"response {response_id}, column {name}"
    if missing(wanted):
        assert missing(found) or found == "", f"{where}: {found!r} should be empty"
    elif isinstance(wanted, float):
        assert float(found) == pytest.approx(wanted, rel=1e-12), where
    elif isinstance(wanted, int):
        assert int(found) == wanted, where
    else:
        assert str(found) == str(wanted), f"{where}: {found!r} != {wanted!r}"


SPREADSHEET_TEXT = ("account", "contact_name", "contact_email", "follow_up_note", "LEADER", "COMMENT")


def compare(frame: pd.DataFrame, session, *, quoted: bool) -> None:
    """Every column of ``expected`` against a read-back frame, row by row."""
    wanted = expected(session)
    assert sorted(frame["response_id"].astype(int)) == sorted(wanted)
    for record in frame.to_dict("records"):
        response_id = int(record["response_id"])
        for name, value in wanted[response_id].items():
            if name in ("interaction_date", "submitted_at"):
                continue
            if quoted and name in SPREADSHEET_TEXT and isinstance(value, str) and value[0] in "=+-@":
                value = "'" + value
            same(record[name], value, name, response_id)


def test_csv_holds_every_value_with_formulas_neutralised(session, answered, tmp_path):
    out = tmp_path / "r.csv"
    assert export(session, "csv", out) == 6
    assert not out.read_bytes().startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(out, keep_default_na=False, na_values=[""])
    compare(frame, session, quoted=True)
    assert list(frame.columns) == [column.name for column in wide_columns()]
    hostile = frame.set_index("response_id")
    assert hostile.loc[answered[0], "COMMENT"] == "'" + HOSTILE_COMMENT
    assert hostile.loc[answered[1], "follow_up_note"] == "'" + HOSTILE_NOTE
    assert hostile.loc[answered[2], "LEADER"] == "'" + HOSTILE_LEADER
    assert hostile.loc[answered[1], "account"] == "'" + HOSTILE_ACCOUNT
    # An analyst separates pulses from check-ups, and instrument versions, by column.
    assert hostile["form"].to_dict() == {
        rid: "pulse" if rid == answered[5] else "checkup" for rid in answered
    }
    assert set(hostile["instrument_version"]) == {INSTRUMENT.version}
    # Dates and times as stored.
    wanted = expected(session)
    for response_id, row in hostile.iterrows():
        assert pd.Timestamp(row["submitted_at"]) == pd.Timestamp(wanted[response_id]["submitted_at"])
        assert str(row["interaction_date"]) == str(wanted[response_id]["interaction_date"])


def test_csv_with_a_byte_order_mark_for_excel(session, answered, tmp_path):
    out = tmp_path / "r.csv"
    export(session, "csv", out, bom=True)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(out, encoding="utf-8-sig").columns[0] == "response_id"


def test_parquet_holds_every_value_and_labels(session, answered, tmp_path):
    out = tmp_path / "r.parquet"
    assert export(session, "parquet", out) == 6
    table = pq.read_table(out)
    compare(table.to_pandas(), session, quoted=False)  # not a spreadsheet: text as given
    assert table.schema.field("SAT4").metadata[b"label"].decode() == INSTRUMENT.item("SAT4").text["en"]
    assert str(table.schema.field("submitted_at").type) == "timestamp[us, tz=UTC]"
    submitted = dict(
        zip(table.column("response_id").to_pylist(), table.column("submitted_at").to_pylist(), strict=True)
    )
    assert all(submitted[i] == row["submitted_at"] for i, row in expected(session).items())


def test_excel_has_responses_scores_and_codebook(session, answered, tmp_path):
    out = tmp_path / "r.xlsx"
    assert export(session, "xlsx", out) == 6
    book = openpyxl.load_workbook(out, read_only=False)
    assert book.sheetnames == ["responses", "indicator scores", "codebook"]
    responses = pd.DataFrame(book["responses"].values)
    responses = responses.rename(columns=responses.iloc[0]).drop(index=0)
    scores = pd.DataFrame(book["indicator scores"].values)
    scores = scores.rename(columns=scores.iloc[0]).drop(index=0)
    assert list(scores.columns[:3]) == ["response_id", "account", "submitted_at"]
    compare(
        responses.merge(scores.drop(columns=["account", "submitted_at"]), on="response_id"),
        session,
        quoted=True,
    )
    # A hostile comment is a text cell, never a formula.
    for row in book["responses"].iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"
    codebook = {row[0]: row for row in book["codebook"].iter_rows(min_row=2, values_only=True)}
    header = next(book["codebook"].iter_rows(max_row=1, values_only=True))
    sat4 = dict(zip(header, codebook["SAT4"], strict=True))
    assert sat4["wording_de"] == INSTRUMENT.item("SAT4").text["de"]
    assert (sat4["reverse_keyed"], sat4["indicator"], sat4["scale"]) == ("yes", "satisfaction", "1-7")
    assert "7 = Strongly agree" in sat4["values"]
    assert set(codebook) == {column.name for column in wide_columns()}


def test_excel_refuses_more_rows_than_a_sheet_holds(session, answered, tmp_path, monkeypatch):
    monkeypatch.setattr("survey.exports.writers.EXCEL_MAX_ROWS", 5)
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ExportError, match="at most 5 rows"):
        export(session, "xlsx", folder / "r.xlsx")
    assert list(folder.iterdir()) == []


def test_spss_file_has_variable_and_value_labels_and_missing_codes(session, answered, tmp_path):
    out = tmp_path / "r.sav"
    assert export(session, "sav", out) == 6
    frame, meta = pyreadstat.read_sav(out, user_missing=False)
    # Text codes are numbers in SPSS: read them back through their labels.
    labelled = frame.copy()
    coded = [column for column in wide_columns() if column.text_codes]
    assert {"MOMENT", "nps_category", "form", "contact_role", "locale", "follow_up_status"} <= {
        column.name for column in coded
    }
    for column in coded:
        labelled[column.name] = frame[column.name].map(
            {code: text for text, code in column.text_codes.items()}
        )
    compare(labelled, session, quoted=False)
    # Coded text reads back as the text itself through its value labels.
    assert meta.variable_value_labels["contact_role"][1.0] == "decision_maker"
    assert meta.variable_value_labels["follow_up_status"][3.0] == "closed"
    assert meta.variable_measure["locale"] == "nominal"
    assert meta.column_names_to_labels["SAT1"] == INSTRUMENT.item("SAT1").text["en"]
    assert meta.column_names_to_labels["trust_100"] == "Trust of us (0-100)"
    assert meta.variable_value_labels["SAT1"][7.0] == "Strongly agree"
    assert meta.variable_value_labels["NPS"][10.0] == "Extremely likely"
    assert meta.variable_value_labels["VALUE_LEVEL"][1.0] == "Mainly the price."
    assert meta.variable_value_labels["MOMENT"][1.0] == "Yes, it delighted me"
    assert set(meta.variable_value_labels["form"].values()) == set(FORM_LABELS.values())
    assert meta.column_names_to_labels["instrument_version"] == "Instrument version"
    assert meta.variable_value_labels["SAT1"][-1.0] == "Not answered"
    assert meta.variable_measure["SAT1"] == "ordinal"
    # With user-missing codes kept, the skipped item says why it is empty.
    raw, raw_meta = pyreadstat.read_sav(out, user_missing=True)
    assert {"lo": -1.0, "hi": -1.0} in raw_meta.missing_ranges["SAT1"]
    assert {"lo": -2.0, "hi": -2.0} in raw_meta.missing_ranges["SAT1"]
    raw = raw.set_index("response_id")
    assert raw.loc[answered[1], "SAT1"] == -1
    assert raw.loc[answered[3], "trust_score"] == -1
    assert raw.loc[answered[0], "SAT1"] == full_answers()["SAT1"]
    # An empty coded text is a declared missing value, labelled, never a valid -9.
    for name, said in (("nps_category", "Not answered"), ("follow_up_status", "No follow-up")):
        assert {"lo": -9.0, "hi": -9.0} in raw_meta.missing_ranges[name]
        assert raw_meta.variable_value_labels[name][-9.0] == said
    wanted = expected(session)
    for response_id, row in raw.iterrows():
        delta = pd.Timestamp(row["submitted_at"]) - pd.Timestamp(
            wanted[response_id]["submitted_at"]
        ).tz_localize(None)
        assert abs(delta) < pd.Timedelta(milliseconds=1)  # SPSS keeps seconds as a double


def test_spss_gives_a_text_outside_its_list_a_code_of_its_own(session, answered, tmp_path):
    """A contact role stored before the list of roles was closed is kept, not read as empty."""
    contact_id = session.get(Response, answered[0]).contact_id
    session.get(Contact, contact_id).role = "champion"
    session.commit()
    out = tmp_path / "r.sav"
    export(session, "sav", out)
    frame, meta = pyreadstat.read_sav(out, apply_value_formats=True)
    roles = frame.set_index("response_id")["contact_role"]
    assert roles[answered[0]] == "champion"
    assert meta.variable_value_labels["contact_role"][5.0] == "champion"
    for response_id in answered[1:]:
        response = session.get(Response, response_id)
        stored = None if response.anonymous else session.get(Contact, response.contact_id).role
        assert (None if pd.isna(roles[response_id]) else roles[response_id]) == stored


def test_long_format_has_one_row_per_answer(session, answered, tmp_path):
    out = tmp_path / "long.csv"
    export(session, "csv", out, ExportRequest(long=True))
    frame = pd.read_csv(out)
    stored = sorted((a.response_id, a.item_code, a.value) for a in session.exec(select(Answer)))
    assert sorted(zip(frame["response_id"], frame["item_code"], frame["value"], strict=True)) == stored
    sat1 = frame[frame["item_code"] == "SAT4"]
    assert set(sat1["indicator"]) == {"satisfaction"}
    assert frame.groupby("response_id")["account"].nunique().max() == 1
    forms = frame.groupby("response_id")[["form", "instrument_version"]].nunique()
    assert forms.max().tolist() == [1, 1]  # every answer row says its response's form and version
    assert set(frame.loc[frame["response_id"] == answered[5], "form"]) == {"pulse"}


def test_small_chunks_write_the_same_file(session, answered, tmp_path):
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    export(session, "csv", whole)
    export(session, "csv", chunked, ExportRequest(chunk_size=2))
    assert whole.read_bytes() == chunked.read_bytes()
    export(session, "csv", whole, ExportRequest(long=True))
    export(session, "csv", chunked, ExportRequest(long=True, chunk_size=4))
    assert whole.read_bytes() == chunked.read_bytes()


def test_each_manager_exports_only_their_accounts(session, answered, tmp_path):
    acme = set(answered[0::2])
    for owner, mine in (("alex", acme), ("priya", set(answered) - acme)):
        scope = owner_scope(session, owner)
        for fmt in ("csv", "parquet", "xlsx", "sav"):
            out = tmp_path / f"{owner}.{fmt}"
            export(session, fmt, out, ExportRequest(scope=scope))
            if fmt == "csv":
                ids = set(pd.read_csv(out)["response_id"])
            elif fmt == "parquet":
                ids = set(pq.read_table(out).column("response_id").to_pylist())
            elif fmt == "xlsx":
                sheet = openpyxl.load_workbook(out)["responses"]
                ids = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
            else:
                ids = set(pyreadstat.read_sav(out)[0]["response_id"].astype(int))
            assert ids == mine, f"{owner} {fmt}"
        export(session, "csv", tmp_path / "long.csv", ExportRequest(scope=scope, long=True))
        assert set(pd.read_csv(tmp_path / "long.csv")["response_id"]) == mine
    export(session, "csv", tmp_path / "none.csv", ExportRequest(scope=Scope.of_accounts([])))
    assert len(pd.read_csv(tmp_path / "none.csv")) == 0


def test_an_anonymous_response_carries_no_contact_identity(session, answered, tmp_path):
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"r.{fmt}"
        export(session, fmt, out)
        frame = pd.read_csv(out) if fmt == "csv" else pq.read_table(out).to_pandas()
        frame = frame.set_index("response_id")
        anonymous = frame.loc[answered[4]]
        assert all(
            missing(anonymous[name])
            for name in ("contact_id", "contact_name", "contact_email", "contact_role", "interaction_id")
        )
        assert bool(anonymous["anonymous"]) is True
        assert frame.loc[answered[0], "contact_email"] == "person0@example.com"
        text = out.read_bytes()
        assert b"person4@example.com" not in text
        assert b"Person 4" not in text


def test_filters_are_the_dashboards(session, answered, now, tmp_path):
    onboarding = session.exec(select(Touchpoint.id).where(Touchpoint.code == "onboarding")).one()
    cases = {
        Filters(touchpoint_ids=(onboarding,)): {answered[0], answered[3]},
        Filters(segments=("Energy",)): set(answered[1::2]),
        Filters(
            account_ids=(session.exec(select(Account.id).where(Account.name == "Acme Tools")).one(),)
        ): set(answered[0::2]),
        Filters(start=f"{now:%Y-%m}", end=f"{now:%Y-%m}"): {
            rid for rid in answered if session.get(Response, rid).submitted_at.month == now.month
        },
        Filters(roles=("decision_maker",)): set(),
        Filters(roles=("user",)): {
            rid
            for rid in answered
            if (contact := session.get(Contact, session.get(Response, rid).contact_id))
            and contact.role == "user"
        },
    }
    every = Filters(segments=("Energy",), roles=("user",), touchpoint_ids=(onboarding,))
    cases[every] = (
        cases[Filters(segments=("Energy",))]
        & cases[Filters(roles=("user",))]
        & cases[Filters(touchpoint_ids=(onboarding,))]
    )
    assert cases[every]
    for filters, wanted in cases.items():
        export(session, "csv", tmp_path / "f.csv", ExportRequest(filters=filters))
        assert set(pd.read_csv(tmp_path / "f.csv")["response_id"]) == wanted, filters
        assert count_responses(session, ExportRequest(filters=filters)) == len(wanted), filters


def test_a_bad_month_is_named_and_nothing_is_written(session, answered, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ExportError, match="start must be a month as YYYY-MM, not '2026-13'"):
        export(session, "csv", folder / "r.csv", ExportRequest(filters=Filters(start="2026-13")))
    with pytest.raises(ExportError, match="format must be one of"):
        export(session, "pdf", folder / "r.pdf")  # type: ignore[arg-type]
    assert list(folder.iterdir()) == []


def test_an_empty_selection_still_writes_headers(session, tmp_path):
    for fmt in ("csv", "parquet", "xlsx", "sav"):
        assert export(session, fmt, tmp_path / f"e.{fmt}") == 0
    assert list(pd.read_csv(tmp_path / "e.csv").columns) == [c.name for c in wide_columns()]
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0


def test_progress_is_reported_in_responses(session, answered, tmp_path):
    seen = []
    export(
        session,
        "parquet",
        tmp_path / "r.parquet",
        ExportRequest(chunk_size=4),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[0] == (4, 6)
    assert seen[-1] == (6, 6)
    assert np.all(np.diff([done for done, _ in seen]) >= 0)


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("a = b", "a = b"),
        ("", ""),
        ("Grüße", "Grüße"),
    ],
)
def test_text_a_spreadsheet_would_run_is_neutralised(text, safe):
    assert neutralise(text) == safe
    assert neutralise_array(pa.array([text, None])).to_pylist() == [safe, None]


def test_spss_whole_numbers_are_held_in_the_narrowest_integers_and_widen_when_one_does_not_fit():
    import numpy as np

    from survey.exports.writers import _placed_at, _whole_numbers

    ratings = _whole_numbers(np.array([1, 7, -1], dtype=np.int64))
    assert ratings.dtype == np.int8
    held = _placed_at(None, ratings, 0, 9)
    ids = _whole_numbers(np.array([40_000, 5, 6], dtype=np.int64))
    assert ids.dtype == np.int32
    held = _placed_at(held, ids, 3, 9)
    assert held.dtype == np.int32
    big = _whole_numbers(np.array([2**31, 5, 6], dtype=np.int64))
    assert big.dtype == np.float64
    held = _placed_at(held, big, 6, 9)
    assert held.dtype == np.float64
    assert held.tolist() == [1, 7, -1, 40_000, 5, 6, 2**31, 5, 6]


def test_the_export_path_does_not_load_the_statistics_libraries():
    """An export of a million responses must stay small: loading pingouin, scipy or statsmodels
    alone costs it over 100 MB, and nothing an export writes needs them."""
    code = (
        "import sys\n"
        "import models.db, survey.exports.api, survey.exports.names, survey.exports.writers\n"
        "print(','.join(sorted(name for name in ('pingouin', 'scipy', 'statsmodels', 'sklearn')"
        " if name in sys.modules)))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == ""
