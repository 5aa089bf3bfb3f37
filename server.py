"""The server: the Streamlit app (app.py) and the HTTP API (survey/api/routes.py) in one process.

Run it with ``streamlit run server.py`` (``make run`` does). ``app.py`` stays the plain
Streamlit script. Every response carries the headers of ``survey/api/middleware.py``.
"""

import streamlit as st
from starlette.middleware import Middleware

from models.settings import get_settings
from survey.api.middleware import SecurityHeaders
from survey.api.routes import routes
from survey.operations.startup import prepare_database, seed_demo_if_empty

# Ready before the first request: a CRM may call the API before anyone opens a page.
prepare_database()
if get_settings().demo_data:
    seed_demo_if_empty()

app = st.App("app.py", routes=routes, middleware=[Middleware(SecurityHeaders)])
