"""Sending invitations and reminders by email, and where each invitation stands."""
