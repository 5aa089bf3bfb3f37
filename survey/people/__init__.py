"""People and access: users, roles, API keys, the audit trail and privacy requests."""
