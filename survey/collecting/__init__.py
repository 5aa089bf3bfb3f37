"""Collecting answers: survey links, drafts and the one submit transaction."""
