"""The invitation email carries the 0-10 question as eleven links, in HTML and plain text."""

from email import message_from_bytes
from email.policy import default

from survey.sending.delivery import send_invitation
from survey.sending.mailer import MailSettings
from tests.factories import make_invitation


def _parts(outbox) -> tuple[str, str]:
    [eml] = list(outbox.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=default)
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


def test_the_email_offers_each_answer_from_0_to_10_as_a_link(session, now):
    result, _ = make_invitation(session, now, language="de")
    mail = MailSettings.from_env()
    send_invitation(session, result.invitation_id, result.link, now=now, mail=mail)
    text, html = _parts(mail.outbox)
    for value in range(11):
        link = f"{result.link}&amp;nps={value}"
        assert f'<a href="{link}"' in html
        assert f"\n{value}: {result.link}&nps={value}\n" in f"{text}\n"
    assert "Wie wahrscheinlich ist es" in text  # the question in the contact's language
    assert "0 = Überhaupt nicht wahrscheinlich" in text
    assert "10 = Äußerst wahrscheinlich" in html
    assert text.index(result.link) < text.index("nps=0")  # the plain link comes first


def test_a_french_contact_gets_the_email_in_french_with_french_dates(session, now):
    result, _ = make_invitation(session, now, language="fr", contact_name="Léa Martin")
    mail = MailSettings.from_env()
    send_invitation(session, result.invitation_id, result.link, now=now, mail=mail)
    text, html = _parts(mail.outbox)
    assert "Bonjour Léa Martin," in text
    assert "du 20 novembre 2026" in text  # the interaction's day, as French writes it
    assert "valable jusqu'au 4 décembre 2026" in text
    assert "Sur une échelle de 0 à 10" in html
    assert 'lang="fr"' in html
