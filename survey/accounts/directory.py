"""Keeping accounts and contacts right: what the CRM import and the API created, corrected by hand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from models.tables import CONTACT_ROLES, Account, Contact, ContactErasure
from survey.people.access import EVERYTHING, Scope

LANGUAGES = ("en", "de")
ACCOUNT_FIELDS = {"segment": 100, "tier": 50, "region": 100, "industry": 100}


class DirectoryError(ValueError):
    """A change that cannot be saved; ``problems`` names each field. Nothing was changed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def named_contacts(session: Session, account_id: int, scope: Scope = EVERYTHING) -> list[Contact]:
    """The account's contacts whose personal data was not erased, in the order they were added;
    none for an account outside ``scope``."""
    erased = select(ContactErasure.contact_id)
    statement = (
        select(Contact)
        .where(
            Contact.account_id == account_id,
            col(Contact.id).not_in(erased),
            scope.condition(Contact.account_id),
        )
        .order_by(col(Contact.id))
    )
    return list(session.exec(statement).all())


def account_in_scope(session: Session, account_id: int, scope: Scope = EVERYTHING) -> Account:
    """The account, or a ``DirectoryError`` as if it did not exist when it is outside ``scope``."""
    account = session.get(Account, account_id)
    if account is None or not scope.allows(account_id):
        raise DirectoryError([f"there is no account #{account_id}"])
    return account


def update_account(
    session: Session,
    account_id: int,
    changes: Mapping[str, Any],
    *,
    scope: Scope = EVERYTHING,
    may_reassign: bool = False,
) -> Account:
    """Segment, tier, region, industry, and (admins only) the owner."""
    account = session.get(Account, account_id)
    if account is None or not scope.allows(account_id):
        raise DirectoryError([f"there is no account #{account_id}"])
    problems = []
    for name, value in changes.items():
        if name == "owner":
            if not may_reassign and value != account.owner:
                problems.append("owner: only admins assign accounts to managers")
            elif len(str(value)) > 200:
                problems.append("owner: longer than 200 characters")
        elif name in ACCOUNT_FIELDS:
            if len(str(value)) > ACCOUNT_FIELDS[name]:
                problems.append(f"{name}: longer than {ACCOUNT_FIELDS[name]} characters")
        else:
            problems.append(f"{name}: cannot be changed here")
    if problems:
        raise DirectoryError(problems)
    for name, value in changes.items():
        setattr(account, name, str(value).strip())
    session.add(account)
    session.flush()
    return account


def update_contacts(
    session: Session, account_id: int, rows: list[Mapping[str, Any]], *, scope: Scope = EVERYTHING
) -> int:
    """Name, role, buying influence and language of an account's contacts; all or none."""
    if not scope.allows(account_id) or session.get(Account, account_id) is None:
        raise DirectoryError([f"there is no account #{account_id}"])
    problems: list[str] = []
    checked: list[tuple[Contact, dict[str, Any]]] = []
    for row in rows:
        contact = session.get(Contact, int(row["id"]))
        if contact is None or contact.account_id != account_id:
            problems.append(f"contact #{row['id']}: not a contact of this account")
            continue
        label = contact.email
        role, language = str(row.get("role", contact.role)), str(row.get("language", contact.language))
        try:
            influence = float(row.get("buying_influence", contact.buying_influence))
        except (TypeError, ValueError):
            influence = -1.0
        if role not in CONTACT_ROLES:
            problems.append(f"{label}: role '{role}' is not one of {', '.join(CONTACT_ROLES)}")
        if language not in LANGUAGES:
            problems.append(f"{label}: language '{language}' is not one of {', '.join(LANGUAGES)}")
        if not 0 <= influence <= 1:
            problems.append(f"{label}: buying influence must be between 0 and 1")
        name = str(row.get("name", contact.name) or "").strip()
        if len(name) > 200:
            problems.append(f"{label}: name longer than 200 characters")
        checked.append(
            (contact, {"name": name, "role": role, "language": language, "buying_influence": influence})
        )
    if problems:
        raise DirectoryError(problems)
    for contact, values in checked:
        for name, value in values.items():
            setattr(contact, name, value)
        session.add(contact)
    session.flush()
    return len(checked)
