"""The server: the Streamlit app (app.py), the HTTP API (survey/api/routes.py), the unsubscribe
links (survey/api/unsubscribe.py) and the outbox worker, in one process.

Run it with ``streamlit run server.py`` (``make run`` does). ``app.py`` stays the plain
Streamlit script. The worker delivers alerts, digests, chat messages and webhook calls while
the app runs; set ``PULSE_WORKER=0`` where ``python -m survey worker`` runs on its own.
Every response carries the headers of ``survey/api/middleware.py``.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from models.db import default_engine
from models.settings import get_settings
from survey.api.middleware import SecurityHeaders
from survey.api.routes import routes
from survey.api.unsubscribe import routes as unsubscribe_routes
from survey.loop.worker import start_in_thread
from survey.operations.startup import prepare_database, say_on_stderr, seed_demo_if_empty, warm_up

# Ready before the first request: a CRM may call the API before anyone opens a page.
prepare_database(say=say_on_stderr)
if get_settings().demo_data:
    seed_demo_if_empty()
warm_up(figures=get_settings().warm_figures)


@asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    settings = get_settings()
    if not settings.worker:
        yield
        return
    thread, stop = start_in_thread(default_engine(), poll=settings.worker_poll_seconds)
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


app = st.App(
    "app.py",
    routes=[*routes, *unsubscribe_routes],
    lifespan=lifespan,
    middleware=[Middleware(SecurityHeaders)],
)
