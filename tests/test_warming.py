"""The server reads each reader's first figures as it starts: whoever opens the Overview, the
Dashboard or My accounts first then finds them kept, even after a response arrived since."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from models.tables import Account, User
from survey.accounts.health import account_health
from survey.instrument.definition import load_instrument
from survey.loop import worker
from survey.operations import warming
from survey.people.access import EVERYTHING, Scope, owner_scope, restrict_filters
from survey.people.users import reader_scopes, set_active
from survey.quality import fits, report
from survey.reporting import cache, dashboard, overview
from tests.factories import make_user, respond

ACCOUNTS = ("Acme Tools", "Birch Labs", "Cobalt Air")


@pytest.fixture
def team(engine: Engine, now: datetime) -> Engine:
    """Three accounts with answers over four months; ``ana`` owns two, ``ben`` one, ``cy``
    none; an admin and an analyst read everything."""
    with Session(engine) as session:
        for months_ago in range(4):
            for number, account in enumerate(ACCOUNTS):
                for person in range(3):
                    respond(
                        session,
                        now - timedelta(days=30 * months_ago + number),
                        account=account,
                        email=f"p{person}@{account.split()[0].lower()}.example",
                    )
        owners = {"Acme Tools": "ana", "Birch Labs": "ana", "Cobalt Air": "ben"}
        for account, owner in owners.items():
            session.execute(update(Account).where(Account.name == account).values(owner=owner))  # type: ignore[arg-type]
        for name, role in (("admin", "admin"), ("ana", "manager"), ("ben", "manager"), ("cy", "manager")):
            make_user(session, name, role)
        make_user(session, "ida", "analyst")
        session.commit()
    cache.clear()
    return engine


def _scope(engine: Engine, owner: str) -> Scope:
    with Session(engine) as session:
        return owner_scope(session, owner)


def test_the_scopes_read_are_each_readers_once_the_widest_first(team: Engine) -> None:
    with Session(team) as session:
        assert reader_scopes(session) == [EVERYTHING, _scope(team, "ana"), _scope(team, "ben")]
        set_active(session, "ben", False, actor="admin")
        session.commit()
        assert reader_scopes(session) == [EVERYTHING, _scope(team, "ana")]


class _WholeReads:
    """The kept reads (``cache.current``) that had to read their cells whole, not only what
    arrived since they were kept."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.keys: list[tuple[object, ...]] = []
        real = cache.current

        def current(session: Session, key: tuple[object, ...], whole: Any, since: Any) -> Any:
            def counted() -> Any:
                self.keys.append(key)
                return whole()

            return real(session, key, counted, since)

        monkeypatch.setattr(cache, "current", current)


def _open_pages(
    engine: Engine, scope: Scope, now: datetime
) -> tuple[overview.OverviewData, dashboard.DashboardData]:
    """What the three pages compute for ``scope`` on their defaults."""
    with Session(engine) as session:
        seen = overview.overview(session, now=now, min_n=2, scope=scope)
        filters = restrict_filters(dashboard.default_filters(dashboard.filter_options(session)), scope)
        assert filters is not None
        data = dashboard.compute(session, filters, load_instrument(), 2)
        account_health(session, now, scope)
    return seen, data


def test_after_warming_the_first_open_reads_only_what_arrived_since(
    team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    assert warming.warm_figures(team, now=lambda: now, min_n=2, say=said.append) == 3
    assert len(said) == 3
    assert said[0].startswith("the day's instrument check made in")
    assert said[1].startswith("first figures kept for 3 of 3 readers' scopes")
    assert said[2].startswith("instrument quality fitted in")
    ana = _scope(team, "ana")
    with Session(team) as session:
        respond(session, now, account="Acme Tools", email="new@acme.example")
    whole = _WholeReads(monkeypatch)
    warm_overview, warm = _open_pages(team, ana, now)
    assert whole.keys == []  # every figure was kept, and took in the new response alone
    cache.clear()
    cold_overview, cold = _open_pages(team, ana, now)
    assert len(whole.keys) > 10  # without warming, the same pages read their figures whole
    # The same figures either way, the new response in them.
    assert warm.responses == cold.responses == 2 * 4 * 3 + 1
    pd.testing.assert_frame_equal(warm.trend, cold.trend, rtol=1e-9)
    pd.testing.assert_frame_equal(warm.profile, cold.profile, rtol=1e-9)
    assert warm_overview.indicators.keys() == cold_overview.indicators.keys()
    for code, card in warm_overview.indicators.items():
        assert card.n == cold_overview.indicators[code].n
        assert card.score_100 == pytest.approx(cold_overview.indicators[code].score_100)


def test_a_scope_that_fails_is_reported_and_the_others_are_still_read(
    team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = warming.first_figures
    ana = _scope(team, "ana")

    def failing(session: Session, scope: Scope, **kwargs: Any) -> None:
        if scope == ana:
            raise RuntimeError("disk on fire")
        real(session, scope, **kwargs)

    monkeypatch.setattr(warming, "first_figures", failing)
    said: list[str] = []
    assert warming.warm_figures(team, now=lambda: now, min_n=2, say=said.append) == 2
    assert any("RuntimeError: disk on fire" in line for line in said)
    assert said[-2].startswith("first figures kept for 2 of 3 readers' scopes")


def test_no_reader_no_work(engine: Engine, now: datetime) -> None:
    said: list[str] = []
    assert warming.warm_figures(engine, now=lambda: now, min_n=2, say=said.append) == 0


def test_the_instrument_quality_fit_is_made_ahead_and_kept_for_the_page(
    team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted: list[object] = []
    real = fits.quality_report

    def counted(session: Session, **kwargs: Any) -> Any:
        fitted.append(kwargs)
        return real(session, **kwargs)

    monkeypatch.setattr(fits, "quality_report", counted)
    warming.warm_figures(team, now=lambda: now, min_n=2, say=lambda _: None)
    assert fitted == [{"since": None}]
    with Session(team) as session:
        kept = fits.fitted_report(session, None, now=now + timedelta(hours=1))
    assert len(fitted) == 1  # the page's first open finds the fit made at start
    assert kept.at == now
    assert kept.report.responses == 4 * 3 * 3  # every response of the base


def test_no_analyst_or_admin_no_fit(team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    with Session(team) as session:  # the last admin cannot be disabled through the product
        session.execute(update(User).where(col(User.role).in_(("admin", "analyst"))).values(active=False))
        session.commit()
    fitted: list[object] = []
    monkeypatch.setattr(fits, "quality_report", lambda *args, **kwargs: fitted.append(1))
    said: list[str] = []
    warming.warm_figures(team, now=lambda: now, min_n=2, say=said.append)
    assert fitted == []
    assert not [line for line in said if "instrument quality" in line]


def test_a_page_opened_during_the_fit_waits_for_it_instead_of_fitting_again(
    team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, fitted = threading.Event(), []
    release = threading.Event()
    real = fits.quality_report

    def slow(session: Session, **kwargs: Any) -> Any:
        fitted.append(1)
        started.set()
        release.wait(5)
        return real(session, **kwargs)

    monkeypatch.setattr(fits, "quality_report", slow)
    results: list[fits.Fitted] = []

    def read() -> None:
        with Session(team) as session:
            results.append(fits.fitted_report(session, None, now=now))

    warm = threading.Thread(target=read)
    warm.start()
    assert started.wait(5)
    page = threading.Thread(target=read)
    page.start()
    page.join(0.3)
    assert page.is_alive()  # waiting on the fit under way
    release.set()
    warm.join(5)
    page.join(5)
    assert len(fitted) == 1
    assert results[0] is results[1]


def test_the_days_instrument_check_is_made_ahead_once(
    team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base never checked: the warm-up makes the day's check, so the Dashboard's first open
    reads it instead of fitting the models; a second start the same day leaves it as it is."""
    made: list[datetime] = []
    real = report.record_day_check

    def counted(session: Session, when: datetime) -> list[str]:
        made.append(when)
        return real(session, when)

    monkeypatch.setattr(report, "record_day_check", counted)
    with Session(team) as session:
        assert report.latest_notices(session) is None
    warming.warm_figures(team, now=lambda: now, min_n=2, say=lambda _: None)
    assert made == [now]
    with Session(team) as session:
        assert report.latest_notices(session) == []
    said: list[str] = []
    warming.warm_figures(team, now=lambda: now + timedelta(hours=1), min_n=2, say=said.append)
    assert made == [now]
    assert not [line for line in said if "instrument check" in line]


def test_the_worker_and_the_read_ahead_make_the_days_check_once_between_them(
    team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ask for the day's check as the server starts: the second waits for the first and
    finds it made, instead of fitting the models again."""
    made: list[int] = []
    real = report.record_day_check
    inside = threading.Event()

    def slow(session: Session, when: datetime) -> list[str]:
        made.append(1)
        inside.set()
        time.sleep(0.3)
        return real(session, when)

    monkeypatch.setattr(report, "record_day_check", slow)
    results: list[bool] = []
    first = threading.Thread(target=lambda: results.append(worker.check_the_day(team, now)))
    first.start()
    assert inside.wait(5)
    results.append(worker.check_the_day(team, now))
    first.join(5)
    assert made == [1]
    assert sorted(results) == [False, True]


def _keep_warm(
    engine: Engine, seen: tuple[object, ...], clock: list[datetime], said: list[str], rounds: int
) -> int:
    """``keep_warm`` looking every few milliseconds for ``rounds`` rounds; how many times it
    read the first figures again."""
    stop = threading.Event()
    looked = 0
    reads = 0
    real_watched, real_warm = warming.watched, warming.warm_figures

    def counted_look(engine: Engine, now: datetime) -> tuple[object, ...]:
        nonlocal looked
        looked += 1
        if looked >= rounds:
            stop.set()
        return real_watched(engine, now)

    def counted_warm(*args: Any, **kwargs: Any) -> int:
        nonlocal reads
        reads += 1
        return real_warm(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(warming, "watched", counted_look)
        patch.setattr(warming, "warm_figures", counted_warm)
        watcher = threading.Thread(
            target=warming.keep_warm,
            args=(engine,),
            kwargs={
                "seen": seen,
                "now": lambda: clock[0],
                "min_n": 2,
                "say": said.append,
                "stop": stop,
                "every": 0.01,
            },
        )
        watcher.start()
        watcher.join(60)
    assert not watcher.is_alive()
    return reads


def test_the_first_response_of_a_new_month_has_the_first_figures_read_again_before_anyone_opens_them(
    team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Dashboard's default window ends at the newest month with answers: its first
    response moves the window, whose figures nobody has read. The server reads them again."""
    clock = [now]
    seen = warming.watched(team, now)
    warming.warm_figures(team, now=lambda: clock[0], min_n=2, say=lambda _: None)
    said: list[str] = []
    assert _keep_warm(team, seen, clock, said, rounds=3) == 0  # nothing moved: nothing read
    assert said == []

    later = now + timedelta(days=31)  # the next month, whatever the day
    with Session(team) as session:
        respond(session, later, account="Acme Tools", email="new@acme.example")
    clock[0] = later
    assert _keep_warm(team, seen, clock, said, rounds=3) == 1  # moved once: read once
    assert said[0].startswith("what readers open first has moved")
    whole = _WholeReads(monkeypatch)
    for owner in ("ana", "ben"):
        _open_pages(team, _scope(team, owner), later)
    _open_pages(team, EVERYTHING, later)
    assert whole.keys == []  # the new window's figures were all kept


def test_in_a_month_nobody_answered_yet_its_first_answer_finds_the_moved_window_kept(
    team: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = now.replace(day=1) + timedelta(days=40)  # the month after the last answers
    month = f"{later:%Y-%m}"
    with Session(team) as session:
        options = dashboard.filter_options(session)
    assert options["last_month"] < month
    windows = warming.dashboard_windows(options, later)
    assert [window.end for window in windows] == [options["last_month"], month]
    assert warming.dashboard_windows(options, now) == windows[:1]  # a month with answers: one
    warming.warm_figures(team, now=lambda: later, min_n=2, say=lambda _: None)
    ana = _scope(team, "ana")
    with Session(team) as session:
        respond(session, later, account="Acme Tools", email="first.of.the.month@acme.example")
        moved = dashboard.default_filters(dashboard.filter_options(session))
    assert moved == windows[1]  # the first answer of the month moved the Dashboard's window
    whole = _WholeReads(monkeypatch)
    _, warm = _open_pages(team, ana, later)
    assert whole.keys == []  # kept ahead: only the new answer was read
    cache.clear()
    _, cold = _open_pages(team, ana, later)
    assert len(whole.keys) > 10
    assert warm.responses == cold.responses == 2 * 4 * 3 + 1  # the new answer among them
    pd.testing.assert_frame_equal(warm.trend, cold.trend, rtol=1e-9)
    pd.testing.assert_frame_equal(warm.profile, cold.profile, rtol=1e-9)
