"""Reading ahead while writing: same chunks, same order, errors surface, stopping early is clean."""

import threading

import pytest

from survey.exports.prefetch import prefetched


def test_chunks_arrive_in_order():
    assert list(prefetched(iter(range(50)), depth=2)) == list(range(50))


def test_a_reading_error_reaches_the_writer():
    def chunks():
        yield 1
        raise ValueError("database went away")

    got = []
    with pytest.raises(ValueError, match="database went away"):
        got.extend(prefetched(chunks()))
    assert got == [1]


def test_a_writer_that_stops_early_closes_the_reader():
    closed = threading.Event()

    def chunks():
        try:
            yield from range(1000)
        finally:
            closed.set()

    stream = prefetched(chunks(), depth=1)
    assert next(stream) == 0
    stream.close()
    assert closed.wait(5)
