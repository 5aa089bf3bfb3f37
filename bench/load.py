"""Benchmark: concurrent respondents through the survey page's own submit path, and
concurrent CRM clients through the webhook of running servers.

    .venv/bin/python -m bench.load [--clients 32] [--webhook-clients 16] [--webhook-rounds 8]
                                   [--no-webhook] [--postgres URL]

Cases, each ending in one line
``case=<name> clients=<n> sent=<n> stored=<n> duplicates=<n> errors=<n> p50_ms=<x> p99_ms=<x> per_s=<x>``:

* ``respondents`` — each client opens its own link, saves two drafts and submits, all at once,
  on the app's SQLite settings (WAL, ``synchronous=NORMAL``, busy timeout 5 s); the times
  are those of the submit transaction. All 32 start in the same instant: the worst case.
* ``respondents-paced`` — the same 32 respondents, each pausing a random 0-1 s (seeded) before
  each of its three saves, as people reading a page do: all of them are answering within the
  same two seconds, a rate of about 20 submissions a second.
* ``naive`` — the respondents case on SQLite's defaults (rollback journal, no busy timeout),
  the baseline the settings are measured against; the line ends with how many submissions
  each lost (naive:ours).
* ``submit-write`` — one respondent after another (no concurrency) on the app's SQLite
  settings; the times are those of each submit's write transaction alone: from its first write
  statement (the claim of the link, which takes SQLite's write lock) until its commit returns.
  All 32 burst respondents queue behind this, so the burst's p99 is about 32 of these.
* ``race`` — one link submitted by 10 threads at the same instant: exactly one response
  may be stored; the others are told it was already answered.
* ``webhook`` — ``streamlit run server.py`` on a SQLite file, and 16 CRM clients (threads with
  their own HTTP connection) posting interactions to ``/api/v1/interactions`` in 8 rounds, all
  16 in the same instant each round. In each round two clients post the same CRM interaction
  id, so every id is replayed concurrently, and the round's ids belong to two accounts new in
  that round, so each new account is created by four ids at once. ``sent`` counts distinct
  CRM ids, ``stored`` the interaction rows with those ids in the database afterwards,
  ``duplicates`` extra interaction or invitation rows per id, ``errors`` answers other than
  2xx and failed requests; the times are those of each request, ``per_s`` requests a second.
  The line ends with ``lost_invitations`` (ids without an invitation).
* ``respondents-postgresql`` — the respondents case on ``--postgres URL``.
* ``webhook-replicas`` — the webhook case against two servers on different ports sharing the
  PostgreSQL database of ``--postgres URL``; the two posts of each id go to different servers.

The servers get ``PULSE_DEMO_DATA=0`` and an outbox folder in a temporary directory, and no
``PULSE_SMTP_*`` variables: no mail leaves (an ``[smtp]`` host in ``.streamlit/secrets.toml``
stops the webhook cases). They are stopped at the end of their case, also after an error.
A webhook case fails the run (exit status 1, after all lines are printed) when a CRM id is not
stored with exactly one invitation, when the answers for an id do not name that invitation
(one ``created``, the others ``exists``), or on any error.

``--postgres URL`` names a database that this benchmark drops and creates again, through the
server's ``postgres`` database (or ``test`` where that is missing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from survey.operations.drills import (
    Outcome,
    fresh_postgres,
    fresh_sqlite,
    race,
    respondents,
    servers,
    webhook,
    write_transactions,
)


def main(argv: list[str] | None = None) -> list[Outcome]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--webhook-clients", type=int, default=16)
    parser.add_argument("--webhook-rounds", type=int, default=8, help="CRM ids each pair of clients posts")
    parser.add_argument("--write-submits", type=int, default=100, help="submits timed one at a time")
    parser.add_argument("--no-webhook", action="store_true", help="skip the cases that start servers")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL database to drop, create and use")
    args = parser.parse_args(argv)
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        ours = respondents(fresh_sqlite(Path(folder), "ours.db"), args.clients, "respondents")
        paced = respondents(fresh_sqlite(Path(folder), "paced.db"), args.clients, "respondents-paced", 1.0)
        naive_engine = fresh_sqlite(Path(folder), "naive.db", naive=True)
        with naive_engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=DELETE")
        naive = respondents(naive_engine, args.clients, "naive")
        writing = write_transactions(fresh_sqlite(Path(folder), "write.db"), args.write_submits)
        raced = race(fresh_sqlite(Path(folder), "race.db"))
        outcomes += [ours, paced, naive, writing, raced]
        print(ours.line(), flush=True)
        print(paced.line(), flush=True)
        print(naive.line(f" lost_vs_ours={naive.sent - naive.stored}:{ours.sent - ours.stored}"), flush=True)
        print(writing.line(), flush=True)
        print(raced.line(), flush=True)
        if not args.no_webhook:
            url = f"sqlite:///{Path(folder) / 'webhook.db'}"
            engine = fresh_sqlite(Path(folder), "webhook.db")
            with servers(url, 1, Path(folder)) as bases:
                hooked = webhook(engine, bases, "webhook", args.webhook_clients, args.webhook_rounds)
            engine.dispose()
            outcomes.append(hooked)
            print(hooked.line(), flush=True)
        if args.postgres:
            pg = respondents(fresh_postgres(args.postgres), args.clients, "respondents-postgresql")
            outcomes.append(pg)
            print(pg.line(), flush=True)
            if not args.no_webhook:
                engine = fresh_postgres(args.postgres)
                with servers(args.postgres, 2, Path(folder)) as bases:
                    replicas = webhook(
                        engine, bases, "webhook-replicas", args.webhook_clients, args.webhook_rounds
                    )
                engine.dispose()
                outcomes.append(replicas)
                print(replicas.line(), flush=True)
    return outcomes


if __name__ == "__main__":
    failed = [
        f"case={outcome.name}: {problem}" for outcome in main(sys.argv[1:]) for problem in outcome.problems
    ]
    if failed:
        sys.exit("\n".join(failed))
