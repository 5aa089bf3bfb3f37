"""The Invitations page, through AppTest: bounce and opt-out rates beside the statuses."""

from datetime import UTC, datetime, timedelta

from models.tables import Delivery, OptOut
from tests.factories import make_invitation, team_app


def test_the_page_shows_bounce_and_opt_out_rates(db):
    when = datetime.now(UTC) - timedelta(days=1)
    for number, status in enumerate(("sent", "sent", "bounced", "sent")):
        result, _ = make_invitation(db, when, email=f"c{number}@acme.example")
        db.add(Delivery(invitation_id=result.invitation_id, status=status, sent_at=when))
    db.add(OptOut(email="c3@acme.example", at=when, source="link"))
    db.commit()
    at = team_app(db).run()
    at.switch_page("pages/invitations.py").run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Bounce rate"] == "25.0%"
    assert values["Opt-out rate"] == "25.0%"
    assert values["Bounced"] == "1"
