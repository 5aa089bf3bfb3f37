"""Instrument quality reports, fitted once per refit round and kept.

Fitting the factor models (``report.quality_report``) takes seconds on a large base. A report
is kept per database, first month and refit round of the newest response
(``responses.refit_round``): it is fitted again once responses have grown by 1% of what it
rests on, or when someone asks (``forget``). The server fits the page's default, every month,
as it starts (``survey.operations.warming``); a page opened while a fit of the same report runs
waits for that fit instead of starting another.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from survey.quality.report import QualityReport, quality_report
from survey.quality.responses import refit_round
from survey.reporting import cache

# Reports kept at once: a few first months are looked at, and a fit holds only summaries.
MAX_FITS = 8


@dataclass(frozen=True)
class Fitted:
    report: QualityReport
    at: datetime  # when the models were fitted


_fits: OrderedDict[tuple[object, ...], Fitted] = OrderedDict()
_lock = threading.Lock()


def fitted_report(session: Session, since: date | None, *, now: datetime) -> Fitted:
    """The quality report of responses submitted from ``since`` on (``None``: every month), as
    kept for the newest response's refit round, or fitted now (``now`` is then its time)."""
    key = ("quality", cache.database(session), since, refit_round(cache.newest_response_id(session)))
    with cache.gate(key):
        with _lock:
            found = _fits.get(key)
            if found is not None:
                _fits.move_to_end(key)
                return found
        fitted = Fitted(quality_report(session, since=since), now)
        with _lock:
            _fits[key] = fitted
            while len(_fits) > MAX_FITS:
                _fits.popitem(last=False)
        return fitted


def forget() -> None:
    """Forget every kept report: the next read fits the models again."""
    with _lock:
        _fits.clear()
