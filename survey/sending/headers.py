"""Text that ends up in a mail header, checked where it enters (the API, a CRM file, the Send
surveys page, the command line), before anything is stored.

An account name becomes part of the subject, a contact's email the ``To:`` header. A line
break there (CR, LF, and also NEL ``\\x85`` and the Unicode line and paragraph separators)
would make Python's ``email`` refuse the message only when it is built, after the interaction
and invitation were committed; a NUL byte cannot be stored on PostgreSQL; an "email" such as
``victim,second@evil.example`` would be two recipients. Everything is refused up front instead.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

# Control characters (Cc: NUL, CR, LF, NEL, ...), unassigned surrogates, line and paragraph
# separators: none of them belong in a name.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def control_character(text: str) -> str | None:
    """The first character of ``text`` that cannot go into a header or a name, as ``U+000A``."""
    for character in text:
        if unicodedata.category(character) in _REFUSED_CATEGORIES:
            return f"U+{ord(character):04X}"
    return None


def address_problem(email: str) -> str | None:
    """Why ``email`` is not exactly one mail address, or ``None`` when it is."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def contact_problems(
    *, account_name: str, contact_email: str | None, contact_name: str = ""
) -> list[tuple[str, str]]:
    """``(field, problem)`` for each value that cannot go into an invitation's mail.

    The one check of this kind: ``record_interaction`` (and through it the API, the Send surveys
    page and the command line) and the CRM import's row check all call it. An email of
    ``None`` is not checked (a row that has none is refused for that already)."""
    problems = []
    for field, value in (("account.name", account_name), ("contact.name", contact_name)):
        bad = control_character(value)
        if bad is not None:
            problems.append((field, f"contains a control character or line break ({bad}); remove it"))
    if contact_email is None:
        return problems
    bad = control_character(contact_email)
    if bad is not None:
        problems.append(("contact.email", f"contains a control character or line break ({bad})"))
    else:
        problem = address_problem(contact_email)
        if problem is not None:
            problems.append(("contact.email", f"'{contact_email[:80]}' is not one email address: {problem}"))
    return problems
