"""Domain logic of Relationship Pulse: instrument, scoring, invitations, responses, demo data.

Nothing in this package imports Streamlit; pages and the command line both call it.
"""
