"""Where each invitation stands, and response rates: what the Invitations page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import Account, Contact, Delivery, Interaction, Invitation, OptOut, Response, Touchpoint
from survey.instrument.forms import FORM_LABELS
from survey.people.access import EVERYTHING, Scope
from survey.people.privacy import ANONYMOUS

STATUSES = (
    "completed",
    "started",
    "opened",
    "sent",
    "failed",
    "bounced",
    "not sent",
    "scheduled",
    "created",
    "expired",
)


def status_of(
    *,
    completed: datetime | None,
    started: datetime | None,
    opened: datetime | None,
    expires: datetime,
    delivery: str | None,
    now: datetime,
    send_after: datetime | None = None,
) -> str:
    """The furthest step an invitation reached; an unanswered link past its date is expired;
    one held back by its touchpoint's survey delay is scheduled until it goes out."""
    if completed is not None:
        return "completed"
    if delivery == "bounced":
        return "bounced"
    if expires <= now:
        return "expired"
    if started is not None:
        return "started"
    if opened is not None:
        return "opened"
    if delivery in ("sent", "outbox"):
        return "sent"
    if delivery == "failed":
        return "failed"
    if delivery == "bounced":
        return "bounced"
    if delivery == "skipped":
        return "not sent"
    if send_after is not None:
        return "scheduled"
    return "created"


@dataclass(frozen=True)
class InvitationReport:
    invitations: pd.DataFrame  # one row per invitation, newest first
    by_touchpoint: pd.DataFrame
    by_account: pd.DataFrame
    by_manager: pd.DataFrame
    median_hours_to_response: float | None
    funnel: pd.DataFrame  # sent -> clicked -> completed, by form and touchpoint
    # Of the invitations shown: the share that bounced, and the share of contacts invited who
    # have since opted out (with the counts they come from).
    bounced: int = 0
    opted_out: int = 0
    contacts: int = 0

    @property
    def bounce_rate(self) -> float | None:
        return self.bounced / len(self.invitations) if len(self.invitations) else None

    @property
    def opt_out_rate(self) -> float | None:
        return self.opted_out / self.contacts if self.contacts else None


def funnel(frame: pd.DataFrame) -> pd.DataFrame:
    """Sent -> clicked -> completed by form and touchpoint. *Sent* counts invitations whose
    email went out (or that got further); *clicked* those whose link was opened in a browser
    that ran the survey page (a mail scanner that only fetches the link does not count, and
    nothing it does is stored as an answer); *completed* those submitted."""
    columns = ["form", "touchpoint", "sent", "clicked", "completed", "click rate", "completion rate"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    steps = frame.assign(
        sent=frame["status"].isin(("sent", "opened", "started", "completed")) | frame["was_sent"],
        clicked=frame["clicked"],
        completed=frame["status"] == "completed",
    )
    table = steps.groupby(["form", "touchpoint"])[["sent", "clicked", "completed"]].sum().astype(int)
    table = table.reset_index()
    sent = table["sent"].where(table["sent"] > 0)
    table["click rate"] = table["clicked"] / sent
    table["completion rate"] = table["completed"] / sent
    return table[columns].sort_values(["form", "touchpoint"]).reset_index(drop=True)


def _rates(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    grouped = frame.groupby(by, dropna=False)
    table = pd.DataFrame(
        {
            "invited": grouped.size(),
            "completed": grouped["status"].apply(lambda s: int((s == "completed").sum())),
        }
    )
    table["response rate"] = table["completed"] / table["invited"]
    return table.reset_index().sort_values("response rate")


def report(
    session: Session, *, now: datetime, scope: Scope = EVERYTHING, limit: int = 5000
) -> InvitationReport:
    """Statuses of the newest ``limit`` invitations the reader may see, and their rates."""
    rows = session.exec(
        select(  # type: ignore[call-overload,misc]  # sqlmodel types select() for at most four columns
            Invitation.id,
            Invitation.created_at,
            Invitation.expires_at,
            Invitation.opened_at,
            Invitation.started_at,
            Invitation.completed_at,
            Invitation.form,
            Invitation.sent_at,
            Invitation.send_after,
            Delivery.status,
            Delivery.detail,
            Delivery.reminded_at,
            Account.name,
            Account.owner,
            Touchpoint.name,
            Contact.email,
            Interaction.occurred_at,
            Response.submitted_at,
            OptOut.email,
            Response.anonymous,
        )
        .join(Interaction, Interaction.id == Invitation.interaction_id)
        .join(Account, Account.id == Interaction.account_id)
        .join(Touchpoint, Touchpoint.id == Interaction.touchpoint_id)
        .join(Contact, Contact.id == Invitation.contact_id)
        .outerjoin(Delivery, Delivery.invitation_id == Invitation.id)
        .outerjoin(Response, Response.invitation_id == Invitation.id)
        .outerjoin(OptOut, OptOut.email == func.lower(Contact.email))
        # ``+ 0``: the newest invitations are found by walking their ids down and keeping the
        # reader's; an index on the account would have SQLite read every one of the accounts'
        # interactions first and sort them.
        .where(scope.condition(col(Interaction.account_id) + 0))
        .order_by(col(Invitation.id).desc())
        .limit(limit)
    ).all()
    records = []
    for row in rows:
        (iid, created, expires, opened, started, completed, form, sent_at, send_after) = row[:9]
        delivery, detail, reminded = row[9:12]
        account, owner, touchpoint, email, occurred, submitted, opted_out, anonymous = row[12:]
        hours = (submitted - occurred).total_seconds() / 3600 if submitted else None
        if anonymous:
            # The row of an anonymous answer must not say who answered, nor when (which would
            # match the response's own time), nor which invitation (a CRM knows its contact).
            iid, email, created = None, ANONYMOUS, None
        records.append(
            {
                "invitation": iid,
                "created": created,
                "form": FORM_LABELS.get(form, form),
                "account": account,
                "manager": owner or "—",
                "touchpoint": touchpoint,
                "contact": email,
                "status": status_of(
                    completed=completed,
                    started=started,
                    opened=opened,
                    expires=expires,
                    delivery=delivery,
                    now=now,
                    send_after=send_after,
                ),
                "reminded": reminded is not None,
                "was_sent": sent_at is not None,
                "clicked": opened is not None,
                "problem": detail or "",
                "hours to response": None if anonymous else hours,
                "_hours": hours,
                "opted out": opted_out is not None,
            }
        )
    columns = ["invitation", "created", "form", "account", "manager", "touchpoint", "contact", "status",
               "reminded", "problem", "hours to response"]  # fmt: skip
    facts = pd.DataFrame(records, columns=[*columns, "opted out", "_hours", "was_sent", "clicked"])
    # The median counts anonymous answers too: one number over many says nothing of anyone.
    hours = facts["_hours"].dropna()
    frame = facts[[*columns, "opted out"]].copy()
    frame["invitation"] = frame["invitation"].astype("Int64")
    contacts = frame.drop_duplicates("contact")
    return InvitationReport(
        invitations=frame,
        by_touchpoint=_rates(frame, "touchpoint"),
        by_account=_rates(frame, "account"),
        by_manager=_rates(frame, "manager"),
        median_hours_to_response=float(hours.median()) if len(hours) else None,
        bounced=int((frame["status"] == "bounced").sum()),
        opted_out=int(contacts["opted out"].sum()),
        contacts=len(contacts),
        funnel=funnel(facts),
    )
