"""Long requests take turns in a lane of their own, so that a visitor who asks for a few seconds of work never waits
behind one who asked for minutes of it.

Gradio's queue runs a few requests of an event at once (its concurrency limit), first come, first served. A long
request holds its place for its whole run: a handful of them would hold every place while quick ones wait. A
`LongRunLane` lets one long run go at a time, beside the quick ones (with at most `waiting` more waiting for it,
none by default); any more are turned away at once, saying what to ask for instead. The queue's other places stay
free for quick requests.
"""

import threading

from .inputs import Refused


class LongRunLane:
    """One long run at a time; `waiting` more may wait for it (each holds a queue place while it waits). `what` names
    a long run ("long sampling"), `quicker` says what to ask for instead."""

    def __init__(self, what: str, quicker: str, waiting: int = 0):
        self.what, self.quicker = what, quicker
        self.turn = threading.Lock()
        self.places = threading.BoundedSemaphore(1 + waiting)

    def enter(self) -> None:
        """Wait for the lane (a `gr.Error` at once where it is full); call `leave()` when the run ends."""
        if not self.places.acquire(blocking=False):
            raise Refused(
                f"Another visitor's {self.what} is running: {self.quicker} to run now, or try again in a minute."
            )
        self.turn.acquire()

    def leave(self) -> None:
        self.turn.release()
        self.places.release()

    def __enter__(self) -> "LongRunLane":
        self.enter()
        return self

    def __exit__(self, *exc) -> None:
        self.leave()
