"""The synthetic base every benchmark measures: N responses shaped like the demo data.

    .venv/bin/python -m bench.base --out FILE [--responses N] [--accounts A] [--manager-accounts M]

``build`` migrates a database, generates N responses with numpy from the demo's latent model
(24 months, 3-6 contacts per account, the 7 default touchpoints, every indicator item
answered on 1-7 with 3% skipped, NPS, ratings of a named category leader and the matching
scores, one interaction and one invitation per response), loads them with DBAPI
``executemany`` (SQLite) or ``COPY`` (PostgreSQL) in one transaction, and then fills every
aggregate with the product's own ``survey.reporting.aggregates.rebuild``: nothing the product
computes is computed a second way here. A sample is re-scored by the app's validation and
scoring and must agree. Accounts are owned by the demo's three account managers in turn, or,
with ``manager_accounts``, the first manager owns that many and the others share the rest.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bench.measure import log, normalised_url, timed
from models.db import make_engine
from models.tables import Account, Competitor, Contact, Response, ScoreSegmentRollup, Touchpoint
from survey.collecting.responses import LEADER_OTHER, LEADER_OTHER_KEY, scores_for, validate_answers
from survey.demo import data as demo
from survey.imports.benchmarks import import_benchmarks
from survey.instrument.definition import Instrument, load_instrument
from survey.instrument.scoring import nps_category
from survey.operations.startup import prepare_database
from survey.reporting import aggregates

DEFAULT_RESPONSES = 1_000_000
MONTHS = demo.MONTHS  # 24
ACCOUNTS = 200
# The demo's four segments and a fifth: (industry, trend per month in scale points).
SEGMENTS = {**demo.SEGMENTS, "Public sector": ("Government and utilities", -0.02)}
ROLES = ("decision_maker", "buyer", "influencer", "user")  # contact number 0, 1, 2, 3+
CHANNELS = ("email", "phone", "on site", "video call")
MOMENTS = ("delighted", "as_expected", "disappointed", "frustrated")
OTHER_LEADER = "Stratos Group"
MISSING = -1  # an item left unanswered, in the int8 answer matrices
CHUNK = 50_000  # responses per batch of inserts
SPOT_CHECKS = 300  # responses re-scored with survey.collecting.responses / survey.instrument.scoring
PERIOD_MONTHS = 12  # the period timed: the last 12 months


# --------------------------------------------------------------------------------------
# Synthetic data
# --------------------------------------------------------------------------------------


@dataclass
class Synthetic:
    """Every generated value, one array entry per response (sorted by submission time)."""

    month_labels: list[str]
    segment_names: list[str]
    account_rows: list[dict[str, Any]]
    account_segment: np.ndarray  # per account: index into segment_names
    contact_rows: list[dict[str, Any]]
    contact_account: np.ndarray  # per contact: index into account_rows
    contact_role: np.ndarray  # per contact: index into ROLES
    contact_de: np.ndarray  # per contact: answers in German
    tp_ids: np.ndarray  # touchpoint ids, in the order of tp indices below
    competitor_ids: np.ndarray  # [0, id of each listed competitor]: index 0 is "other"
    item_codes: list[str]  # columns of ``items``: indicator items in instrument order
    leader_codes: list[str]  # columns of ``leader``: one rating item per indicator
    # per response
    month: np.ndarray
    submitted_us: np.ndarray  # microseconds since the epoch, UTC
    account: np.ndarray
    contact: np.ndarray
    touchpoint: np.ndarray  # index into tp_ids
    duration: np.ndarray  # seconds from start to submission
    waited_us: np.ndarray  # from the invitation being sent to the start
    lead_us: np.ndarray  # from the interaction to the invitation
    channel: np.ndarray
    value: np.ndarray  # the interaction's value (NaN: none)
    items: np.ndarray  # (n, items) stored answers 1-7, MISSING when skipped
    nps: np.ndarray
    leader_kind: np.ndarray  # 0 none, 1 a listed competitor, 2 another provider
    leader_slot: np.ndarray  # index into competitor_ids (0 unless listed)
    leader: np.ndarray  # (n, indicators) ratings 1-7, MISSING without a leader
    value_level: np.ndarray  # MISSING: not answered
    moment: np.ndarray  # index into MOMENTS, MISSING: not answered
    comment: np.ndarray  # index into comment_texts, MISSING: none
    comment_texts: list[str]
    own_score: np.ndarray  # (n, indicators) mean of keyed answers, NaN when too few answered
    own_answered: np.ndarray  # (n, indicators)

    @property
    def n(self) -> int:
        return len(self.month)


def month_starts(anchor: date, months: int) -> list[date]:
    """First days of the ``months`` months before ``anchor``'s month, and of that month."""
    base = anchor.year * 12 + anchor.month - 1
    return [date((base - k) // 12, (base - k) % 12 + 1, 1) for k in range(months, -1, -1)]


def _epoch_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000


def _rounded(values: np.ndarray, low: int, high: int) -> np.ndarray:
    # np.rint rounds half to even, like Python's round() in the demo.
    return np.clip(np.rint(values), low, high).astype(np.int8)


def owners(accounts: int, manager_accounts: int | None) -> list[str]:
    """Each account's owner: the demo's managers in turn, or the first one owning the first
    ``manager_accounts`` accounts and the others sharing the rest."""
    if manager_accounts is None:
        return [demo.OWNERS[index % len(demo.OWNERS)] for index in range(accounts)]
    others = demo.OWNERS[1:]
    return [
        demo.OWNERS[0] if index < manager_accounts else others[index % len(others)]
        for index in range(accounts)
    ]


def generate(
    n: int,
    seed: int,
    instrument: Instrument,
    tp_ids: dict[str, int],
    competitor_ids: dict[str, int],
    anchor: date,
    accounts: int = ACCOUNTS,
    manager_accounts: int | None = None,
) -> Synthetic:
    """N responses from the demo's latent model, vectorised with numpy, over ``accounts``
    accounts (see ``owners`` for who owns them)."""
    rng = np.random.default_rng(seed)
    scale = instrument.agree_scale
    low, high = scale.min, scale.max
    segment_names = list(SEGMENTS)
    starts = month_starts(anchor, MONTHS)
    month_labels = [f"{day:%Y-%m}" for day in starts[:-1]]
    created = datetime(starts[0].year, starts[0].month, starts[0].day, tzinfo=UTC)

    # Accounts: unique names from the demo's parts, the declining account first.
    combos = [f"{first} {second}" for first in demo.FIRST for second in demo.SECOND]
    combos.remove(demo.DECLINING_ACCOUNT)
    shuffled = [combos[i] for i in rng.permutation(len(combos))]
    # More accounts than name combinations: numbered, "Acme Tools 2".
    more = [f"{name} {round_ + 2}" for round_ in range(accounts // len(combos) + 1) for name in shuffled]
    names = [demo.DECLINING_ACCOUNT, *shuffled, *more][:accounts]
    owner_of = owners(accounts, manager_accounts)
    account_rows, account_segment, account_tier = [], [], []
    for index, name in enumerate(names):
        segment = index % len(segment_names)
        region = demo.REGIONS[int(rng.integers(len(demo.REGIONS)))]
        tier = "Strategic" if index == 0 else demo.TIERS[int(rng.integers(len(demo.TIERS)))]
        account_rows.append(
            {
                "id": index + 1,
                "name": name,
                "external_id": f"CRM-{1000 + index}",
                "segment": segment_names[segment],
                "industry": SEGMENTS[segment_names[segment]][0],
                "region": region,
                "tier": tier,
                "owner": owner_of[index],
                "manager_value_level": int(rng.integers(1, 5)),
                "created_at": created,
            }
        )
        account_segment.append(segment)
        account_tier.append(tier)
    account_level = 4.9 + rng.normal(0, 0.45, accounts)

    contact_rows, contact_account, contact_role, contact_de = [], [], [], []
    first_contact = np.zeros(accounts, dtype=np.int64)
    contact_count = rng.integers(3, 7, accounts)
    for index, row in enumerate(account_rows):
        first_contact[index] = len(contact_rows)
        domain = row["name"].lower().replace(" ", "") + ".example"
        for number in range(int(contact_count[index])):
            role = min(number, len(ROLES) - 1)
            given, family = str(rng.choice(demo.GIVEN)), str(rng.choice(demo.FAMILY))
            influence = demo.ROLE_INFLUENCE[ROLES[role]] + rng.normal(0, 0.08)
            contact_rows.append(
                {
                    "id": len(contact_rows) + 1,
                    "account_id": row["id"],
                    "name": f"{given} {family}",
                    "email": f"{given}.{family}.{number}@{domain}".lower(),
                    "role": ROLES[role],
                    "buying_influence": round(min(1.0, max(0.05, influence)), 2),
                    "language": "de" if row["region"] == "DACH" else "en",
                    "created_at": created,
                }
            )
            contact_account.append(index)
            contact_role.append(role)
            contact_de.append(row["region"] == "DACH")
    contact_effect = rng.normal(0, 0.4, len(contact_rows))

    # When and where: a little growth over the months, busier tiers answer more often.
    month_weights = 1 + 0.015 * np.arange(MONTHS)
    month = np.sort(rng.choice(MONTHS, n, p=month_weights / month_weights.sum())).astype(np.int16)
    bounds = np.array([_epoch_us(day) for day in starts], dtype=np.int64)
    offsets = (rng.random(n) * (bounds[month + 1] - bounds[month])).astype(np.int64)
    submitted_us = bounds[month] + offsets
    order = np.argsort(submitted_us, kind="stable")
    month, submitted_us = month[order], submitted_us[order]  # ids follow submission time

    tier_weights = np.array([demo.INTERACTIONS_PER_MONTH[tier] for tier in account_tier])
    account = rng.choice(accounts, n, p=tier_weights / tier_weights.sum()).astype(np.int32)
    contact = (first_contact[account] + (rng.random(n) * contact_count[account]).astype(np.int64)).astype(
        np.int32
    )
    tp_codes = [code for code in demo.TOUCHPOINT_WEIGHTS if code in tp_ids]
    tp_weights = np.array([demo.TOUCHPOINT_WEIGHTS[code] for code in tp_codes], dtype=float)
    touchpoint = rng.choice(len(tp_codes), n, p=tp_weights / tp_weights.sum()).astype(np.int8)
    tp_effect = np.array([demo.TOUCHPOINT_EFFECTS[code] for code in tp_codes])
    trend = np.array([SEGMENTS[name][1] for name in segment_names])

    level = (
        account_level[account]
        + contact_effect[contact]
        + tp_effect[touchpoint]
        + trend[np.asarray(account_segment)[account]] * month
        + rng.normal(0, 0.55, n)
    )
    months_left = MONTHS - month
    declining = (account == 0) & (months_left <= demo.DECLINE_MONTHS)
    level += np.where(declining, demo.DECLINE_PER_MONTH * (demo.DECLINE_MONTHS - months_left + 1), 0.0)

    # Answers: items of one indicator share a latent value; 3% of statements are skipped.
    indicators = list(instrument.indicators)
    columns = [item for indicator in indicators for item in instrument.indicator_items(indicator.code)]
    owner = np.array([[i.code for i in indicators].index(item.indicator) for item in columns])
    reverse = np.array([item.reverse for item in columns])
    latent = level[:, None] + np.array(demo.INDICATOR_OFFSETS) + rng.normal(0, 0.45, (n, len(indicators)))
    answer = _rounded(latent[:, owner] + rng.normal(0, 0.75, (n, len(columns))), low, high)
    items = np.where(reverse, low + high - answer, answer).astype(np.int8)
    items[rng.random((n, len(columns))) < 0.03] = MISSING
    wom = latent[:, [i.code for i in indicators].index("word_of_mouth")]
    nps = _rounded((wom - 1) / 6 * 10 + 1.6 + rng.normal(0, 1.1, n), 0, 10)

    # The category leader: a listed competitor (80%), another provider (4%) or none.
    pick = rng.random(n)
    weights = np.array(demo.COMPETITOR_WEIGHTS)
    listed = rng.choice(len(weights), n, p=weights / weights.sum())
    leader_kind = np.where(pick < 0.8, 1, np.where(pick < 0.84, 2, 0)).astype(np.int8)
    leader_slot = np.where(leader_kind == 1, listed + 1, 0).astype(np.int8)
    general = np.array([0.0] + [demo.COMPETITORS[name][0] for name in demo.COMPETITORS] + [4.5])
    offset = np.array(
        [(0.0,) * len(indicators)]
        + [demo.COMPETITORS[name][1] for name in demo.COMPETITORS]
        + [(0.0,) * len(indicators)]
    )
    profile = np.where(leader_kind == 2, len(general) - 1, leader_slot)
    leader = _rounded(
        general[profile][:, None] + offset[profile] + rng.normal(0, 0.9, (n, len(indicators))), low, high
    )
    leader[leader_kind == 0] = MISSING

    value_level = np.where(
        rng.random(n) < 0.7, _rounded((level - 2.5) * 0.9 + rng.normal(0, 0.7, n), 0, 4), MISSING
    ).astype(np.int8)
    feel = latent[:, [i.code for i in indicators].index("satisfaction")]
    mood = np.select([feel > 6.0, feel < 2.8, feel < 3.8], [0, 3, 2], 1)
    moment = np.where(rng.random(n) < 0.75, mood, MISSING).astype(np.int8)
    comment_texts = [text for mood_name in ("low", "mid", "high") for text in demo.COMMENTS[mood_name]]
    tone = np.select([feel < 3.8, feel > 5.6], [0, 2], 1)
    comment = np.where(rng.random(n) < 0.2, tone * 3 + rng.integers(0, 3, n), MISSING).astype(np.int8)

    # Scores as survey.instrument.scoring computes them: mean of the keyed answers when enough are given.
    keyed = np.where(reverse, low + high - items, items).astype(np.float64)
    answered = items != MISSING
    own_score = np.full((n, len(indicators)), np.nan)
    own_answered = np.zeros((n, len(indicators)), dtype=np.int8)
    share = instrument.min_share
    for index in range(len(indicators)):
        wanted = owner == index
        count = answered[:, wanted].sum(axis=1)
        total = np.where(answered[:, wanted], keyed[:, wanted], 0).sum(axis=1)
        enough = count * share.denominator >= share.numerator * int(wanted.sum())
        own_score[:, index] = np.where(enough, total / np.maximum(count, 1), np.nan)
        own_answered[:, index] = count

    hour = 3_600_000_000
    duration = rng.integers(80, 421, n).astype(np.int32)
    waited_us = np.minimum(rng.exponential(40, n), 13 * 24).astype(np.float64) * hour
    lead_us = rng.uniform(1, 30, n) * hour
    channel = rng.integers(0, len(CHANNELS), n).astype(np.int8)
    money = np.isin(touchpoint, [tp_codes.index(code) for code in ("purchase", "renewal")])
    value = np.where(money, np.round(rng.lognormal(9, 1, n), 2), np.nan)

    return Synthetic(
        month_labels=month_labels,
        segment_names=segment_names,
        account_rows=account_rows,
        account_segment=np.asarray(account_segment, dtype=np.int64),
        contact_rows=contact_rows,
        contact_account=np.asarray(contact_account, dtype=np.int64),
        contact_role=np.asarray(contact_role, dtype=np.int64),
        contact_de=np.asarray(contact_de, dtype=bool),
        tp_ids=np.array([tp_ids[code] for code in tp_codes], dtype=np.int64),
        competitor_ids=np.array([0] + [competitor_ids[name] for name in demo.COMPETITORS], dtype=np.int64),
        item_codes=[item.code for item in columns],
        leader_codes=[instrument.leader_item(indicator.code).code for indicator in indicators],
        month=month,
        submitted_us=submitted_us,
        account=account,
        contact=contact,
        touchpoint=touchpoint,
        duration=duration,
        waited_us=waited_us.astype(np.int64),
        lead_us=lead_us.astype(np.int64),
        channel=channel,
        value=value,
        items=items,
        nps=nps,
        leader_kind=leader_kind,
        leader_slot=leader_slot,
        leader=leader,
        value_level=value_level,
        moment=moment,
        comment=comment,
        comment_texts=comment_texts,
        own_score=own_score,
        own_answered=own_answered,
    )


def answers_of(data: Synthetic, row: int) -> dict[str, Any]:
    """One response's answers as the survey page would submit them."""
    answers: dict[str, Any] = {
        code: int(value) for code, value in zip(data.item_codes, data.items[row], strict=True) if value >= 0
    }
    answers["NPS"] = int(data.nps[row])
    if data.leader_kind[row] == 1:
        answers["LEADER"] = int(data.competitor_ids[data.leader_slot[row]])
    elif data.leader_kind[row] == 2:
        answers["LEADER"], answers[LEADER_OTHER_KEY] = LEADER_OTHER, OTHER_LEADER
    if data.leader_kind[row]:
        answers |= {code: int(v) for code, v in zip(data.leader_codes, data.leader[row], strict=True)}
    if data.value_level[row] >= 0:
        answers["VALUE_LEVEL"] = int(data.value_level[row])
    if data.moment[row] >= 0:
        answers["MOMENT"] = MOMENTS[data.moment[row]]
    if data.comment[row] >= 0:
        answers["COMMENT"] = data.comment_texts[data.comment[row]]
    return answers


def spot_check(data: Synthetic, instrument: Instrument, seed: int) -> None:
    """Re-score a sample with the app's own validation and scoring: the numbers must agree."""
    rng = np.random.default_rng(seed + 1)
    listed = [int(cid) for cid in data.competitor_ids[1:]]
    indicators = [indicator.code for indicator in instrument.indicators]
    for row in rng.choice(data.n, min(SPOT_CHECKS, data.n), replace=False):
        clean = validate_answers(instrument, answers_of(data, int(row)), listed)
        expected = {
            (r.indicator, r.subject): (r.score, r.score_100, r.items_answered)
            for r in scores_for(instrument, clean)
        }
        ours = {}
        for index, code in enumerate(indicators):
            if not np.isnan(data.own_score[row, index]):
                score = float(data.own_score[row, index])
                ours[code, "own"] = (score, 100.0 * (score - 1) / 6, int(data.own_answered[row, index]))
            if data.leader_kind[row]:
                value = float(data.leader[row, index])
                ours[code, "leader"] = (value, 100.0 * (value - 1) / 6, 1)
        if ours != expected or nps_category(clean.nps) != nps_categories(data.nps[[row]])[0]:
            raise AssertionError(f"response {row}: generated scores {ours} differ from the app's {expected}")
    log(f"spot check: {min(SPOT_CHECKS, data.n)} responses re-scored by survey.instrument.scoring, identical")


def nps_categories(nps: np.ndarray) -> np.ndarray:
    return np.where(nps >= 9, "promoter", np.where(nps >= 7, "passive", "detractor")).astype(object)


# --------------------------------------------------------------------------------------
# Bulk inserts
# --------------------------------------------------------------------------------------


def bulk_insert(
    dbapi_connection: Any, dialect: str, table: str, columns: Sequence[str], rows: Iterable[tuple]
) -> None:
    """Rows (tuples in ``columns`` order) in the caller's open transaction."""
    names = ", ".join(columns)
    if dialect == "sqlite":
        cursor = dbapi_connection.cursor()
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
        cursor.close()
    elif dialect == "postgresql":
        with dbapi_connection.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        raise SystemExit(f"bench.base: no bulk loader for {dialect}; use SQLite or PostgreSQL")


def timestamps(us: np.ndarray, dialect: str) -> list[str]:
    """UTC timestamps as stored: SQLAlchemy writes SQLite DATETIME as text without offset."""
    text_form = np.strings.replace(np.datetime_as_string(us.astype("datetime64[us]"), unit="us"), "T", " ")
    if dialect == "postgresql":
        text_form = np.strings.add(text_form, "+00")
    return text_form.tolist()


def optional(values: np.ndarray, present: np.ndarray, lookup: Sequence[Any] | None = None) -> list[Any]:
    """A column with None where ``present`` is false (values mapped through ``lookup``)."""
    if lookup is not None:
        mapped = np.array(list(lookup), dtype=object)[np.where(present, values, 0)]
    else:
        mapped = values.astype(object)
    return np.where(present, mapped, None).tolist()


def insert_chunk(
    dbapi_connection: Any,
    dialect: str,
    data: Synthetic,
    instrument: Instrument,
    rows: slice,
    laps: dict[str, float],
) -> None:
    """Interactions, invitations, responses, answers and scores of responses ``rows``."""
    ids = np.arange(rows.start, rows.stop, dtype=np.int64) + 1  # one interaction and invitation each
    id_list = ids.tolist()
    account = data.account[rows]
    contact = data.contact[rows]
    submitted = data.submitted_us[rows]
    started = submitted - data.duration[rows].astype(np.int64) * 1_000_000
    sent = started - data.waited_us[rows]
    occurred = sent - data.lead_us[rows]
    account_ids = (account + 1).tolist()
    contact_ids = (contact + 1).tolist()
    touchpoint_ids = data.tp_ids[data.touchpoint[rows]].tolist()
    n = len(id_list)
    with timed("generate rows", laps):
        occurred_at, sent_at = timestamps(occurred, dialect), timestamps(sent, dialect)
        expires_at = timestamps(sent + 14 * 24 * 3_600_000_000, dialect)
        started_at, submitted_at = timestamps(started, dialect), timestamps(submitted, dialect)
        value = data.value[rows]
        interactions = list(
            zip(
                id_list,
                account_ids,
                contact_ids,
                touchpoint_ids,
                occurred_at,
                np.array(CHANNELS, dtype=object)[data.channel[rows]].tolist(),
                optional(value, ~np.isnan(value)),
                occurred_at,
                strict=True,
            )
        )
        tokens = np.frombuffer(np.random.default_rng(rows.start).bytes(32 * n), dtype="S32")
        invitations = list(
            zip(
                id_list,
                id_list,
                contact_ids,
                [token.hex() for token in tokens],
                [instrument.version] * n,
                sent_at,
                expires_at,
                sent_at,
                started_at,
                started_at,
                submitted_at,
                strict=True,
            )
        )
        kind = data.leader_kind[rows]
        export_packs = [None] * n  # packed afterwards by the product's own packing
        locales = np.where(data.contact_de[contact], "de", "en").astype(object).tolist()
        responses = list(
            zip(
                id_list,
                id_list,
                id_list,
                account_ids,
                contact_ids,
                touchpoint_ids,
                [instrument.version] * n,
                locales,
                started_at,
                submitted_at,
                data.duration[rows].tolist(),
                data.nps[rows].tolist(),
                nps_categories(data.nps[rows]).tolist(),
                optional(data.competitor_ids[data.leader_slot[rows]], kind == 1),
                optional(kind, kind == 2, [OTHER_LEADER] * 3),
                optional(data.value_level[rows], data.value_level[rows] >= 0),
                optional(data.moment[rows], data.moment[rows] >= 0, MOMENTS),
                optional(data.comment[rows], data.comment[rows] >= 0, data.comment_texts),
                export_packs,
                strict=True,
            )
        )
    with timed("insert interactions", laps):
        columns = ("id", "account_id", "contact_id", "touchpoint_id", "occurred_at", "channel", "value")
        bulk_insert(dbapi_connection, dialect, "interaction", (*columns, "created_at"), interactions)
    with timed("insert invitations", laps):
        columns = ("id", "interaction_id", "contact_id", "token_hash", "instrument_version", "created_at")
        columns += ("expires_at", "sent_at", "opened_at", "started_at", "completed_at")
        bulk_insert(dbapi_connection, dialect, "invitation", columns, invitations)
    with timed("insert responses", laps):
        columns = ("id", "invitation_id", "interaction_id", "account_id", "contact_id", "touchpoint_id")
        columns += ("instrument_version", "locale", "started_at", "submitted_at", "duration_seconds", "nps")
        columns += (
            "nps_category",
            "leader_competitor_id",
            "leader_other",
            "value_level",
            "moment",
            "comment",
            "export_pack",
        )
        bulk_insert(dbapi_connection, dialect, "response", columns, responses)
    del interactions, invitations, responses

    # Answers in the order the submit transaction writes them: items, NPS, leader ratings.
    with timed("generate rows", laps):
        values = np.concatenate([data.items[rows], data.nps[rows][:, None], data.leader[rows]], axis=1)
        codes = np.array([*data.item_codes, "NPS", *data.leader_codes], dtype=object)
        given = (values != MISSING).ravel()
        answers = list(
            zip(
                np.repeat(ids, values.shape[1])[given].tolist(),
                np.tile(codes, n)[given].tolist(),
                values.ravel()[given].tolist(),
                strict=True,
            )
        )
    with timed("insert answers", laps):
        bulk_insert(dbapi_connection, dialect, "answer", ("response_id", "item_code", "value"), answers)
    del answers

    # Scores: our six indicators, then the six ratings of the named leader.
    with timed("generate rows", laps):
        indicators = [indicator.code for indicator in instrument.indicators]
        score = leader_and_own_scores(data, rows)
        answered = np.concatenate([data.own_answered[rows], np.ones_like(data.own_answered[rows])], axis=1)
        present = (~np.isnan(score)).ravel()
        width = score.shape[1]
        flat = score.ravel()[present]
        scores = list(
            zip(
                np.repeat(ids, width)[present].tolist(),
                np.tile(np.array(indicators * 2, dtype=object), n)[present].tolist(),
                np.tile(np.array(["own"] * 6 + ["leader"] * 6, dtype=object), n)[present].tolist(),
                flat.tolist(),
                (100.0 * (flat - 1) / 6).tolist(),
                answered.ravel()[present].tolist(),
                strict=True,
            )
        )
    with timed("insert scores", laps):
        columns = ("response_id", "indicator", "subject", "score", "score_100", "items_answered")
        bulk_insert(dbapi_connection, dialect, "indicator_score", columns, scores)


def leader_and_own_scores(data: Synthetic, rows: slice) -> np.ndarray:
    """(responses x 12): our six indicator scores, then the named leader's; NaN when none."""
    rated = data.leader[rows].astype(np.float64)
    return np.concatenate(
        [data.own_score[rows], np.where(data.leader_kind[rows, None] > 0, rated, np.nan)], axis=1
    )


# --------------------------------------------------------------------------------------
# Building the database
# --------------------------------------------------------------------------------------


def holds_data(url: str) -> bool:
    engine = make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            return any(
                connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None
                for table in ("response", "account")
                if table in names
            )
    finally:
        engine.dispose()


def build(
    url: str,
    n: int,
    seed: int = 7,
    *,
    accounts: int = ACCOUNTS,
    manager_accounts: int | None = None,
) -> dict[str, Any]:
    """Migrate, generate, insert and fill the aggregates with the product's rebuild; returns
    the period and the largest segment the benchmarks time (as ``existing`` does)."""
    started = time.perf_counter()
    engine = make_engine(url)
    dialect = engine.dialect.name
    instrument = load_instrument()
    with timed("migrate (prepare_database)"):
        prepare_database(engine)
    anchor = datetime.now(UTC).date()
    with Session(engine) as session:
        tp_ids = {code: tp_id for code, tp_id in session.execute(select(Touchpoint.code, Touchpoint.id))}
        existing_ids = {name: cid for name, cid in session.execute(select(Competitor.name, Competitor.id))}
        for name in demo.COMPETITORS:
            if name not in existing_ids:
                competitor = Competitor(name=name)
                session.add(competitor)
                session.flush()
                existing_ids[name] = competitor.id
        session.commit()

    with timed(f"generate {n:,} responses over {accounts:,} accounts with numpy"):
        data = generate(n, seed, instrument, tp_ids, existing_ids, anchor, accounts, manager_accounts)
    spot_check(data, instrument, seed)

    laps: dict[str, float] = {}
    load_started = time.perf_counter()
    with engine.connect() as connection:
        if dialect == "sqlite":
            # For the load only: no fsync, a big page cache. The file stays in WAL mode.
            connection.exec_driver_sql("PRAGMA synchronous=OFF")
            connection.exec_driver_sql("PRAGMA cache_size=-1048576")
        connection.execute(insert(Account), data.account_rows)
        connection.execute(insert(Contact), data.contact_rows)
        raw = connection.connection.dbapi_connection
        for start in range(0, n, CHUNK):
            insert_chunk(raw, dialect, data, instrument, slice(start, min(n, start + CHUNK)), laps)
            if (start // CHUNK) % 5 == 4:
                log(f"  {min(n, start + CHUNK):,} responses in, {time.perf_counter() - load_started:.0f} s")
        if dialect == "postgresql":
            for table in ("account", "contact", "interaction", "invitation", "response"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        with timed("commit", laps):
            connection.commit()
        if dialect == "sqlite":  # back to what every other connection of the app has
            connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
            connection.exec_driver_sql("PRAGMA cache_size=-2000")
    for label, seconds in laps.items():
        log(f"  {label}: {seconds:.1f} s")
    log(f"load: {n:,} responses with their answers and scores: {time.perf_counter() - load_started:.1f} s")

    with Session(engine) as session:
        figures = demo.DEMO_BENCHMARKS.format(last=anchor.year - 1, this=anchor.year)
        import_benchmarks(session, figures.encode("utf-8"))
        session.commit()

    with timed("aggregates.rebuild() (the product's own)"), Session(engine) as session:
        if dialect == "sqlite":
            session.connection().exec_driver_sql("PRAGMA cache_size=-1048576")
        aggregates.rebuild(session)
        session.commit()
    # Once, as the app does at start: flag follow-ups and pack what is unpacked.
    with timed("prepare_database() on the filled base"):
        prepare_database(engine)
    if dialect == "sqlite":
        with timed("WAL checkpoint"), engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        log(f"database file: {Path(make_url(url).database or '').stat().st_size / 2**30:.2f} GiB")
    engine.dispose()
    log(f"build total: {time.perf_counter() - started:.1f} s")
    return existing(url)


def existing(url: str) -> dict[str, Any]:
    """The period (the last ``PERIOD_MONTHS`` months) and the largest segment of a built base."""
    engine = make_engine(url)
    prepare_database(engine)  # newer migrations, e.g. aggregates added since the build
    with Session(engine) as session:
        end = session.execute(select(func.max(ScoreSegmentRollup.month))).scalar_one()
        sizes = session.execute(
            select(ScoreSegmentRollup.segment, func.sum(ScoreSegmentRollup.n))
            .where(ScoreSegmentRollup.subject == "own")
            .group_by(ScoreSegmentRollup.segment)
        ).all()
        responses = session.execute(select(func.count()).select_from(Response)).scalar_one()
    engine.dispose()
    year, month = (int(part) for part in end.split("-"))
    index = year * 12 + month - 1 - (PERIOD_MONTHS - 1)
    start = f"{index // 12:04d}-{index % 12 + 1:02d}"
    segment = max(sizes, key=lambda row: row[1])[0]
    log(f"base: {responses:,} responses, {start} to {end}")
    return {"start": start, "end": end, "segment": segment, "responses": responses}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Build a synthetic base into a new SQLite file (or DATABASE_URL)."
    )
    parser.add_argument("--out", type=Path, help="the SQLite file to create (default: DATABASE_URL)")
    parser.add_argument("--responses", type=int, default=DEFAULT_RESPONSES)
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--manager-accounts", type=int, default=None, help="accounts the first manager owns")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.out is not None:
        if args.out.exists():
            parser.error(f"{args.out} exists: building fills only a new file")
        url = f"sqlite:///{args.out.resolve()}"
    elif os.environ.get("DATABASE_URL"):
        url = normalised_url(os.environ["DATABASE_URL"])
        if holds_data(url):
            parser.error("the database DATABASE_URL names already holds accounts or responses")
    else:
        parser.error("name a new SQLite file with --out, or an empty database with DATABASE_URL")
    built = build(
        url, args.responses, args.seed, accounts=args.accounts, manager_accounts=args.manager_accounts
    )
    print(" ".join(f"{key}={value}" for key, value in built.items()))


if __name__ == "__main__":
    main()
