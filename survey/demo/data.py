"""A realistic, seeded demo data set so that a first start has something to show.

The responses come from a small latent model: each answer reflects the account's
general relationship strength, its segment's trend, the touchpoint, the contact and the
indicator, plus item noise. Items of one indicator share their latent value, which is
what gives each scale a Cronbach's alpha in the 0.75-0.95 range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlmodel import Session, col, func, select

from models.tables import (
    Account,
    Competitor,
    Contact,
    Draft,
    FollowUp,
    Interaction,
    Invitation,
    Response,
    Touchpoint,
)
from survey.accounts.warnings import check_accounts
from survey.collecting.responses import (
    LEADER_OTHER,
    LEADER_OTHER_KEY,
    CleanAnswers,
    Origin,
    asked_for,
    build_response,
    insert_scored_rows,
    scored_rows,
    validate_answers,
)
from survey.collecting.tokens import hash_token, new_token
from survey.demo import actions as actions_demo
from survey.demo import behaviour as behaviour_demo
from survey.demo import pulses as pulse_demo
from survey.exports import packs
from survey.followup import queue as followup
from survey.imports.benchmarks import import_benchmarks
from survey.instrument.definition import Instrument, load_instrument
from survey.instrument.touchpoints import ensure_touchpoints
from survey.reporting import aggregates

MONTHS = 24
SEGMENTS = {
    # segment: (industry, trend per month in scale points)
    "Manufacturing": ("Industrial machinery", 0.0),
    "Healthcare": ("Hospitals and clinics", 0.05),  # improving
    "Financial services": ("Banking and insurance", -0.01),
    "Logistics": ("Freight and warehousing", 0.0),
}
DECLINING_ACCOUNT = "Keller Industrial Group"
DECLINE_MONTHS = 8
DECLINE_PER_MONTH = -0.2
CLOSING_NOTES = (
    "Called the contact; the delivery issue was a one-off and is fixed.",
    "Discussed in the quarterly account review; service plan adjusted.",
    "Escalated to the service lead, who met the customer on site.",
    "Sent a written apology and credited the late delivery.",
)
INTERACTIONS_PER_MONTH = {"Strategic": 4.0, "Key": 2.2, "Standard": 1.4}
OWNERS = ("alex.morgan", "priya.shah", "jonas.weber")
REGIONS = ("EMEA", "North America", "APAC", "DACH")
TIERS = ("Strategic", "Key", "Standard")
COMPETITORS = {
    # name: (general level, offsets per indicator in instrument order)
    "Brightline Partners": (5.3, (-0.4, 0.3, 0.5, 0.0, 0.1, 0.3)),
    "Corvex Services": (4.6, (0.2, -0.3, -0.2, 0.0, 0.0, -0.2)),
    "Meridian Solutions": (4.9, (0.0, 0.0, 0.0, 0.1, 0.0, 0.0)),
}
COMPETITOR_WEIGHTS = (0.5, 0.3, 0.2)
INDICATOR_OFFSETS = (0.1, 0.3, -0.5, 0.0, 0.2, -0.2)
# One statement reads differently in German: "seinen Preis wert" is heard as "cheap", so German
# answers to SAT1 sit lower at the same satisfaction. The Instrument quality page finds it.
TRANSLATION_SHIFT = {("SAT1", "de"): -1.0}
TOUCHPOINT_EFFECTS = {
    "marketing": 0.1,
    "sales": 0.2,
    "purchase": 0.0,
    "delivery": -0.2,
    "onboarding": 0.25,
    "service": -0.35,
    "renewal": 0.1,
}
TOUCHPOINT_WEIGHTS = {
    "marketing": 1,
    "sales": 2,
    "purchase": 2,
    "delivery": 3,
    "onboarding": 1,
    "service": 5,
    "renewal": 1,
}
ROLE_INFLUENCE = {"decision_maker": 0.9, "buyer": 0.7, "influencer": 0.5, "user": 0.3}
FIRST = (
    "Keller",
    "Aurora",
    "Northgate",
    "Bluewater",
    "Summit",
    "Lindqvist",
    "Orion",
    "Halden",
    "Castell",
    "Redwood",
    "Vantage",
    "Pioneer",
    "Silverline",
    "Ostrava",
    "Marlow",
    "Quantum",
    "Everest",
    "Hartmann",
    "Brookfield",
    "Atlas",
)
SECOND = (
    "Industrial Group",
    "Health",
    "Capital",
    "Freight",
    "Systems",
    "Medical",
    "Bank",
    "Logistics",
    "Components",
    "Insurance",
    "Care Network",
    "Transport",
)
GIVEN = (
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jakub",
    "Kira",
    "Luca",
    "Maya",
    "Nils",
    "Olga",
    "Pedro",
    "Rosa",
    "Sven",
    "Tara",
    "Yusuf",
)
FAMILY = (
    "Becker",
    "Costa",
    "Dubois",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Meyer",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Varga",
    "Weber",
    "Young",
)
COMMENTS = {
    "low": (
        "The last delivery was late again and nobody told us in advance.",
        "We had to escalate twice before the issue was taken seriously.",
        "Pricing changes came as a surprise this quarter.",
    ),
    "mid": (
        "Fine overall, but response times on tickets could be shorter.",
        "Good people, processes are a bit slow.",
        "The new portal is useful; training would help our team.",
    ),
    "high": (
        "Our account manager really understands our business.",
        "Onboarding was smooth and the team was very responsive.",
        "You helped us cut costs on the line, thank you.",
    ),
}


# Published figures in the benchmark import format, so the charts show both kinds of benchmark.
DEMO_BENCHMARKS = """kind,name,indicator,period,value,scale,n,sd,source
industry,B2B services average,satisfaction,{last},3.62,1-5,1180,0.81,Demo B2B Relationship Index {last}
industry,B2B services average,trust,{last},3.70,1-5,1180,0.78,Demo B2B Relationship Index {last}
industry,B2B services average,control_mutuality,{last},3.41,1-5,1180,0.86,Demo B2B Relationship Index {last}
industry,B2B services average,commitment,{last},3.55,1-5,1180,0.84,Demo B2B Relationship Index {last}
industry,B2B services average,mindset,{last},3.66,1-5,1180,0.80,Demo B2B Relationship Index {last}
industry,B2B services average,word_of_mouth,{last},3.48,1-5,1180,0.88,Demo B2B Relationship Index {last}
industry,B2B services average,satisfaction,{this},3.66,1-5,1240,0.79,Demo B2B Relationship Index {this}
industry,B2B services average,trust,{this},3.72,1-5,1240,0.77,Demo B2B Relationship Index {this}
industry,B2B services average,control_mutuality,{this},3.45,1-5,1240,0.85,Demo B2B Relationship Index {this}
industry,B2B services average,commitment,{this},3.57,1-5,1240,0.83,Demo B2B Relationship Index {this}
industry,B2B services average,mindset,{this},3.69,1-5,1240,0.79,Demo B2B Relationship Index {this}
industry,B2B services average,word_of_mouth,{this},3.52,1-5,1240,0.86,Demo B2B Relationship Index {this}
competitor,Brightline Partners,trust,{this},74,0-100,310,17,Brightline annual customer report {this}
competitor,Brightline Partners,satisfaction,{this},68,0-100,310,18,Brightline annual customer report {this}
"""


@dataclass(frozen=True)
class DemoSummary:
    accounts: int
    contacts: int
    interactions: int
    invitations: int
    responses: int


def is_empty(session: Session) -> bool:
    return session.exec(select(func.count()).select_from(Account)).one() == 0


def _clip_round(value: float, low: int, high: int) -> int:
    return int(min(high, max(low, round(value))))


def _account_names(rng: np.random.Generator, count: int) -> list[str]:
    names = [DECLINING_ACCOUNT]
    while len(names) < count:
        name = f"{rng.choice(FIRST)} {rng.choice(SECOND)}"
        if name not in names:
            names.append(name)
    return names


def _answers(
    rng: np.random.Generator,
    instrument: Instrument,
    level: float,
    competitors: list[tuple[int, str]],
    shifts: dict[str, float] | None = None,
    language: str = "en",
) -> dict[str, Any]:
    """One respondent's answers around a general relationship level on the 1-7 scale."""
    scale = instrument.agree_scale
    answers: dict[str, Any] = {}
    latent: dict[str, float] = {}
    for indicator, offset in zip(instrument.indicators, INDICATOR_OFFSETS, strict=True):
        value = level + offset + rng.normal(0, 0.45) + (shifts or {}).get(indicator.code, 0.0)
        latent[indicator.code] = value
        for item in instrument.indicator_items(indicator.code):
            if rng.random() < 0.03:
                continue  # a skipped statement
            worded = TRANSLATION_SHIFT.get((item.code, language), 0.0)
            answer = _clip_round(value + rng.normal(0, 0.75) + worded, scale.min, scale.max)
            answers[item.code] = scale.min + scale.max - answer if item.reverse else answer
    wom = latent["word_of_mouth"]
    # B2B recommendation scores sit above the agreement scale's midpoint: shift up a little.
    answers["NPS"] = _clip_round((wom - 1) / 6 * 10 + 1.6 + rng.normal(0, 1.1), 0, 10)

    pick = rng.random()
    if pick < 0.8:
        index = int(rng.choice(len(competitors), p=COMPETITOR_WEIGHTS))
        competitor_id, name = competitors[index]
        answers["LEADER"] = competitor_id
        general, offsets = COMPETITORS[name]
    elif pick < 0.84:
        answers["LEADER"] = LEADER_OTHER
        answers[LEADER_OTHER_KEY] = "Stratos Group"
        general, offsets = 4.5, (0.0,) * 6
    else:
        general = 0.0
    if general:
        for indicator, offset in zip(instrument.indicators, offsets, strict=True):
            rating = general + offset + rng.normal(0, 0.9)
            answers[instrument.leader_item(indicator.code).code] = _clip_round(rating, scale.min, scale.max)

    if rng.random() < 0.7:
        answers["VALUE_LEVEL"] = _clip_round((level - 2.5) * 0.9 + rng.normal(0, 0.7), 0, 4)
    feel = latent["satisfaction"]
    if rng.random() < 0.75:
        moment = (
            "delighted"
            if feel > 6.0
            else "frustrated"
            if feel < 2.8
            else "disappointed"
            if feel < 3.8
            else "as_expected"
        )
        answers["MOMENT"] = moment
    if rng.random() < 0.2:
        mood = "low" if feel < 3.8 else "high" if feel > 5.6 else "mid"
        answers["COMMENT"] = str(rng.choice(COMMENTS[mood]))
    return answers


def seed_demo(session: Session, *, now: datetime, seed: int = 7, accounts: int = 40) -> DemoSummary:
    """Fill an empty database with two years of accounts, interactions and responses."""
    if not is_empty(session):
        raise ValueError("the database already has accounts; demo data goes only into an empty one")
    rng = np.random.default_rng(seed)
    instrument = load_instrument()
    ensure_touchpoints(session)
    touchpoints = {t.code: t for t in session.exec(select(Touchpoint)).all()}
    tp_codes = [code for code in TOUCHPOINT_WEIGHTS if code in touchpoints]
    tp_weights = np.array([TOUCHPOINT_WEIGHTS[code] for code in tp_codes], dtype=float)
    tp_weights /= tp_weights.sum()

    competitor_rows = [Competitor(name=name) for name in COMPETITORS]
    session.add_all(competitor_rows)
    session.flush()
    competitors = [(c.id or 0, c.name) for c in competitor_rows]

    start = now - timedelta(days=30.44 * MONTHS)
    # A separate random stream for the behaviour: the main stream draws the same numbers as before.
    behaviour = np.random.default_rng(seed + 1000)
    acting = np.random.default_rng(seed + 2000)  # the action log's own stream
    planned_actions: list[actions_demo.PlannedAction] = []
    commitment_swings: dict[tuple[int, str], float] = {}
    commitment_seen: dict[tuple[int, str], list[float]] = {}
    tiers: dict[int, str] = {}
    segments = list(SEGMENTS)
    # Pulses have their own random stream too, and the form rule its own history.
    pulse_rng = np.random.default_rng(seed + 2000)
    forms = pulse_demo.FormRule()
    counts = {"contacts": 0, "interactions": 0, "invitations": 0, "responses": 0}
    answer_rows: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    for index, name in enumerate(_account_names(rng, accounts)):
        segment = "Manufacturing" if name == DECLINING_ACCOUNT else segments[index % len(segments)]
        industry, trend = SEGMENTS[segment]
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        account = Account(
            name=name,
            external_id=f"CRM-{1000 + index}",
            segment=segment,
            industry=industry,
            region=region,
            tier="Strategic" if name == DECLINING_ACCOUNT else TIERS[int(rng.integers(len(TIERS)))],
            owner=OWNERS[index % len(OWNERS)],
            manager_value_level=int(rng.integers(1, 5)),
            created_at=start,
        )
        session.add(account)
        session.flush()
        tiers[account.id or 0] = account.tier
        planned = (
            []
            if name == DECLINING_ACCOUNT
            else actions_demo.plan(acting, account.id or 0, account.owner, start, now)
        )
        planned_actions += planned
        account_level = 4.9 + rng.normal(0, 0.45)

        contacts = []
        for number in range(int(rng.integers(3, 7))):
            role = ("decision_maker", "buyer", "influencer", "user")[min(number, 3)]
            given, family = str(rng.choice(GIVEN)), str(rng.choice(FAMILY))
            domain = name.lower().replace(" ", "") + ".example"
            contact = Contact(
                account_id=account.id or 0,
                name=f"{given} {family}",
                email=f"{given}.{family}.{number}@{domain}".lower(),
                role=role,
                buying_influence=round(min(1.0, max(0.05, ROLE_INFLUENCE[role] + rng.normal(0, 0.08))), 2),
                language="de" if region == "DACH" else "en",
                created_at=start,
            )
            contacts.append((contact, rng.normal(0, 0.4)))
        session.add_all(c for c, _ in contacts)
        session.flush()
        counts["contacts"] += len(contacts)

        for month in range(MONTHS):
            for _ in range(int(rng.poisson(INTERACTIONS_PER_MONTH[account.tier]))):
                occurred = start + timedelta(days=30.44 * (month + rng.random()))
                if occurred >= now - timedelta(hours=2):
                    continue
                code = tp_codes[int(rng.choice(len(tp_codes), p=tp_weights))]
                contact, contact_effect = contacts[int(rng.integers(len(contacts)))]
                interaction = Interaction(
                    account_id=account.id or 0,
                    contact_id=contact.id,
                    touchpoint_id=touchpoints[code].id or 0,
                    occurred_at=occurred,
                    channel=str(rng.choice(("email", "phone", "on site", "video call"))),
                    value=round(float(rng.lognormal(9, 1)), 2) if code in ("purchase", "renewal") else None,
                    created_at=occurred,
                )
                session.add(interaction)
                session.flush()
                counts["interactions"] += 1
                sent = occurred + timedelta(hours=float(rng.uniform(1, 30)))
                invitation = Invitation(
                    interaction_id=interaction.id or 0,
                    contact_id=contact.id or 0,
                    token_hash=hash_token(new_token()),
                    instrument_version=instrument.version,
                    created_at=sent,
                    sent_at=sent,
                    expires_at=sent + timedelta(days=14),
                )
                forms.assign(invitation, sent)
                session.add(invitation)
                session.flush()
                counts["invitations"] += 1
                answered_at = sent + timedelta(hours=float(rng.exponential(40)))
                if rng.random() > 0.55 or answered_at >= min(now, invitation.expires_at):
                    if invitation.expires_at > now and rng.random() < 0.2:
                        invitation.opened_at = invitation.started_at = sent + timedelta(hours=1)
                        session.add(
                            Draft(
                                invitation_id=invitation.id or 0,
                                answers={"SAT1": 5},
                                step=1,
                                locale=contact.language,
                                started_at=invitation.started_at,
                                updated_at=invitation.started_at,
                            )
                        )
                    continue
                level = account_level + contact_effect + TOUCHPOINT_EFFECTS[code] + trend * month
                noise = rng.normal(0, 0.55)
                level += noise
                months_left = MONTHS - month
                if name == DECLINING_ACCOUNT and months_left <= DECLINE_MONTHS:
                    level += DECLINE_PER_MONTH * (DECLINE_MONTHS - months_left + 1)
                # Commitment swings quarter by quarter on its own; next quarter's buying follows it.
                key = (account.id or 0, behaviour_demo.quarter_of(answered_at))
                if key not in commitment_swings:
                    commitment_swings[key] = float(behaviour.normal(0, behaviour_demo.COMMITMENT_SWING))
                rows = _store_response(
                    session,
                    rng,
                    instrument,
                    invitation,
                    interaction,
                    contact,
                    level,
                    competitors,
                    answered_at,
                    _latent_shifts(planned, commitment_swings[key], answered_at),
                )
                answer_rows += rows[0]
                score_rows += rows[1]
                commitment_seen.setdefault(key, []).extend(
                    row["score"]
                    for row in rows[1]
                    if row["indicator"] == "commitment" and row["subject"] == "own"
                )
                counts["responses"] += 1
                # The pulses that follow this interaction: the same latent level, fresh noise.
                base = level - noise - TOUCHPOINT_EFFECTS[code]
                followers = pulse_demo.add_followers(
                    session, pulse_rng, forms, contact, touchpoints, instrument.version, answered_at, now
                )
                counts["interactions"] += len(followers)
                counts["invitations"] += len(followers)
                prepared = [
                    _prepare_response(
                        pulse_rng,
                        instrument,
                        pulse_invitation,
                        pulse_interaction,
                        contact,
                        base + TOUCHPOINT_EFFECTS[pulse_code] + pulse_noise,
                        competitors,
                        when,
                        _latent_shifts(
                            planned,
                            commitment_swings.get((account.id or 0, behaviour_demo.quarter_of(when)), 0.0),
                            when,
                        ),
                    )
                    for when, pulse_code, pulse_invitation, pulse_interaction, pulse_noise in followers
                    if when is not None  # not answered
                ]
                session.add_all(response for response, _ in prepared)
                session.flush()
                for response, clean in prepared:
                    rows = scored_rows(response.id or 0, instrument, clean)
                    answer_rows += rows[0]
                    score_rows += rows[1]
                counts["responses"] += len(prepared)
    insert_scored_rows(session, answer_rows, score_rows)
    behaviour_demo.add_transactions(session, behaviour, tiers, commitment_seen, start=start, now=now)
    aggregates.rebuild(session)
    packs.fill_missing(session)
    figures = DEMO_BENCHMARKS.format(last=now.year - 1, this=now.year)
    import_benchmarks(session, figures.encode("utf-8"))
    actions_demo.store(session, planned_actions, now)
    followup.flag_all(session)
    _work_the_queue(session, now)
    check_accounts(session, now)
    return DemoSummary(accounts=accounts, **counts)


def _latent_shifts(
    planned: list[actions_demo.PlannedAction], swing: float, when: datetime
) -> dict[str, float]:
    """What moves one answer's indicators besides the contact's level: the account's commitment
    swing of that quarter and the built-in effects of the actions taken before (pulses and
    check-ups alike)."""
    effects = actions_demo.shifts(planned, when)
    return {"commitment": swing} | {
        code: shift + (swing if code == "commitment" else 0.0) for code, shift in effects.items()
    }


def _work_the_queue(session: Session, now: datetime) -> None:
    """A team that keeps its loop closed: older follow-ups handled, recent ones still open."""
    old = session.exec(
        select(FollowUp).where(FollowUp.created_at < now - timedelta(days=45)).order_by(col(FollowUp.id))
    ).all()
    for number, item in enumerate(old):
        handled = item.created_at + timedelta(days=3 + number % 10)
        owner = OWNERS[number % len(OWNERS)]
        followup.assign(session, item.id or 0, owner, handled - timedelta(days=2))
        followup.close(session, item.id or 0, CLOSING_NOTES[number % len(CLOSING_NOTES)], handled)


def _store_response(
    session: Session,
    rng: np.random.Generator,
    instrument: Instrument,
    invitation: Invitation,
    interaction: Interaction,
    contact: Contact,
    level: float,
    competitors: list[tuple[int, str]],
    submitted: datetime,
    shifts: dict[str, float] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    response, clean = _prepare_response(
        rng, instrument, invitation, interaction, contact, level, competitors, submitted, shifts
    )
    session.add(invitation)
    session.add(response)
    session.flush()
    return scored_rows(response.id or 0, instrument, clean)


def _prepare_response(
    rng: np.random.Generator,
    instrument: Instrument,
    invitation: Invitation,
    interaction: Interaction,
    contact: Contact,
    level: float,
    competitors: list[tuple[int, str]],
    submitted: datetime,
    shifts: dict[str, float] | None = None,
) -> tuple[Response, CleanAnswers]:
    """One respondent's answers at ``level`` as the response row its form asks for (not yet added)."""
    asked = asked_for(instrument, invitation)
    answers = _answers(rng, instrument, level, competitors, shifts, contact.language)
    if asked is not None:  # a pulse: the same respondent, asked only its statements
        answers = {code: value for code, value in answers.items() if code in asked}
    clean = validate_answers(instrument, answers, [c for c, _ in competitors], asked)
    started = submitted - timedelta(seconds=int(rng.uniform(80, 420)))
    invitation.opened_at = invitation.started_at = started
    invitation.completed_at = submitted
    response = build_response(
        origin=Origin.of(invitation, interaction),
        instrument=instrument,
        clean=clean,
        locale=contact.language,
        started_at=started,
        submitted_at=submitted,
    )
    return response, clean
