"""What every benchmark prints and measures with: progress lines, timings, peak memory.

Kept apart from ``bench.base`` (the synthetic base and its builder) so that a measured child
process imports only what it measures: ``bench.base`` loads the demo data and, through it,
the statistics libraries, over 100 MB that an export never needs.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextmanager
def timed(label: str, laps: dict[str, float] | None = None) -> Iterator[None]:
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    if laps is not None:
        laps[label] = laps.get(label, 0.0) + elapsed
    else:
        log(f"{label}: {elapsed:.1f} s")


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def normalised_url(url: str) -> str:
    # Like the tests: a bare postgresql:// URL means psycopg 3, the driver installed here.
    return (
        url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    )
