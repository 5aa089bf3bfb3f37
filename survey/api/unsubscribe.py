"""The unsubscribe link of every invitation (``/email/unsubscribe?t=…``).

* ``POST`` with ``List-Unsubscribe=One-Click`` is the one-click unsubscribe of RFC 8058 that
  mail programs send on the reader's behalf; a ``POST`` from the page's button does the same.
* ``GET`` only shows a page with that button: link scanners open every link in a message, and
  must not unsubscribe anyone by doing so.

The pages are fixed text: nothing the requester sent is echoed back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from models.db import default_engine, session_scope
from survey.sending.optout import UNSUBSCRIBE_PATH, email_of_token, opt_out_by_token

MAX_FORM = 4096

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Relationship Pulse</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; line-height: 1.5; color: #1f2937;">
{body}
</body></html>"""

_CONFIRM = """<h1 style="font-size: 1.3rem;">Stop survey emails?</h1>
<p>This address will get no more feedback surveys from us.
<span lang="de">Diese Adresse erhält keine Umfragen mehr von uns.</span></p>
<form method="post"><button type="submit" name="confirm" value="1"
 style="padding: 0.6rem 1rem; background: #0072B2; color: #fff; border: 0; border-radius: 0.3rem;">
Unsubscribe · Abmelden</button></form>"""

_DONE = """<h1 style="font-size: 1.3rem;">You are unsubscribed</h1>
<p>This address gets no more survey emails from us. <span lang="de">Sie sind abgemeldet: diese
Adresse erhält keine Umfrage-E-Mails mehr von uns.</span></p>"""

_UNKNOWN = """<h1 style="font-size: 1.3rem;">This link does not work</h1>
<p>The unsubscribe link is incomplete or unknown. Please use the link from the email as it is.
<span lang="de">Der Abmeldelink ist unvollständig oder unbekannt.</span></p>"""


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(body=body),
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _engine(request: Request):  # noqa: ANN202 - an Engine
    return getattr(request.app.state, "engine", None) or default_engine()


def _known(request: Request, token: str | None) -> bool:
    with session_scope(_engine(request)) as session:
        return email_of_token(session, token) is not None


def _unsubscribe(request: Request, token: str | None, source: str) -> bool:
    with session_scope(_engine(request)) as session:
        return opt_out_by_token(session, token, source=source, now=datetime.now(UTC))


async def show(request: Request) -> HTMLResponse:
    known = await run_in_threadpool(_known, request, request.query_params.get("t"))
    return _page(_CONFIRM) if known else _page(_UNKNOWN, 404)


async def unsubscribe(request: Request) -> HTMLResponse:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return _page(_UNKNOWN, 413)
    one_click = b"List-Unsubscribe=One-Click" in body
    done = await run_in_threadpool(
        _unsubscribe, request, request.query_params.get("t"), "one-click" if one_click else "link"
    )
    return _page(_DONE) if done else _page(_UNKNOWN, 404)


routes = [
    Route(UNSUBSCRIBE_PATH, show, methods=["GET"]),
    Route(UNSUBSCRIBE_PATH, unsubscribe, methods=["POST"]),
]
