"""The respondent's survey, opened from a personal link ``/?t=<token>``.

Answers live in ``st.session_state["answers"]`` and are saved as a draft on every change,
so the respondent can close the page and resume from the same link.
"""

from datetime import UTC, datetime
from typing import Any

import streamlit as st
from sqlalchemy.exc import DBAPIError

from models.db import session_scope
from pages.common import engine, plain
from survey.collecting.invitations import LinkState, SurveyContext, check_link, mark_opened
from survey.collecting.responses import (
    LEADER_NONE,
    LEADER_OTHER,
    LEADER_OTHER_KEY,
    AlreadySubmitted,
    AnswerError,
    LinkExpired,
    effective_answers,
    save_draft,
    submit,
    unanswered_required,
)
from survey.followup.replies import acted_on_before
from survey.instrument import locale
from survey.instrument.definition import Instrument, Item, load_instrument
from survey.instrument.forms import PULSE

state = st.session_state


def _hint(text: str) -> None:
    """A small hint in the body's own colour: Streamlit's grey captions are below WCAG AA
    contrast on the survey's white background."""
    st.markdown(f":small[{plain(text)}]")


def _now() -> datetime:
    return datetime.now(UTC)


def _date(moment: datetime, language: str) -> str:
    return locale.day(moment, language)


def _browser_language(instrument: Instrument) -> str:
    locale = st.context.locale or ""
    return instrument.language_for(locale.split("-")[0].lower())


def _show_link_problem(link_state: LinkState, when: datetime | None) -> None:
    instrument = load_instrument()
    language = _browser_language(instrument)
    st.title(instrument.text("page_title", language))
    key = {
        LinkState.MISSING: "no_token",
        LinkState.MALFORMED: "malformed_token",
        LinkState.UNKNOWN: "unknown_token",
        LinkState.EXPIRED: "expired_token",
        LinkState.USED: "used_token",
    }[link_state]
    message = instrument.text(key, language, date=_date(when, language) if when else "")
    if link_state is LinkState.USED:
        st.success(message, icon=":material/check_circle:")
    elif link_state is LinkState.EXPIRED:
        st.warning(message, icon=":material/schedule:")
    else:
        st.error(message, icon=":material/link_off:")


def _note_opened(invitation_id: int) -> None:
    """Record the first opening of the link. A full (or locked) database must not keep the survey
    from the respondent: it is shown all the same, and each save says whether it worked."""
    try:
        with session_scope(engine()) as session:
            mark_opened(session, invitation_id, _now())
    except DBAPIError:
        pass  # a later session records it; the answers do not depend on it


def _first_answer(instrument: Instrument) -> int | None:
    """The 0-10 answer chosen by the link in the email, when it is one; anything else is ignored."""
    raw = state.get("first_answer")
    scale = instrument.scale_for(instrument.item("NPS"))
    if not isinstance(raw, str) or not raw.isdigit() or scale is None:
        return None
    value = int(raw)
    return value if scale.min <= value <= scale.max else None


def _start(context: SurveyContext, instrument: Instrument) -> None:
    """Load the saved draft into this browser session, once per invitation. The answer tapped
    in the email is shown chosen but saved only when the respondent does something: a mail
    scanner that opens every link records nothing."""
    state["invitation_id"] = context.invitation_id
    state["answers"] = dict(context.draft_answers)
    first = _first_answer(instrument)
    if first is not None and state["answers"].get("NPS") is None:
        # An answer the respondent already saved wins over the link: a scanner, or the same
        # email link opened again, never changes it.
        state["answers"]["NPS"] = first
    state["step"] = min(context.draft_step, len(instrument.sections) - 1)
    state["language"] = context.language
    state["resumed"] = context.resumed
    for key in [k for k in state if str(k).startswith("q_")]:
        del state[key]


def _persist() -> None:
    """Save the draft; a failure keeps the answers in the page and says so."""
    try:
        with session_scope(engine()) as session:
            save_draft(
                session,
                invitation_id=state["invitation_id"],
                answers=state["answers"],
                step=state["step"],
                locale=state["language"],
                now=_now(),
            )
        state.pop("save_failed", None)
    except (AlreadySubmitted, LinkExpired):
        pass  # the link check of this rerun tells the respondent why
    except (DBAPIError, AnswerError):
        # An answer no widget gives (a forged one) is not saved; the page says saving failed.
        state["save_failed"] = True


def _changed(code: str) -> None:
    state["answers"][code] = state[f"q_{code}"]
    if code in state.get("missing", []):
        state["missing"].remove(code)
    _persist()


def _widget_key(code: str) -> str:
    key = f"q_{code}"
    # Widgets of other steps are not on the page and lose their state: restore it.
    if key not in state:
        state[key] = state["answers"].get(code)
    return key


def _go(delta: int, instrument: Instrument) -> None:
    section = instrument.sections[state["step"]]
    missing = unanswered_required(instrument, state["answers"], section.items) if delta > 0 else []
    if missing:
        state["missing"] = missing
        return
    state.pop("missing", None)
    state["step"] = max(0, min(len(instrument.sections) - 1, state["step"] + delta))
    state["scroll_to_top"] = True
    _persist()


def _submit(instrument: Instrument) -> None:
    answers = effective_answers(instrument, state["answers"])
    try:
        with session_scope(engine()) as session:
            response_id = submit(
                session,
                invitation_id=state["invitation_id"],
                answers=answers,
                locale=state["language"],
                now=_now(),
                anonymous=bool(state.get("anonymous")),
            )
        # Only once committed: a full disk can refuse the commit itself.
        state["submitted"] = response_id
        state.pop("save_failed", None)
    except AlreadySubmitted:
        # A double click or a second tab: the first submit already stored everything.
        state["submitted"] = True
    except LinkExpired:
        pass  # the link check of this rerun tells the respondent why
    except AnswerError as exc:
        codes = [problem.code for problem in exc.problems]
        state["missing"] = codes
        for step, section in enumerate(instrument.sections):
            if any(code in section.items for code in codes):
                state["step"] = step
                break
    except DBAPIError:
        state["save_failed"] = True


def _scale_item(item: Item, instrument: Instrument, label: str) -> None:
    scale = instrument.scale_for(item)
    assert scale is not None
    options = list(range(scale.min, scale.max + 1))
    key = _widget_key(item.code)
    if item.kind == "likely":
        language = state["language"]
        low, high = scale.labels[scale.min][language], scale.labels[scale.max][language]
        st.pills(label, options, key=key, on_change=_changed, args=(item.code,))
        _hint(f"{scale.min} = {low} · {scale.max} = {high}")
    else:
        st.segmented_control(label, options, key=key, on_change=_changed, args=(item.code,), width="stretch")


def _leader_block(instrument: Instrument, context: SurveyContext) -> None:
    language = state["language"]
    item = instrument.item("LEADER")
    names = dict(context.competitors)
    options: list[Any] = [*names, LEADER_OTHER, LEADER_NONE]
    labels = {LEADER_OTHER: instrument.text("leader_other", language)}
    labels[LEADER_NONE] = instrument.text("leader_none", language)
    st.radio(
        item.text[language],
        options,
        format_func=lambda option: labels.get(option) or names.get(option, str(option)),
        index=None,
        key=_widget_key("LEADER"),
        on_change=_changed,
        args=("LEADER",),
    )
    choice = state["answers"].get("LEADER")
    leader_name = names.get(choice, "")
    if choice == LEADER_OTHER:
        st.text_input(
            instrument.text("leader_other_name", language),
            max_chars=200,
            key=_widget_key(LEADER_OTHER_KEY),
            on_change=_changed,
            args=(LEADER_OTHER_KEY,),
        )
        leader_name = (state["answers"].get(LEADER_OTHER_KEY) or "").strip()
    if not leader_name:
        _hint(instrument.text("leader_skip", language))
        return
    st.markdown(f"**{instrument.text('leader_ratings', language, leader=plain(leader_name))}**")
    _hint(instrument.text("agree_hint", language))
    for indicator in instrument.indicators:
        rating = instrument.leader_item(indicator.code)
        _scale_item(rating, instrument, rating.text[language].format(leader=plain(leader_name)))


def _choice_item(item: Item, language: str) -> None:
    options = item.options or {}
    st.radio(
        item.text[language],
        list(options),
        format_func=lambda option: options[option][language],
        index=None,
        key=_widget_key(item.code),
        on_change=_changed,
        args=(item.code,),
    )


def _section(instrument: Instrument, context: SurveyContext) -> None:
    language = state["language"]
    section = instrument.sections[state["step"]]
    st.subheader(section.title[language])
    if section.code == "leader":
        _leader_block(instrument, context)
        return
    _questions(instrument, section.items)


def _questions(instrument: Instrument, codes: tuple[str, ...]) -> None:
    language = state["language"]
    if any(instrument.item(code).kind == "agree" for code in codes):
        _hint(instrument.text("agree_hint", language))
    for code in codes:
        item = instrument.item(code)
        label = item.text[language]
        if item.required:
            label = f"{label} {instrument.text('required_mark', language)}"
        if item.kind in ("agree", "likely"):
            _scale_item(item, instrument, label)
        elif item.kind == "choice":
            _choice_item(item, language)
        elif item.kind == "text":
            st.text_area(
                f"{label} ({instrument.text('optional', language)})",
                max_chars=item.max_length,
                key=_widget_key(code),
                on_change=_changed,
                args=(code,),
            )


def _navigation(instrument: Instrument, pulse: bool = False) -> None:
    language = state["language"]
    last = pulse or state["step"] == len(instrument.sections) - 1
    back, forward = st.columns(2)
    if state["step"] > 0:
        back.button(
            instrument.text("back", language),
            on_click=_go,
            args=(-1, instrument),
            icon=":material/arrow_back:",
            width="stretch",
        )
    if last:
        st.checkbox(instrument.text("anonymous", language), key="anonymous")
        forward.button(
            instrument.text("submit", language),
            on_click=_submit,
            args=(instrument,),
            type="primary",
            icon=":material/send:",
            width="stretch",
        )
    else:
        forward.button(
            instrument.text("next", language),
            on_click=_go,
            args=(1, instrument),
            type="primary",
            icon=":material/arrow_forward:",
            width="stretch",
        )


def _scroll_to_top() -> None:
    """A new part starts at its top on a phone, not where the last button was."""
    if state.pop("scroll_to_top", False):
        # A constant script with no user text in it; the step makes it a new element.
        st.html(
            f"<script>/* part {state['step']} */ window.scrollTo(0, 0);"
            "document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0);</script>",
            unsafe_allow_javascript=True,
            width="content",
        )


# "You said, we did": the contact was told what was done about their last feedback.
ACTED_ON = {
    "en": "Thank you for your last feedback: we acted on it, as your account team wrote to you.",
    "de": "Danke für Ihre letzte Rückmeldung: Wir haben sie umgesetzt, wie Ihr Betreuungsteam Ihnen schrieb.",
    "fr": "Merci pour votre dernier avis : nous y avons donné suite, comme votre équipe vous l'a écrit.",
}


def _problems(instrument: Instrument, language: str) -> None:
    for code in state.get("missing", []):
        question = (
            instrument.item(code).text[language] if code in {i.code for i in instrument.items} else code
        )
        st.warning(instrument.text("required_missing", language, question=question))
    if state.get("save_failed"):
        st.error(instrument.text("save_failed", language), icon=":material/cloud_off:")


def _survey(context: SurveyContext) -> None:
    instrument = load_instrument(context.instrument_version)
    if state.get("invitation_id") != context.invitation_id:
        _start(context, instrument)
        with session_scope(engine()) as session:
            state["acted_on"] = acted_on_before(session, context.invitation_id) is not None
    language = state["language"]

    title, switch = st.columns([3, 1], vertical_alignment="bottom")
    title.title(instrument.text("page_title", language))
    choice = switch.selectbox(
        instrument.text("language", language),
        instrument.languages,
        index=instrument.languages.index(language),
        format_func=lambda code: instrument.text("language_name", code),
        label_visibility="collapsed",
    )
    if choice != language:
        state["language"] = choice
        _persist()
        st.rerun()

    st.markdown(f"**{instrument.text('greeting', language, account=plain(context.account_name))}**")
    st.write(
        instrument.text(
            "intro",
            language,
            touchpoint=plain(context.touchpoint_name.lower()),
            date=_date(context.occurred_at, language),
        )
    )
    if state.get("resumed"):
        st.info(instrument.text("resumed", language), icon=":material/history:")
        state["resumed"] = False
    if state.get("acted_on") and state["step"] == 0:
        st.success(ACTED_ON[language if language in ACTED_ON else "en"], icon=":material/task_alt:")
    if context.form == PULSE:
        # One screen: the rotating statements, the 0-10 question, the moment and a comment.
        _questions(instrument, context.pulse_page)
        _problems(instrument, language)
        _navigation(instrument, pulse=True)
        _hint(instrument.text("saved", language))
        return
    steps = len(instrument.sections)
    st.progress(
        state["step"] / steps, text=instrument.text("progress", language, step=state["step"] + 1, steps=steps)
    )
    _section(instrument, context)
    _problems(instrument, language)
    _navigation(instrument)
    _hint(instrument.text("saved", language))
    _scroll_to_top()


def main() -> None:
    if state.get("submitted"):
        instrument = load_instrument()
        language = state.get("language") or _browser_language(instrument)
        st.title(instrument.text("thanks_title", language))
        st.success(instrument.text("thanks_body", language), icon=":material/check_circle:")
        return
    try:
        with session_scope(engine()) as session:
            check = check_link(session, state.get("survey_token"), _now())
    except DBAPIError:
        instrument = load_instrument()
        st.error(instrument.text("save_failed", _browser_language(instrument)))
        return
    if check.context is None:
        _show_link_problem(check.state, check.when)
        return
    if state.get("invitation_id") != check.context.invitation_id:
        _note_opened(check.context.invitation_id)
    _survey(check.context)


main()
