"""Running the app: preparing the database at start, backups and checked restores."""
