"""The server: the Streamlit app (app.py) and the HTTP API (survey/api.py) in one process.

Run it with ``streamlit run server.py`` (``make run`` does). ``app.py`` stays the plain
Streamlit script.
"""

import streamlit as st

from survey.api import routes

app = st.App("app.py", routes=routes)
