"""What the Instrument quality page and the dashboard's notice show: the six-factor model on the
responses in scope, omega beside alpha, HTMT, and invariance across languages and versions, each
with a verdict in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlmodel import Session, col, func, select

from models.db import upsert_insert
from models.tables import QualityCheck, Response
from survey.instrument.definition import Instrument, load_instrument
from survey.people.access import EVERYTHING, Scope
from survey.quality.cfa import AVE_LIMIT, HTMT_LIMIT, OMEGA_LIMIT, CfaResult, fit_cfa
from survey.quality.data import QualityInputError, Structure, complete_cases
from survey.quality.invariance import MIN_GROUP_N, InvarianceResult, compare, group_data, invariance_of
from survey.quality.responses import item_frame, shared_structure, six_factor_structure
from survey.reporting.reliability import Reliability, ReliabilityInputError, alpha_from_frame

LANGUAGE_NAMES = {"en": "English", "de": "German"}
# Below this many complete responses the six-factor model (24 statements) is not estimated.
MIN_CFA_N = 200


@dataclass(frozen=True)
class GroupCheck:
    """Invariance across one kind of group (languages or instrument versions)."""

    dimension: str  # "language" or "version"
    labels: dict[str, str]  # group -> what the page calls it
    counts: dict[str, int]  # group -> complete responses, every group seen
    result: InvarianceResult | None
    status: str  # "holds", "holds approximately", "fails", "not tested"
    verdict: str

    @property
    def failed(self) -> bool:
        return self.status == "fails"


@dataclass(frozen=True)
class QualityReport:
    responses: int
    structure: Structure
    cfa: CfaResult | None
    cfa_problem: str | None
    alpha: dict[str, Reliability]
    language: GroupCheck
    version: GroupCheck


def group_label(dimension: str, group: str) -> str:
    if dimension == "language":
        return LANGUAGE_NAMES.get(group, group)
    return f"version {group}"


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _statement(instrument: Instrument, code: str) -> str:
    try:
        return f"{code} (“{instrument.item(code).text['en']}”)"
    except KeyError:
        return code


def group_check(
    frame: pd.DataFrame,
    structure: Structure,
    dimension: str,
    instrument: Instrument,
    *,
    min_n: int = MIN_GROUP_N,
) -> GroupCheck:
    """Configural, metric and scalar invariance across ``dimension``, with its verdict."""
    plural = "languages" if dimension == "language" else "instrument versions"
    try:
        groups, data, too_small, _ = group_data(frame, structure, dimension, min_n=min_n)
    except QualityInputError as error:
        return GroupCheck(dimension, {}, {}, None, "not tested", f"The {plural} cannot be compared: {error}.")
    counts = {**{g: m.n for g, m in zip(groups, data, strict=True)}, **too_small}
    labels = {g: group_label(dimension, g) for g in counts}
    small = [f"{labels[g]} (n = {n})" for g, n in sorted(too_small.items())]
    if len(groups) < 2:
        if len(counts) < 2:
            verdict = f"Only one of the {plural} has answers here: there is nothing to compare."
        else:
            verdict = (
                f"Too few complete answers to compare {plural}: {_joined(small)}; "
                f"each needs at least {min_n}."
            )
        return GroupCheck(dimension, labels, counts, None, "not tested", verdict)
    result = invariance_of(structure, groups, data, too_small, 0)
    names = _joined([labels[g] for g in groups])
    if not all(fit.converged for fit in (result.configural, result.metric, result.scalar)):
        verdict = f"The invariance models of {names} answers did not converge: no verdict."
        return GroupCheck(dimension, labels, counts, None, "not tested", verdict)
    names_note = f" ({_joined(small)}: too few answers to include)" if small else ""
    level = result.level
    if level == "configural":
        verdict = (
            f"{names} answers cannot be compared: the statements do not measure the indicators the "
            f"same way (loadings differ){names_note}."
        )
        status = "fails"
    elif level == "metric":
        differing = result.differing_intercepts
        if differing:
            named = _joined([_statement(instrument, d.item) for d in differing])
            indicators = _joined(sorted({d.factor.replace("_", " ") for d in differing}))
            intercepts = "the intercept of" if len(differing) == 1 else "the intercepts of"
            differs, it = ("differs", "it") if len(differing) == 1 else ("differ", "them")
            verdict = (
                f"{names} answers share their loadings, but {intercepts} {named} {differs}: at the "
                f"same level of {indicators} the groups answer {it} differently. Compare {indicators} "
                f"scores across {plural} with care{names_note}."
            )
            if (
                result.partial_scalar is not None
                and compare(result.partial_scalar, result.metric).verdict != "fails"
            ):
                verdict += " Every other statement's intercept holds."
        else:
            verdict = (
                f"{names} answers share their loadings, but not their intercepts: compare their "
                f"scores with care{names_note}."
            )
        status = "fails"
    else:
        tests = (result.metric_test.verdict, result.scalar_test.verdict)
        status = "holds approximately" if "holds approximately" in tests else "holds"
        how = "approximately " if status == "holds approximately" else ""
        verdict = f"{names} answers can be compared: loadings and intercepts hold {how}".rstrip()
        verdict += f"{names_note}."
        if result.differing_intercepts:
            named = _joined([_statement(instrument, d.item) for d in result.differing_intercepts])
            several = len(result.differing_intercepts) > 1
            verdict += (
                f" The intercept{'s' if several else ''} of {named} {'differ' if several else 'differs'} "
                "a little, too little to change the verdict."
            )
    return GroupCheck(dimension, labels, counts, result, status, verdict)


def comparison_checks(
    session: Session, *, since: date | None = None, scope: Scope = EVERYTHING, min_n: int = MIN_GROUP_N
) -> tuple[GroupCheck, GroupCheck]:
    """Invariance across languages and across instrument versions, on the responses in scope."""
    instrument = load_instrument()
    structure = six_factor_structure(instrument)
    frame = item_frame(session, structure.items, since=since, scope=scope)
    return _checks(frame, structure, instrument, min_n)


def _checks(
    frame: pd.DataFrame, structure: Structure, instrument: Instrument, min_n: int
) -> tuple[GroupCheck, GroupCheck]:
    language = group_check(frame, structure, "language", instrument, min_n=min_n)
    versions = sorted({int(v) for v in frame["version"].unique()}) if len(frame) else []
    try:
        shared = shared_structure(versions) if len(versions) > 1 else structure
    except QualityInputError:
        shared = structure  # no indicator keeps two shared statements: the versions' answers stay apart
    version = group_check(frame, shared, "version", instrument, min_n=min_n)
    return language, version


def quality_report(
    session: Session, *, since: date | None = None, scope: Scope = EVERYTHING, min_n: int = MIN_GROUP_N
) -> QualityReport:
    instrument = load_instrument()
    structure = six_factor_structure(instrument)
    frame = item_frame(session, structure.items, since=since, scope=scope)
    complete, _ = complete_cases(frame, structure)
    cfa: CfaResult | None = None
    problem: str | None = None
    if len(complete) < MIN_CFA_N:
        problem = (
            f"Only {len(complete)} responses answer every statement; the six-factor model needs at "
            f"least {MIN_CFA_N}."
        )
    else:
        try:
            cfa = fit_cfa(frame, structure)
        except QualityInputError as error:
            problem = f"The six-factor model cannot be fitted to these responses: {error}."
        else:
            if not cfa.converged:
                problem = "The six-factor model did not converge on these responses."
                cfa = None
    alpha: dict[str, Reliability] = {}
    for factor in structure.names:
        try:
            alpha[factor] = alpha_from_frame(complete[list(structure.items_of(factor))])
        except ReliabilityInputError:
            continue
    language, version = _checks(frame, structure, instrument, min_n)
    return QualityReport(
        responses=len(frame),
        structure=structure,
        cfa=cfa,
        cfa_problem=problem,
        alpha=alpha,
        language=language,
        version=version,
    )


def fit_level(cfa: CfaResult) -> str:
    """ "good", "acceptable" or "poor" by Hu & Bentler's (1999) cut-offs."""
    fit = cfa.measures
    if fit.cfi >= 0.95 and fit.rmsea <= 0.06 and fit.srmr <= 0.08:
        return "good"
    if fit.cfi >= 0.90 and fit.rmsea <= 0.08 and fit.srmr <= 0.10:
        return "acceptable"
    return "poor"


def fit_verdict(cfa: CfaResult) -> str:
    return {
        "good": "The six-indicator model fits the answers well (CFI ≥ 0.95, RMSEA ≤ 0.06, SRMR ≤ 0.08).",
        "acceptable": "The six-indicator model fits the answers acceptably (CFI ≥ 0.90, RMSEA ≤ 0.08).",
        "poor": "The six-indicator model does not fit the answers: the statements do not group as claimed.",
    }[fit_level(cfa)]


def reliability_notes(cfa: CfaResult, labels: dict[str, str]) -> list[str]:
    notes = []
    for factor, value in cfa.omega.items():
        if value < OMEGA_LIMIT:
            notes.append(f"{labels.get(factor, factor)}: omega {value:.2f} is below {OMEGA_LIMIT:.2f}.")
    for factor, value in cfa.ave.items():
        if value < AVE_LIMIT:
            notes.append(
                f"{labels.get(factor, factor)}: its statements share only {value:.0%} of their variance "
                f"with it (AVE below {AVE_LIMIT:.2f})."
            )
    return notes


def htmt_notes(cfa: CfaResult, labels: dict[str, str]) -> list[str]:
    notes = []
    for pair in cfa.htmt_failures:
        first, second = pair.split("~")
        notes.append(
            f"{labels.get(first, first)} and {labels.get(second, second)} are not shown to be distinct "
            f"(HTMT {cfa.htmt[pair]:.2f} ≥ {HTMT_LIMIT:.2f})."
        )
    return notes


def comparison_notices(checks: tuple[GroupCheck, ...]) -> list[str]:
    """The dashboard's warnings: comparisons across languages or versions that invariance does not support."""
    notices = []
    for check in checks:
        if check.failed:
            notices.append(check.verdict)
    return notices


def day_check_due(session: Session, now: datetime) -> bool:
    """Whether ``now``'s day (UTC) has no stored check yet (``record_day_check``)."""
    return session.get(QualityCheck, f"{now:%Y-%m-%d}") is None


def record_day_check(session: Session, now: datetime) -> list[str]:
    """Check invariance across languages and versions over the newest responses of the whole
    base (``comparison_checks``: a property of the instrument, not of one reader's selection)
    and store it as ``now``'s day's check; returns its notices. The caller commits."""
    notices = comparison_notices(comparison_checks(session))
    newest = session.exec(select(func.max(Response.id))).one() or 0
    # An upsert: the worker and a first Dashboard open (or two replicas) may check the same day.
    insert = upsert_insert(session)
    statement = insert(QualityCheck).values(
        day=f"{now:%Y-%m-%d}", checked_at=now, responses=newest, notices=notices
    )
    kept = {name: statement.excluded[name] for name in ("checked_at", "responses", "notices")}
    session.execute(statement.on_conflict_do_update(index_elements=["day"], set_=kept))
    return notices


def check_day_if_due(session: Session, now: datetime) -> bool:
    """The day's check (``record_day_check``) unless ``now``'s day has one; whether it was
    made. The caller commits."""
    if not day_check_due(session, now):
        return False
    record_day_check(session, now)
    return True


def latest_notices(session: Session) -> list[str] | None:
    """The notices of the latest stored check (``None``: never checked)."""
    latest = session.exec(select(QualityCheck).order_by(col(QualityCheck.day).desc()).limit(1)).first()
    return None if latest is None else list(latest.notices)
