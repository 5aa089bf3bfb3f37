"""Accounts seen whole: their contacts, their history, and keeping them right."""
