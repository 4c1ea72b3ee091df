"""Waiting in tests for what another thread or process does: one polling loop for all."""

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], seconds: float = 15, every: float = 0.05) -> bool:
    """Whether ``condition()`` became true within ``seconds`` (polled every ``every``
    seconds). A condition may raise (an assert that a process still runs) to stop early."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True
