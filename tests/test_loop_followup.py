"""Closing the loop with the customer ("you said, we did") and the loop metrics, on SQLite and
PostgreSQL. The metrics' intervals are checked against statsmodels and the exact binomial
order statistics."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.stats import binom
from sqlmodel import select
from statsmodels.stats.proportion import proportion_confint

from models.tables import FollowUp
from survey.collecting.responses import submit
from survey.followup.metrics import loop_metrics, median_of, share_of
from survey.followup.queue import FollowUpError, add_note, assign, close
from survey.followup.replies import acted_on_before, draft_for
from survey.loop.worker import run_once
from tests.factories import answers_at, make_invitation
from tests.loop_support import smtp_inbox
from tests.test_sending import Inbox, parts

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch) as received:
        yield received


def respond(session, when, *, nps, email="ana@acme.example", anonymous=False, language="en"):
    result, _ = make_invitation(session, when - timedelta(hours=1), email=email, language=language)
    response_id = submit(
        session, invitation_id=result.invitation_id, answers=answers_at(NPS=nps), locale="en", now=when,
        anonymous=anonymous,
    )  # fmt: skip
    session.commit()
    return response_id


def follow_up_of(session, response_id):
    return session.exec(select(FollowUp).where(FollowUp.response_id == response_id)).one()


def test_closing_can_tell_the_contact_what_was_done_in_their_language(engine, session, inbox):
    follow_up = follow_up_of(session, respond(session, NOW, nps=2, language="de"))
    draft = draft_for(session, follow_up.id)
    assert draft.possible
    assert draft.to == "ana@acme.example"
    assert draft.text.startswith("Guten Tag ana@acme.example,")
    with pytest.raises(FollowUpError, match="template's gap"):
        close(session, follow_up.id, "Called", NOW, customer_message=draft.text)
    session.rollback()
    message = draft.text.replace("…", "Wir liefern ab Montag mit einem zweiten Fahrer.")
    close(
        session, follow_up.id, "Second driver from Monday", NOW + timedelta(hours=3), customer_message=message
    )
    session.commit()
    session.refresh(follow_up)
    assert follow_up.customer_message == message
    assert follow_up.customer_message_at == NOW + timedelta(hours=3)
    assert "message sent to the contact" in follow_up.note
    run_once(engine, now=NOW + timedelta(hours=3))
    [reply] = [m for m in inbox.messages if m["To"] == "ana@acme.example"]
    assert reply["Subject"] == "Was wir aus Ihrer Rückmeldung gemacht haben"
    assert "Wir liefern ab Montag mit einem zweiten Fahrer." in parts(reply)[0]
    # The contact's next survey may say that their feedback was acted on.
    later, _ = make_invitation(session, NOW + timedelta(days=40), email="ana@acme.example")
    assert acted_on_before(session, later.invitation_id) == NOW + timedelta(hours=3)


def test_no_message_ever_goes_for_an_anonymous_response(session):
    follow_up = follow_up_of(session, respond(session, NOW, nps=1, anonymous=True))
    draft = draft_for(session, follow_up.id)
    assert not draft.possible
    assert "anonymous" in draft.why_not
    assert draft.text == ""
    with pytest.raises(FollowUpError, match="anonymous"):
        close(session, follow_up.id, "Called", NOW, customer_message="We fixed it.")
    session.rollback()
    session.refresh(follow_up)
    assert follow_up.status == "open"  # refused before anything changed


def test_loop_metrics_count_first_action_close_service_level_and_recovery(session):
    hours = [(2, 20), (5, 30), (1, 10), (8, 50)]  # (first action, close) in hours after opening
    follow_ups = []
    for number, (first, closed) in enumerate(hours):
        follow_up = follow_up_of(session, respond(session, NOW, nps=3, email=f"c{number}@acme.example"))
        assign(session, follow_up.id, "maria", NOW + timedelta(hours=first))
        add_note(session, follow_up.id, "Called", NOW + timedelta(hours=first + 0.5))
        close(session, follow_up.id, "Done", NOW + timedelta(hours=closed))
        follow_ups.append(follow_up)
    open_one = follow_up_of(session, respond(session, NOW, nps=4, email="late@acme.example"))
    session.commit()
    # Two of the detractors answer again: one recovered (8), one not (5).
    respond(session, NOW + timedelta(days=10), nps=8, email="c0@acme.example")
    respond(session, NOW + timedelta(days=11), nps=5, email="c1@acme.example")
    metrics = loop_metrics(session, now=NOW + timedelta(days=12), days=30)
    # Five opened now, one by the second detractor answer, and one for the account: its five
    # contacts were flagged within 30 days.
    assert metrics.follow_ups == 7
    assert metrics.first_action.n == 4
    assert metrics.first_action.hours == pytest.approx(3.5)
    assert metrics.close.hours == pytest.approx(25)
    assert open_one.id not in [f.id for f in follow_ups]
    # Decided: four closed (two by their 24 h due time) and three open past it.
    assert (metrics.within_sla.k, metrics.within_sla.n) == (2, 7)
    # Of the detractors who answered again, c0 came back at 8 (recovered), c1 at 5 (not).
    assert (metrics.recovery.k, metrics.recovery.n) == (1, 2)


def test_the_share_interval_is_wilsons_as_statsmodels_computes_it():
    for k, n in ((2, 6), (0, 5), (17, 40), (40, 40)):
        share = share_of(k, n)
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert share.low == pytest.approx(low, abs=1e-9)
        assert share.high == pytest.approx(high, abs=1e-9)
    assert share_of(0, 0).share is None


def test_the_median_interval_is_the_exact_order_statistic_interval():
    values = [3.0, 7.5, 1.0, 12.0, 4.0, 9.0, 2.5, 30.0, 6.0, 5.0, 8.0, 11.0, 14.0]
    result = median_of(values)
    ordered = np.sort(values)
    n = len(ordered)
    # The widest-coverage order statistics (x_(j), x_(n+1-j)) with P >= 0.95, from the binomial.
    j = max(j for j in range(1, n // 2 + 1) if binom.cdf(n - j, n, 0.5) - binom.cdf(j - 1, n, 0.5) >= 0.95)
    assert result.hours == pytest.approx(float(np.median(values)))
    assert (result.low, result.high) == (ordered[j - 1], ordered[n - j])
    assert result.n == n
    assert median_of([]).hours is None
    assert math.isclose(median_of([4.0]).hours, 4.0)
