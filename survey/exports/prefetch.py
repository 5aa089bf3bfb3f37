"""Read the next chunk while the current one is written.

The database driver and Arrow's writers release the GIL, so on two cores reading and writing
overlap. The reading thread is the only one that touches the session while it runs; at most
``depth`` chunks wait in the queue, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(chunks: Iterator[T], depth: int = 2) -> Iterator[T]:
    waiting: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        waiting.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            waiting.put(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="export-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = waiting.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]  # only chunks are left once the markers are handled
    finally:
        stop.set()
        while reader.is_alive():
            try:
                waiting.get(timeout=0.1)
            except queue.Empty:
                continue
        reader.join()
