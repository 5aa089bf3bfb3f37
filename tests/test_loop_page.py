"""The Loop metrics page, through AppTest: figures with their interval and n, a manager's own only."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from models.tables import Account, FollowUp
from survey.followup.queue import close
from tests.factories import full_answers, respond, team_app


def test_loop_metrics_show_each_figure_with_its_interval_and_n_and_only_the_managers_accounts(db):
    when = datetime.now(UTC) - timedelta(days=3)
    for number in range(4):
        # One account each: flagged contacts of one account would also open the account's follow-up.
        respond(
            db, when, full_answers() | {"NPS": 2}, account=f"Acme {number}", email=f"a{number}@acme.example"
        )
    respond(db, when, full_answers() | {"NPS": 2}, account="Globex", email="g@globex.example")
    for account in db.exec(select(Account)).all():
        account.owner = "maria" if account.name.startswith("Acme") else "tom"
        db.add(account)
    for number, follow_up in enumerate(db.exec(select(FollowUp).order_by(FollowUp.id)).all()):
        close(db, follow_up.id, "Called", when + timedelta(hours=10 * (number + 1)))
    db.commit()
    at = team_app(db, role="manager", username="maria").run()
    at.switch_page("pages/loop.py").run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Hours to close"] == "25.0 h"  # 10, 20, 30, 40: Globex's 50 is not maria's
    assert values["Closed within the service level"] == "50%"  # two of four within 24 hours
    captions = [c.value for c in at.caption]
    assert any(c.startswith("4 follow-up(s) opened in the last 90 days") for c in captions)
    assert any(c.startswith("95% ") and c.endswith("2 of 4") for c in captions)
    assert any(c.endswith("n = 4") for c in captions)
