"""Moves this process's clock ahead when ``PULSE_TEST_CLOCK_SHIFT_DAYS`` is set.

``make test-future`` puts this folder on ``PYTHONPATH``, so the test run and every process it
starts (the server, the command line) live the same number of days in the future: a test that
only passes near the day it was written fails there. The monotonic clock is left alone.
"""

import os

_SHIFT = os.environ.get("PULSE_TEST_CLOCK_SHIFT_DAYS")
if _SHIFT:
    from datetime import UTC, datetime, timedelta

    import time_machine

    time_machine.travel(datetime.now(UTC) + timedelta(days=int(_SHIFT)), tick=True).start()
