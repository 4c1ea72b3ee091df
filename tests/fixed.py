"""Time and chance held still, so that decisions give exact values in tests.

``FixedRandom`` is a random source whose every draw is one chosen number (a fake, not a
mock: the code under test calls ``random()`` as it does on ``random.Random``); ``frozen``
is a clock that always tells the same time.
"""

import random
from datetime import datetime

from feedsvc.text import Clock

MIDDLE = 0.5  # the draw that puts jitter of ±x% at 0, and jitter of +x% at half of it


class FixedRandom(random.Random):
    def __init__(self, draw: float = MIDDLE) -> None:
        super().__init__(0)
        self.draw = draw

    def random(self) -> float:
        return self.draw


def frozen(now: datetime) -> Clock:
    return lambda: now
