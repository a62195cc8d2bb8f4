"""A shard's events, from the worker that runs it to the controller's listeners, while it runs.

Through a Dask `Queue` (held by the scheduler; distributed.queues): each put is acknowledged,
so nothing is dropped, and one worker's puts arrive in the order they were made, so each host's
events reach the listeners in order. The engine's emits only append to a buffer; a thread puts
the buffer every `INTERVAL` as one message (a pickled list of events: the queue carries
msgpack, the events are dataclasses), so SSH work never waits on the scheduler."""

from __future__ import annotations

import pickle
import threading
from typing import Any

from orchestrator.events import Event, Listener, PlayStarted

INTERVAL = 0.1  # seconds between a worker's puts


class Sender:
    """The listener of a shard's `run_play` on the worker: events onto `queue`."""

    def __init__(self, queue: Any, interval: float = INTERVAL):
        self.queue = queue
        self.interval = interval
        self.buffer: list[Event] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="orc-events", daemon=True)
        self.thread.start()

    def __call__(self, event: Event) -> None:
        with self.lock:
            self.buffer.append(event)

    def close(self) -> None:
        """Put what is left; when it returns, every event emitted is in the queue."""
        self.stopping.set()
        self.thread.join()
        self._flush()

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self._flush()

    def _flush(self) -> None:
        with self.lock:
            batch, self.buffer = self.buffer, []
        if batch:
            try:
                self.queue.put(pickle.dumps(batch))
            except Exception:  # noqa: BLE001 - a listener never raises: the run goes on
                pass


def receive(queue: Any, emit: Listener, wait: float | None = None) -> None:
    """Pass what `queue` holds to `emit`, in order, first waiting up to `wait` seconds for
    something to arrive (None: only what is there). A shard's `PlayStarted` is dropped: the
    controller says once that the play starts on the whole wave."""
    blobs = []
    if wait:
        try:
            blobs.append(queue.get(timeout=wait))
        except TimeoutError:
            return
    blobs += queue.get(batch=True)
    for blob in blobs:
        for event in pickle.loads(blob):  # from the cluster's own workers (see README: TLS)
            if not isinstance(event, PlayStarted):
                emit(event)
