"""The HTTP API for CRMs, help desks and BI tools, served beside the app (see server.py).

Routes are plain Starlette endpoints; their database work runs in Starlette's thread pool,
off the event loop. Keys see every account: they belong to systems, not to people.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as date_type
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from models.db import default_engine, session_scope
from models.settings import get_settings
from models.tables import CONTACT_ROLES, Account, Contact, Interaction, Invitation
from survey.collecting.invitations import InviteError, invite_recorded, record_interaction
from survey.exports.api import responses_page
from survey.exports.rows import ExportError
from survey.people.access import EVERYTHING
from survey.people.apikeys import check_key
from survey.reporting.filters import Filters
from survey.sending.delivery import send_invitation
from survey.sending.mailer import MailSettings
from survey.sending.rules import not_invited_because

MAX_BODY = 64 * 1024
# Tries at storing an interaction whose new account or contact another request creates at once.
ATTEMPTS = 3


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str = Field(default="", max_length=200)
    role: str = Field(default="user", pattern="^(" + "|".join(CONTACT_ROLES) + ")$")
    language: str = Field(default="en", pattern="^(en|de)$")


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    external_id: str | None = Field(default=None, min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


class AccountRef(BaseModel):
    """An existing account, by its id, its CRM id or its name (the first one given)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: int | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=200)

    def resolve(self, session: Session) -> int:
        from survey.accounts.actions import ActionError

        if self.id is not None:
            return self.id
        for column, value in ((Account.external_id, self.external_id), (Account.name, self.name)):
            if value is not None:
                found = session.exec(select(Account.id).where(column == value)).first()
                if found is not None:
                    return int(found)
        raise ActionError("no account matches account.id, account.external_id or account.name")


class InteractionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    crm_interaction_id: str = Field(min_length=1, max_length=100)
    account: AccountIn
    contact: ContactIn
    touchpoint: str = Field(min_length=1, max_length=100)
    occurred_at: datetime


def _engine(request: Request) -> Engine:
    return getattr(request.app.state, "engine", None) or default_engine()


def _unauthorised() -> JSONResponse:
    return JSONResponse(
        {"error": "a valid API key is required: Authorization: Bearer <key>"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _authorised(request: Request, session: Session) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    return scheme.lower() == "bearer" and check_key(session, key.strip(), now=datetime.now(UTC)) is not None


def _problems(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]} for e in error.errors()
    ]


def healthz(request: Request) -> JSONResponse:
    try:
        with _engine(request).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not healthy"
        return JSONResponse({"status": "unavailable", "error": type(error).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})


async def post_interaction(request: Request) -> JSONResponse:
    body = await request.body()
    # The database work runs in the thread pool, off the event loop.
    return await run_in_threadpool(_post_interaction, request, body)


def _post_interaction(request: Request, body: bytes) -> JSONResponse:
    """Record a CRM interaction and invite its contact; a repeated CRM id changes nothing."""
    with session_scope(_engine(request)) as session:
        if not _authorised(request, session):
            return _unauthorised()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": f"the body is larger than {MAX_BODY} bytes"}, status_code=413)
    try:
        data = InteractionIn.model_validate_json(body)
    except ValidationError as error:
        return JSONResponse({"error": "the body is not valid", "problems": _problems(error)}, status_code=422)
    if data.occurred_at.tzinfo is None:
        problem = {"field": "occurred_at", "problem": "needs a time zone, e.g. 2026-11-20T09:30:00Z"}
        return JSONResponse({"error": "the body is not valid", "problems": [problem]}, status_code=422)
    existing = _existing(request, data.crm_interaction_id)
    if existing is not None:
        return JSONResponse(existing, status_code=200)
    settings = get_settings()
    now = datetime.now(UTC)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with session_scope(_engine(request)) as session:
                recorded = record_interaction(
                    session,
                    account_name=data.account.name,
                    account_external_id=data.account.external_id,
                    contact_email=str(data.contact.email),
                    contact_name=data.contact.name,
                    contact_role=data.contact.role,
                    language=data.contact.language,
                    touchpoint=data.touchpoint,
                    occurred_at=data.occurred_at,
                    interaction_external_id=data.crm_interaction_id,
                    now=now,
                )
                # Requests for the same contact take turns from here to the commit, so that two
                # interactions arriving at once (at different replicas, too) invite the contact
                # once. NO KEY UPDATE: the interaction just stored holds a KEY SHARE lock on the
                # contact, which a plain FOR UPDATE would wait for, and deadlock.
                session.exec(
                    select(Contact.id)
                    .where(Contact.id == recorded.contact.id)
                    .with_for_update(key_share=True)
                ).one()
                reason = not_invited_because(session, recorded.contact, now, settings.fatigue_days)
                result = None
                if reason is None:
                    result = invite_recorded(
                        session,
                        recorded,
                        now=now,
                        base_url=settings.base_url,
                        valid_days=settings.link_valid_days,
                    )
                interaction_id = recorded.interaction.id
            break
        except InviteError as error:
            return JSONResponse(
                {
                    "error": "the body is not valid",
                    "problems": [{"field": error.field, "problem": str(error)}],
                },
                status_code=422,
            )
        except IntegrityError:
            # The same CRM id sent twice at once: the other request stored it; answer as a replay.
            existing = _existing(request, data.crm_interaction_id)
            if existing is not None:
                return JSONResponse(existing, status_code=200)
            # Another interaction created this one's new account or contact at the same instant;
            # the next attempt finds them.
            if attempt == ATTEMPTS:
                raise
    if result is None:
        body = {"interaction_id": interaction_id, "invitation_id": None, "link": None, "status": "recorded"}
        return JSONResponse(body | {"not_invited": reason}, status_code=201)
    # Sent after the interaction is stored: a slow mail server never holds a transaction open.
    with session_scope(_engine(request)) as session:
        sent = send_invitation(
            session, result.invitation_id, result.link, now=now, mail=MailSettings.from_env()
        )
    return JSONResponse(
        {
            "interaction_id": result.interaction_id,
            "invitation_id": result.invitation_id,
            "link": result.link,
            "status": "created",
            "email": sent.status,
        },
        status_code=201,
    )


def _existing(request: Request, crm_id: str) -> dict[str, Any] | None:
    with session_scope(_engine(request)) as session:
        row = session.exec(
            select(Interaction.id, Invitation.id)
            .outerjoin(Invitation, Invitation.interaction_id == Interaction.id)
            .where(Interaction.external_id == crm_id)
        ).first()
    if row is None:
        return None
    # The link is shown once, when it is created: only its hash is stored.
    return {"interaction_id": row[0], "invitation_id": row[1], "link": None, "status": "exists"}


def get_responses(request: Request) -> JSONResponse:
    """Responses as paged JSON with a cursor for incremental pulls (the export's columns)."""
    with session_scope(_engine(request)) as session:
        if not _authorised(request, session):
            return _unauthorised()
        query = request.query_params
        try:
            limit = int(query.get("limit", "500"))
        except ValueError:
            return JSONResponse({"error": "limit must be a whole number"}, status_code=400)
        filters = Filters(
            start=query.get("start") or None,
            end=query.get("end") or None,
            segments=tuple(query.getlist("segment")),
            account_ids=tuple(int(a) for a in query.getlist("account") if a.isdigit()),
        )
        try:
            page = responses_page(
                session, filters=filters, scope=EVERYTHING, cursor=query.get("cursor"), limit=limit
            )
        except ExportError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse(page.as_json_dict())


# --- The action log (survey/accounts/actions.py) -----------------------------------------


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    account: AccountRef
    type: str = Field(min_length=1, max_length=40)
    date: date_type
    owner: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=2000)
    follow_up_id: int | None = None


async def post_action(request: Request) -> JSONResponse:
    body = await request.body()
    return await run_in_threadpool(_post_action, request, body)


def _post_action(request: Request, body: bytes) -> JSONResponse:
    """Record an action in an account's log (a CRM reporting a business review, say)."""
    from survey.accounts.actions import ActionError, list_actions, record_action

    with session_scope(_engine(request)) as session:
        if not _authorised(request, session):
            return _unauthorised()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": f"the body is larger than {MAX_BODY} bytes"}, status_code=413)
    try:
        data = ActionIn.model_validate_json(body)
    except ValidationError as error:
        return JSONResponse({"error": "the body is not valid", "problems": _problems(error)}, status_code=422)
    try:
        with session_scope(_engine(request)) as session:
            account_id = data.account.resolve(session)
            action = record_action(
                session,
                account_id=account_id,
                kind=data.type,
                occurred_on=data.date,
                owner=data.owner,
                note=data.note,
                follow_up_id=data.follow_up_id,
                recorded_by="api",
                now=datetime.now(UTC),
            )
            row = next(r for r in list_actions(session, account_id=account_id) if r.id == action.id)
            result = row.as_json()
    except ActionError as error:
        problem = {"field": "body", "problem": str(error)}
        return JSONResponse({"error": "the action was not recorded", "problems": [problem]}, status_code=422)
    return JSONResponse(result, status_code=201)


def get_actions(request: Request) -> JSONResponse:
    """The action log, newest first; ``?account=ID`` for one account."""
    from survey.accounts.actions import list_actions

    with session_scope(_engine(request)) as session:
        if not _authorised(request, session):
            return _unauthorised()
        account = request.query_params.get("account")
        if account is not None and not account.isdigit():
            return JSONResponse({"error": "account must be an account id (a whole number)"}, status_code=400)
        rows = list_actions(session, account_id=None if account is None else int(account))
        return JSONResponse({"actions": [row.as_json() for row in rows]})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/api/v1/actions", post_action, methods=["POST"]),
    Route("/api/v1/actions", get_actions, methods=["GET"]),
    Route("/api/v1/interactions", post_interaction, methods=["POST"]),
    Route("/api/v1/responses", get_responses, methods=["GET"]),
]
