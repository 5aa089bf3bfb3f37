"""Running the app: preparing the database at start, backups and checked restores, and the
concurrency drills (many respondents, one link raced, CRM clients at once)."""
