"""The HTTP API for CRMs, help desks and BI tools, served beside the app (see server.py).

Routes are plain Starlette endpoints; their database work runs in Starlette's thread pool,
off the event loop. Keys see every account: they belong to systems, not to people; each does
only what its scopes allow (survey/people/apikeys.py). A body is never read before its key is
checked, and never past ``MAX_BODY`` bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as date_type
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as SqlSession
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from models.db import default_engine, session_scope
from models.settings import get_settings
from models.tables import CONTACT_ROLES, Account, Contact, Interaction, Invitation
from survey.collecting.invitations import InviteError, invite_recorded, record_interaction
from survey.exports.api import PAGE_DEFAULT, PAGE_MAX, responses_page
from survey.exports.rows import ExportError
from survey.people import audit, limits
from survey.people.access import EVERYTHING
from survey.people.apikeys import READ_RESPONSES, SCOPES, WRITE_INTERACTIONS, check_key, scopes_of
from survey.reporting.filters import Filters
from survey.sending.delivery import invitation_message, send_invitation
from survey.sending.mailer import MailSettings
from survey.sending.rules import not_invited_because

MAX_BODY = 64 * 1024
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
# Tries at storing an interaction whose new account or contact another request creates at once.
ATTEMPTS = 3


class BodyTooLarge(Exception):
    """The request body is (or says it is) larger than allowed."""


async def read_capped(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, read piece by piece and given up on as soon as it passes ``limit`` bytes, so a
    huge body never sits in memory; a ``Content-Length`` above the limit is refused unread."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isascii() or not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def _too_large() -> JSONResponse:
    return JSONResponse({"error": f"the body is larger than {MAX_BODY} bytes"}, status_code=413)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # Checked as one mail address where every interaction enters (record_interaction).
    email: str = Field(min_length=3, max_length=320)
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

    def resolve(self, session: SqlSession) -> int:
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


def _refused(status: int, error: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _authorise(request: Request, scope: str) -> JSONResponse | None:
    """``None`` when the request carries an active key with ``scope``; else the refusal.

    Wrong keys are counted per address in the database (every replica sees the same count)
    and written to the audit log; an address with too many is refused for a while without
    its keys being looked at."""
    now = datetime.now(UTC)
    address = _address(request)
    counted = limits.api_key_address_key(address)
    with session_scope(_engine(request)) as session:
        until = limits.locked_until(session, [counted], now)
        if until is not None:
            wait = max(1, int((until - now).total_seconds()))
            return _refused(
                429, f"too many wrong API keys from {address or 'here'}: try again in {wait} s",
                {"Retry-After": str(wait)},
            )  # fmt: skip
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        key = check_key(session, presented.strip(), now=now) if scheme.lower() == "bearer" else None
        if key is None:
            lock = limits.record_failure(session, counted, now=now, allowed=limits.API_KEY_FAILURES)
            what = "no key" if not presented else "a wrong or revoked key"
            locked = f"; locked until {lock:%Y-%m-%d %H:%M:%S} UTC" if lock else ""
            audit.record(
                session, f"api from {address or 'local'}", "api_key_refused",
                f"{what} at {request.url.path}{locked}", at=now,
            )  # fmt: skip
            return _refused(
                401,
                "a valid API key is required: Authorization: Bearer <key>",
                {"WWW-Authenticate": "Bearer"},
            )
        if scope not in scopes_of(key):
            audit.record(
                session,
                f"api key {key.name}",
                "api_key_refused",
                f"lacks {scope} for {request.url.path}",
                at=now,
            )
            return _refused(403, f"this key may not {SCOPES[scope]}; create a key with the scope {scope}")
    return None


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
    """Refuse an oversized body unread, then check the key, then read the body with a cap:
    nobody without a key makes the server hold, or parse, anything they sent."""
    declared = request.headers.get("content-length", "0")
    if not declared.isascii() or not declared.isdigit() or int(declared) > MAX_BODY:
        return _too_large()
    refused = await run_in_threadpool(_authorise, request, WRITE_INTERACTIONS)
    if refused is not None:
        return refused
    try:
        body = await read_capped(request)
    except BodyTooLarge:
        return _too_large()
    # The database work runs in the thread pool, off the event loop.
    return await run_in_threadpool(_post_interaction, request, body)


def _post_interaction(request: Request, body: bytes) -> JSONResponse:
    """Record a CRM interaction and invite its contact; a repeated CRM id changes nothing."""
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
    mail = MailSettings.from_env()
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
                    # Built before the commit: a mail that cannot be built leaves nothing stored.
                    message = invitation_message(session, result.invitation_id, result.link, mail=mail)
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
        not_invited = {
            "interaction_id": interaction_id,
            "invitation_id": None,
            "link": None,
            "status": "recorded",
        }
        return JSONResponse(not_invited | {"not_invited": reason}, status_code=201)
    # Sent after the interaction is stored: a slow mail server never holds a transaction open.
    with session_scope(_engine(request)) as session:
        sent = send_invitation(
            session, result.invitation_id, result.link, now=now, mail=mail, message=message
        )
    return JSONResponse(
        {
            "interaction_id": result.interaction_id,
            "invitation_id": result.invitation_id,
            "link": result.link or None,
            "status": "created",
            "email": sent.status,
        },
        status_code=201,
    )


def _existing(request: Request, crm_id: str) -> dict[str, Any] | None:
    with session_scope(_engine(request)) as session:
        row = session.exec(
            select(Interaction.id, Invitation.id)
            .outerjoin(Invitation, col(Invitation.interaction_id) == Interaction.id)
            .where(Interaction.external_id == crm_id)
        ).first()
    if row is None:
        return None
    # The link is shown once, when it is created: only its hash is stored.
    return {"interaction_id": row[0], "invitation_id": row[1], "link": None, "status": "exists"}


class ResponsesQuery(BaseModel):
    """The query of ``GET /api/v1/responses``; anything else in it is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX)
    cursor: str | None = Field(default=None, max_length=100)
    start: str | None = Field(default=None, pattern=MONTH)
    end: str | None = Field(default=None, pattern=MONTH)
    segment: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    account: list[Annotated[str, Field(pattern=r"^[0-9]{1,18}$")]] = Field(
        default_factory=list, max_length=200
    )


def get_responses(request: Request) -> JSONResponse:
    """Responses as paged JSON with a cursor for incremental pulls (the export's columns)."""
    refused = _authorise(request, READ_RESPONSES)
    if refused is not None:
        return refused
    params = request.query_params
    raw = {name: params.getlist(name) if name in ("segment", "account") else params[name] for name in params}
    try:
        query = ResponsesQuery.model_validate(raw)
    except ValidationError as error:
        return JSONResponse(
            {"error": "the query is not valid", "problems": _problems(error)}, status_code=422
        )
    filters = Filters(
        start=query.start or None,
        end=query.end or None,
        segments=tuple(query.segment),
        account_ids=tuple(int(a) for a in query.account),
    )
    with session_scope(_engine(request)) as session:
        try:
            page = responses_page(
                session, filters=filters, scope=EVERYTHING, cursor=query.cursor, limit=query.limit
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
    """As ``post_interaction``: an oversized body is refused unread, the key (with the scope to
    write interactions) is checked before the body is read with a cap."""
    declared = request.headers.get("content-length", "0")
    if not declared.isascii() or not declared.isdigit() or int(declared) > MAX_BODY:
        return _too_large()
    refused = await run_in_threadpool(_authorise, request, WRITE_INTERACTIONS)
    if refused is not None:
        return refused
    try:
        body = await read_capped(request)
    except BodyTooLarge:
        return _too_large()
    return await run_in_threadpool(_post_action, request, body)


def _post_action(request: Request, body: bytes) -> JSONResponse:
    """Record an action in an account's log (a CRM reporting a business review, say)."""
    from survey.accounts.actions import ActionError, list_actions, record_action

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

    refused = _authorise(request, READ_RESPONSES)
    if refused is not None:
        return refused
    with session_scope(_engine(request)) as session:
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
