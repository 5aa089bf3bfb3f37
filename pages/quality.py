"""Instrument quality: do the statements measure six distinct indicators, reliably, and the same
way in every language and instrument version? For analysts and admins."""

from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from models.db import session_scope
from models.settings import get_settings
from pages.common import engine, plain, team_page
from survey.instrument.definition import load_instrument
from survey.quality.cfa import AVE_LIMIT, ESTIMATION, HTMT_LIMIT, OMEGA_LIMIT
from survey.quality.fits import fitted_report, forget
from survey.quality.invariance import MIN_GROUP_N, StepTest
from survey.quality.multigroup import MultigroupFit
from survey.quality.report import GroupCheck, fit_level, fit_verdict, htmt_notes, reliability_notes
from survey.quality.responses import MAX_RESPONSES, refit_step, response_months
from survey.reporting.dashboard import data_version

user = team_page()
if user.role not in ("admin", "analyst"):
    st.error("Only analysts and admins can open this page.")
    st.stop()

st.set_page_config(layout="wide")
settings = get_settings()
instrument = load_instrument()
labels = {indicator.code: indicator.label["en"] for indicator in instrument.indicators}
texts = {item.code: item.text["en"] for item in instrument.items}

st.title("Instrument quality")
st.write(
    "Does the survey measure what it claims? A confirmatory factor analysis of the six indicators' "
    "statements (reverse-keyed statements mirrored), each indicator's reliability, whether the "
    "indicators are distinct, and whether answers in each language and instrument version can be compared."
)
with session_scope(engine()) as session:
    months = response_months(session)
    newest = data_version(session)[0]
if not months:
    st.info("No responses yet: the instrument's quality is judged from answers.")
    st.stop()
since_month = st.selectbox(
    "Responses submitted from",
    [None, *months],
    format_func=lambda month: "all months" if month is None else f"{month} on",
    key="since",
)
since = None if since_month is None else date(int(since_month[:4]), int(since_month[5:]), 1)
with session_scope(engine()) as session, st.spinner("Fitting the factor models…"):
    fitted = fitted_report(session, since, now=datetime.now(UTC))
result = fitted.report
fitted_line, refit = st.columns([5, 1], vertical_alignment="center")
fitted_line.caption(
    f"{result.responses} responses in scope (at most the newest {MAX_RESPONSES:,}), fitted "
    f"{fitted.at:%Y-%m-%d %H:%M} UTC; the models are fitted again after every {refit_step(newest):,} "
    f"new responses. Estimation: {ESTIMATION}."
)
if refit.button(
    "Fit again now", help="Fit the models to every response in scope now (this can take a while)."
):
    forget()
    st.rerun()

st.header("Do the statements form six indicators?")
cfa = result.cfa
if cfa is None:
    st.warning(plain(result.cfa_problem or "The six-factor model could not be fitted."))
else:
    fit = cfa.measures
    (st.success if fit_level(cfa) == "good" else st.warning)(plain(fit_verdict(cfa)))
    cards = st.columns(5)
    cards[0].metric(f"χ² ({fit.df} df)", f"{fit.chisq:.1f}", help=f"p = {fit.pvalue:.3g}", border=True)
    cards[1].metric("CFI", f"{fit.cfi:.3f}", help=f"TLI {fit.tli:.3f}", border=True)
    cards[2].metric(
        "RMSEA",
        f"{fit.rmsea:.3f}",
        help=f"90% interval {fit.rmsea_ci90[0]:.3f}–{fit.rmsea_ci90[1]:.3f}",
        border=True,
    )
    cards[3].metric("SRMR", f"{fit.srmr:.3f}", border=True)
    cards[4].metric(
        "n",
        f"{fit.n}",
        help=f"{cfa.n_incomplete} responses left out: not every statement answered",
        border=True,
    )
    st.caption(
        f"RMSEA 90% interval {fit.rmsea_ci90[0]:.3f}–{fit.rmsea_ci90[1]:.3f}; TLI {fit.tli:.3f}; "
        f"n = {fit.n} responses that answer every statement ({cfa.n_incomplete} others left out)."
    )
    for warning in cfa.warnings:
        st.warning(plain(warning))

    st.subheader("Reliability: omega next to alpha")
    st.caption(
        f"Omega does not assume that every statement measures its indicator equally well; alpha does. "
        f"Both from the same {fit.n} responses. Warnings below omega {OMEGA_LIMIT:.2f} or an average "
        f"variance extracted (AVE) below {AVE_LIMIT:.2f}."
    )
    rows = []
    for factor in result.structure.names:
        alpha = result.alpha.get(factor)
        rows.append(
            {
                "Indicator": labels.get(factor, factor),
                "Omega": cfa.omega[factor],
                "Alpha": None if alpha is None else alpha.alpha,
                "Alpha 95% low": None if alpha is None else alpha.ci95[0],
                "Alpha 95% high": None if alpha is None else alpha.ci95[1],
                "AVE": cfa.ave[factor],
                "Statements": len(result.structure.items_of(factor)),
                "n": fit.n,
            }
        )
    three = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={name: three for name in ("Omega", "Alpha", "Alpha 95% low", "Alpha 95% high", "AVE")},
    )
    for note in reliability_notes(cfa, labels):
        st.warning(plain(note))

    st.subheader("Are the indicators distinct?")
    st.caption(
        f"HTMT: how strongly two indicators' statements correlate with each other, relative to how strongly "
        f"each indicator's statements correlate among themselves. At {HTMT_LIMIT:.2f} or above the two are "
        "not shown to measure different things (Henseler, Ringle & Sarstedt, 2015)."
    )
    failing = htmt_notes(cfa, labels)
    for note in failing:
        st.warning(plain(note))
    if not failing:
        st.success(f"Every pair of indicators is distinct: all HTMT values are below {HTMT_LIMIT:.2f}.")
    pairs = []
    for pair, value in cfa.htmt.items():
        first, second = pair.split("~")
        pairs.append(
            {
                "Indicators": f"{labels.get(first, first)} · {labels.get(second, second)}",
                "HTMT": value,
                "Factor correlation": cfa.factor_correlations[pair],
                "Distinct": "yes" if value < HTMT_LIMIT else "not shown",
            }
        )
    st.dataframe(
        pd.DataFrame(pairs).sort_values("HTMT", ascending=False),
        hide_index=True,
        width="stretch",
        column_config={"HTMT": three, "Factor correlation": three},
    )
    with st.expander("Standardised loadings of every statement"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Indicator": labels.get(factor, factor),
                        "Statement": item,
                        "Wording": texts.get(item, ""),
                        "Loading": value,
                    }
                    for factor, loadings in cfa.loadings.items()
                    for item, value in loadings.items()
                ]
            ),
            hide_index=True,
            width="stretch",
            column_config={"Loading": three},
        )


def _number(value: float | None, pattern: str = "{:.3f}") -> str:
    return "—" if value is None else pattern.format(value)


def _p(value: float | None) -> str:
    return "—" if value is None else "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def _tested(check: GroupCheck, group: str, n: int) -> str:
    if check.result is not None and group in check.result.sizes:
        return "yes"
    return f"no: fewer than {MIN_GROUP_N}" if n < MIN_GROUP_N else "no: nothing to compare with"


def invariance_section(title: str, check: GroupCheck) -> None:
    st.header(title)
    if check.status == "not tested":
        st.info(plain(check.verdict))
    elif check.failed:
        st.warning(plain(check.verdict))
    else:
        st.success(plain(check.verdict))
    if check.counts:
        st.dataframe(
            pd.DataFrame(
                {
                    "Group": [check.labels[g] for g in check.counts],
                    "Complete responses": list(check.counts.values()),
                    "Tested": [_tested(check, g, n) for g, n in check.counts.items()],
                }
            ),
            hide_index=True,
        )
    result = check.result
    if result is None:
        return
    models: list[tuple[str, MultigroupFit, StepTest | None]] = [
        ("Configural (same structure)", result.configural, None)
    ]
    models += [("Metric (equal loadings)", result.metric, result.metric_test)]
    models += [("Scalar (equal loadings and intercepts)", result.scalar, result.scalar_test)]
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Model": name,
                    "χ²": f"{fit.chisq:.1f}",
                    "df": fit.df,
                    "CFI": f"{fit.measures.cfi:.3f}",
                    "RMSEA": f"{fit.measures.rmsea:.3f}",
                    "Δχ²": _number(None if test is None else test.chisq_diff, "{:.1f}"),
                    "Δdf": "—" if test is None else str(test.df_diff),
                    "p": _p(None if test is None else test.pvalue),
                    "ΔCFI": _number(None if test is None else test.delta_cfi, "{:+.3f}"),
                    "ΔRMSEA": _number(None if test is None else test.delta_rmsea, "{:+.3f}"),
                    "Verdict": "—" if test is None else test.verdict,
                }
                for name, fit, test in models
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if result.differing_intercepts:
        st.subheader("Statements whose intercepts differ")
        st.caption(
            "At the same level of the indicator, these statements draw different answers in each group. "
            "Found by freeing one intercept at a time (chi-square drop on "
            f"{len(result.groups) - 1} df, Bonferroni-corrected)."
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Statement": item.item,
                        "Wording": texts.get(item.item, ""),
                        "Indicator": labels.get(item.factor, item.factor),
                        **{
                            f"Intercept, {check.labels[g]}": round(value, 2)
                            for g, value in item.intercepts.items()
                        },
                        "χ² drop": round(item.chisq_drop, 1),
                        "p": _p(item.pvalue),
                    }
                    for item in result.differing_intercepts
                ]
            ),
            hide_index=True,
            width="stretch",
        )


invariance_section("Can answers in different languages be compared?", result.language)
invariance_section("Can answers to different instrument versions be compared?", result.version)
st.caption(
    f"Groups need {MIN_GROUP_N} responses that answer every statement. A step holds when its chi-square "
    "difference test is not significant, holds approximately when CFI drops by less than 0.010, and "
    "fails otherwise."
)
