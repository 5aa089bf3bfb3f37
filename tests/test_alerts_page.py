"""My alerts, through AppTest: each user's choice per reason, the weekly digest and the language."""

from models.tables import NotificationPreference
from tests.factories import make_user, team_app


def test_a_manager_chooses_the_digest_for_drops_and_german_emails(db):
    make_user(db, "maria", "manager", email="maria@pulse.example")
    at = team_app(db, role="manager", username="maria").run()
    at.switch_page("pages/alerts.py").run()
    assert not at.exception
    assert any("maria@pulse.example" in c.value.replace("\\", "") for c in at.caption)
    at.radio(key="mode_drop").set_value("digest")
    at.radio(key="mode_moment").set_value("off")
    at.toggle(key="weekly_digest").set_value(False)
    at.selectbox(key="alert_language").select("de")
    next(b for b in at.button if b.label == "Save").click().run()
    assert at.success[0].value == "Saved."
    saved = db.get(NotificationPreference, "maria")
    db.refresh(saved)
    assert (saved.detractor, saved.moment, saved.drop, saved.weekly_digest, saved.language) == (
        "immediately", "off", "digest", False, "de",
    )  # fmt: skip


def test_a_user_without_an_email_is_told_nothing_can_reach_them(db):
    at = team_app(db, role="analyst").run()
    at.switch_page("pages/alerts.py").run()
    assert "no email address" in at.warning[0].value
