"""A database built and filled at the first schema version is upgraded to the newest one
with every row intact (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import MetaData, func, insert, select, text
from sqlmodel import Session, SQLModel

from models.db import alembic_config
from survey.exports import packs
from survey.operations.startup import prepare_database

NOW = datetime(2025, 3, 1, 9, tzinfo=UTC)
INDICATORS = ("satisfaction", "trust", "control_mutuality", "commitment", "mindset", "word_of_mouth")


def fill_at_first_version(connection, tables) -> dict[str, int]:
    def add(table: str, /, **values) -> int:
        return connection.execute(insert(tables[table]).values(**values)).inserted_primary_key[0]

    touchpoint = add("touchpoint", code="delivery", name="Delivery", stage=3, active=True)
    for number in range(3):
        account = add("account", name=f"Acme {number}", segment="Retail", industry="", region="EU", tier="A",
                      owner="maria", created_at=NOW)  # fmt: skip
        contact = add("contact", account_id=account, name=f"Ana {number}", email=f"ana{number}@acme.example",
                      role="buyer", buying_influence=0.7, language="de", created_at=NOW)  # fmt: skip
        interaction = add("interaction", account_id=account, contact_id=contact, touchpoint_id=touchpoint,
                          occurred_at=NOW, channel="email", created_at=NOW)  # fmt: skip
        invitation = add("invitation", interaction_id=interaction, contact_id=contact,
                         token_hash=f"{number:064d}", instrument_version=1, created_at=NOW,
                         expires_at=NOW + timedelta(days=14),
                         completed_at=NOW + timedelta(hours=2))  # fmt: skip
        response = add("response", invitation_id=invitation, interaction_id=interaction, account_id=account,
                       contact_id=contact, touchpoint_id=touchpoint, instrument_version=1, locale="de",
                       started_at=NOW, submitted_at=NOW + timedelta(hours=2), duration_seconds=300, nps=9,
                       nps_category="promoter", comment=f"Danke {number}")  # fmt: skip
        for code, value in (("SAT1", 6), ("TRU1", 5), ("NPS", 9)):
            add("answer", response_id=response, item_code=code, value=value)
        for indicator in INDICATORS:
            add("indicator_score", response_id=response, indicator=indicator, subject="own", score=5.5,
                score_100=75.0, items_answered=3)  # fmt: skip
    return {"account": 3, "contact": 3, "interaction": 3, "invitation": 3, "response": 3, "answer": 9,
            "indicator_score": 18}  # fmt: skip


def snapshot(connection, tables, names) -> dict[str, list[tuple]]:
    rows = {}
    for name in names:
        table = tables[name]
        rows[name] = sorted(tuple(str(v) for v in row) for row in connection.execute(select(*table.columns)))
    return rows


def test_rows_written_at_the_first_migration_survive_every_upgrade(engine):
    # Start from an empty database, then build only the first version of the schema.
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    command.upgrade(alembic_config(engine), "0001")
    old = MetaData()
    old.reflect(engine)
    with engine.begin() as connection:
        expected = fill_at_first_version(connection, old.tables)
        before = snapshot(connection, old.tables, expected)

    prepare_database(engine)

    new = MetaData()
    new.reflect(engine)
    with engine.connect() as connection:
        for name, count in expected.items():
            assert connection.execute(select(func.count()).select_from(new.tables[name])).scalar() == count
            # Every column that existed at the first version holds the same values.
            old_columns = [new.tables[name].c[c.name] for c in old.tables[name].columns]
            after = sorted(tuple(str(v) for v in row) for row in connection.execute(select(*old_columns)))
            assert after == before[name], name
        # New columns got their defaults, and the roll-ups were built from the old responses.
        assert connection.execute(select(new.tables["response"].c.anonymous)).scalars().all() == [False] * 3
        assert connection.execute(select(func.sum(new.tables["score_rollup"].c.n))).scalar() == 18
        # Each old response is packed for exports, from the same answers and scores.
        response = new.tables["response"]
        stored = dict(connection.execute(select(response.c.id, response.c.export_pack)).all())
    with Session(engine) as session:
        assert stored == packs.from_tables(session, sorted(stored))
