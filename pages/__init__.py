"""The app's pages. Files here are pages only where app.py lists them in st.navigation."""
