"""The load benchmark's cases, small: nothing lost, nothing stored twice (not a timing test)."""

from pathlib import Path

from survey.operations.drills import fresh_sqlite, race, respondents


def test_concurrent_respondents_are_all_stored_once(tmp_path: Path):
    outcome = respondents(fresh_sqlite(tmp_path, "load.db"), 8, "respondents")
    assert (outcome.sent, outcome.stored, outcome.duplicates, outcome.errors) == (8, 8, 0, 0)


def test_one_link_raced_from_ten_threads_stores_one_response(tmp_path: Path):
    outcome = race(fresh_sqlite(tmp_path, "race.db"))
    assert (outcome.stored, outcome.errors) == (1, 0)
