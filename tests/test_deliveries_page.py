"""The Deliveries page (admins), through AppTest."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from models.tables import OutboxEvent
from survey.loop import outbox
from tests.factories import team_app


def open_page(db, role="admin"):
    at = team_app(db, role=role).run()
    return at.switch_page("pages/deliveries.py").run()


def test_deliveries_show_each_status_and_failed_ones_can_be_tried_again(db):
    now = datetime.now(UTC) - timedelta(minutes=5)
    for number, status in enumerate(("pending", "sent", "failed")):
        outbox.enqueue(db, channel="email", topic="followup.alert", target=f"m{number}@pulse.example",
                       payload={"raw": ""}, now=now)  # fmt: skip
        db.flush()
        event = db.exec(select(OutboxEvent).order_by(OutboxEvent.id.desc())).first()
        event.status, event.last_error = (
            status,
            "SMTPRecipientsRefused: 550 no such user" if status == "failed" else "",
        )
        db.add(event)
    db.commit()
    at = open_page(db)
    assert not at.exception
    assert [m.value for m in at.metric] == ["1", "1", "1", "0"]
    frame = at.dataframe[0].value
    assert set(frame["status"]) == {"pending", "sent", "failed"}
    assert "550 no such user" in " ".join(frame["reason"])
    at.button(key="retry_failed").click().run()
    assert "1 delivery(ies) will be tried again" in at.success[0].value
    db.expire_all()
    assert sorted(db.exec(select(OutboxEvent.status)).all()) == ["pending", "pending", "sent"]


def test_an_empty_outbox_says_so(db):
    at = open_page(db)
    assert "Nothing has been sent yet." in at.info[0].value
