"""The worker's notification jobs: announce newly visible articles, send due deliveries.

No transaction is open while receivers are called: attempts are claimed (with a lease),
sent concurrently, then recorded a group at a time. A worker killed in between leaves its
claimed deliveries due again when the lease ends; they are sent again with the same message
id. Every job stops between two claims once its ``stopping`` event is set. Each reads the
time from ``clock`` (the scheduler's: ``utcnow``; a test's: a fixed time).
"""

import logging
import queue
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from feedsvc.db import Database
from feedsvc.notify.channels import CHANNELS, breaker_of, lane_of
from feedsvc.notify.hub import claim_intents, record_verification, verify_subscriber_intent
from feedsvc.notify.mail.digests import queue_digests
from feedsvc.notify.outbox import (
    Held,
    announce_due,
    claim_deliveries,
    lease_seconds,
    record_attempts,
    reschedule,
)
from feedsvc.notify.rows import BATCH_ROUNDS, Attempt, AttemptResult, Lane
from feedsvc.outbound import delivery_client
from feedsvc.settings import Settings
from feedsvc.text import Clock, utcnow

log = logging.getLogger(__name__)


def _in_batches(
    database: Database, step: Callable[[Session], int], stopping: threading.Event | None
) -> int:
    """Run ``step`` in one transaction after another until it does nothing (or ``stopping``
    is set); the total."""
    total = 0
    while not (stopping and stopping.is_set()):
        with database.transaction() as session:
            count = step(session)
        if not count:
            break
        total += count
    return total


def announce_new_articles(
    database: Database,
    settings: Settings,
    *,
    clock: Clock = utcnow,
    stopping: threading.Event | None = None,
) -> int:
    """Make the deliveries of every visible, unannounced article; returns how many."""
    count = _in_batches(
        database, lambda session: announce_due(session, settings, clock()), stopping
    )
    if count:
        log.info("announced %d new article(s) to their subscribers", count)
    return count


def queue_daily_digests(
    database: Database,
    settings: Settings,
    *,
    clock: Clock = utcnow,
    stopping: threading.Event | None = None,
) -> int:
    """Queue every daily digest that is due; returns how many subscribers were served."""
    return _in_batches(
        database, lambda session: queue_digests(session, settings, clock()), stopping
    )


def verify_hub_intents(
    database: Database,
    settings: Settings,
    client: httpx.Client | None = None,
    *,
    clock: Clock = utcnow,
    stopping: threading.Event | None = None,
) -> int:
    """Verify pending WebSub (un)subscriptions and tell denials; returns how many. Once
    ``stopping`` is set, the intents claimed and not verified wait for their lease."""
    done = 0
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(delivery_client(settings))
        while not (stopping and stopping.is_set()):
            with database.transaction() as session:
                intents = claim_intents(session, settings, clock(), 50)
            if not intents:
                break
            for intent in intents:
                if stopping and stopping.is_set():
                    break
                asked_at = clock()  # a lease runs from the verification request
                confirmed = verify_subscriber_intent(client, settings, intent)
                with database.transaction() as session:
                    record_verification(session, intent, confirmed, asked_at)
                done += 1
    return done


class _Senders:
    """Threads that send units of attempts (one HTTP delivery, or the mails of one SMTP
    connection); each finished unit's results, or the exception it raised, land in ``done``.

    Daemon threads: a send still running when the job stops is left to its lease, and must
    not hold up the process's exit (an executor's threads are joined at exit). A thread is
    started only when none is idle, as an executor does: a first burst of sends does not
    open all its connections in the same instant (a small server's listen queue resets
    what overflows it).
    """

    def __init__(self, count: int, send: Callable[[list[Attempt]], list[AttemptResult]]) -> None:
        self._send = send
        self._todo: queue.SimpleQueue[list[Attempt] | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[tuple[list[Attempt], list[AttemptResult] | Exception]]
        self.done = queue.SimpleQueue()
        self._count = count
        self._started = 0
        self._idle = threading.Semaphore(0)

    def _run(self) -> None:
        while (unit := self._todo.get()) is not None:
            try:
                self.done.put((unit, self._send(unit)))
            except Exception as exc:  # handed to the job's thread, which raises it
                self.done.put((unit, exc))
            self._idle.release()

    def submit(self, unit: list[Attempt]) -> None:
        self._todo.put(unit)
        if not self._idle.acquire(blocking=False) and self._started < self._count:
            self._started += 1
            threading.Thread(target=self._run, name=f"deliver-{self._started}", daemon=True).start()

    def close(self) -> None:
        for _ in range(self._started):
            self._todo.put(None)


RECORD_EVERY = 128  # results recorded in one transaction at most
RECORD_AFTER = 0.5  # seconds a result waits at most to be recorded
STOP_GRACE = 5.0  # seconds running sends have to end once the job is stopping
CLAIM_AHEAD = 1.0  # seconds of sending a claim may hold, at the rate sends end


@dataclass
class _Waiting:
    attempt: Attempt
    give_back_at: float  # monotonic: unstarted by then, it goes back before its lease ends


class _Dispatcher:
    """The state of one ``deliver_due`` run: what waits per lane, what is sending, what
    awaits recording, and the database work on them."""

    def __init__(
        self, database: Database, settings: Settings, clock: Clock, rng: random.Random
    ) -> None:
        self.database, self.settings, self.clock, self.rng = database, settings, clock, rng
        self.waiting: dict[Lane, deque[_Waiting]] = {}  # lane -> claimed, not started
        self.sending: Counter[Lane] = Counter()  # lane -> units being sent
        self.held = Held()  # deliveries waiting or being sent
        self.units = 0  # units being sent
        self.results: list[AttemptResult] = []
        self.oldest_result = 0.0  # monotonic time the oldest unrecorded result came
        self.recorded = 0
        self.failed = 0  # of the recorded attempts, those not delivered
        self.ended = 0  # deliveries whose send ended since the last claim
        self.last_claim = time.monotonic()
        # A claim's rows wait at most about one send of their lane and of every slot: give
        # back anything not started well before the lease ends.
        self.hold_for = lease_seconds(settings) - 2 * settings.delivery_timeout - 10

    def claim(self) -> bool:
        """Claim about what the slots can start soon, once less than half a round of work is
        ready to start (lanes at their limit aside); whether it is still worth claiming.

        "Soon": two rounds of the slots, or what the sends ending since the last claim show
        can be sent in CLAIM_AHEAD seconds if that is more (fast receivers: fewer, larger
        claims), at most BATCH_ROUNDS rounds (which the lease allows for)."""
        limit_per_lane = self.settings.delivery_per_subscriber
        ready = sum(
            len(queued)
            for lane, queued in self.waiting.items()
            if self.sending[lane] < limit_per_lane
        )
        concurrency = self.settings.delivery_concurrency
        if ready >= max(1, concurrency // 2):
            return True
        ticks = time.monotonic()
        rate = self.ended / max(ticks - self.last_claim, 0.01)
        self.ended, self.last_claim = 0, ticks
        ahead = min(int(rate * CLAIM_AHEAD), concurrency * BATCH_ROUNDS)
        limit = max(2 * concurrency - self.units, ahead) - ready
        with self.database.transaction() as session:
            claimed = claim_deliveries(session, self.settings, self.clock(), limit, self.held)
        give_back_at = time.monotonic() + self.hold_for
        for attempt in claimed:  # counted in self.held by the claim
            self.waiting.setdefault(lane_of(attempt), deque()).append(
                _Waiting(attempt, give_back_at)
            )
        return bool(claimed)

    def start(self, senders: _Senders) -> None:
        """Start what waits, as far as free slots and each lane's limit allow."""
        for lane, queued in list(self.waiting.items()):
            while queued and self.units < self.settings.delivery_concurrency:
                if self.sending[lane] >= self.settings.delivery_per_subscriber:
                    break
                unit = [queued.popleft().attempt for _ in range(min(lane.per_send, len(queued)))]
                senders.submit(unit)
                self.sending[lane] += 1
                self.units += 1
            if not queued:
                del self.waiting[lane]

    def finished(self, unit: list[Attempt], results: list[AttemptResult]) -> None:
        lane = lane_of(unit[0])
        self.sending[lane] -= 1
        self.held.remove(lane, len(unit))
        self.units -= 1
        self.ended += len(unit)
        if not self.results:
            self.oldest_result = time.monotonic()
        self.results += results

    def record(self, force: bool = False) -> None:
        """Record the results gathered, if there are enough or the oldest waited enough;
        park what waits here of the subscribers paused by them."""
        if not self.results:
            return
        due = time.monotonic() - self.oldest_result >= RECORD_AFTER
        if not (force or due or len(self.results) >= RECORD_EVERY):
            return
        with self.database.transaction() as session:
            now = self.clock()
            paused = record_attempts(session, self.settings, self.results, now, self.rng)
            to_park = self._take_waiting(
                lambda w: paused.get(breaker) if (breaker := breaker_of(w.attempt)) else None
            )
            for until, ids in to_park.items():
                reschedule(session, ids, until)
        self.recorded += len(self.results)
        self.failed += sum(1 for result in self.results if result.error)
        self.results = []

    def give_back(self, everything: bool = False) -> None:
        """Make due again what waits here past its time (or all of it: the job stops)."""
        ticks = time.monotonic()
        late = self._take_waiting(lambda w: True if everything or w.give_back_at <= ticks else None)
        if late:
            with self.database.transaction() as session:
                reschedule(session, late[True], self.clock())

    def _take_waiting(self, group_of: Callable[[_Waiting], Any]) -> dict[Any, list[int]]:
        """Remove the waiting deliveries whose ``group_of`` is not None; their ids, grouped
        by it."""
        taken: dict[Any, list[int]] = {}
        for lane, queued in list(self.waiting.items()):
            kept: deque[_Waiting] = deque()
            for waiting in queued:
                group = group_of(waiting)
                if group is None:
                    kept.append(waiting)
                else:
                    taken.setdefault(group, []).append(waiting.attempt.delivery_id)
                    self.held.remove(lane)
            if kept:
                self.waiting[lane] = kept
            else:
                del self.waiting[lane]
        return taken


def deliver_due(
    database: Database,
    settings: Settings,
    client: httpx.Client | None = None,
    rng: random.Random | None = None,
    *,
    clock: Clock = utcnow,
    stopping: threading.Event | None = None,
) -> int:
    """Send every due delivery; returns how many attempts were recorded.

    Up to ``delivery_concurrency`` sends at once, at most ``delivery_per_subscriber`` of them
    to one lane (a webhook endpoint, a WebSub callback host, the SMTP server, whose
    connections send up to BATCH_ROUNDS mails each): a slow subscriber occupies its own
    slots, never the others'. Results are recorded a group at a time (RECORD_EVERY, or
    RECORD_AFTER seconds), and more is claimed as slots free. Once ``stopping`` is set,
    nothing more is claimed, what waits unsent is due again at once, and sends still
    running after STOP_GRACE seconds are left to their lease.
    """
    stopping = stopping or threading.Event()
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(delivery_client(settings))
        with database.sessions() as session:  # what the channels read once (a signing key)
            sends = {c.kind: c.sender(session, settings, client, clock) for c in CHANNELS}

        def send(unit: list[Attempt]) -> list[AttemptResult]:
            return sends[unit[0].kind](unit)

        senders = _Senders(settings.delivery_concurrency, send)
        stack.callback(senders.close)
        run = _Dispatcher(database, settings, clock, rng or random.Random())
        more = True  # worth claiming: nothing said otherwise since the last send ended
        while not stopping.is_set():
            run.start(senders)
            if more:
                more = run.claim()
                run.start(senders)
            if not run.units and not run.waiting and not more:
                break
            if _wait_for_sends(run, senders, timeout=RECORD_AFTER):
                more = True
            run.record()
            run.give_back()
        if stopping.is_set():
            run.record(force=True)
            run.give_back(everything=True)
            deadline = time.monotonic() + STOP_GRACE
            while run.units and _wait_for_sends(run, senders, deadline - time.monotonic()):
                pass
        run.record(force=True)
        if run.recorded:
            log.info(
                "deliveries: %d attempt(s), %d delivered, %d failed (retried or dead-lettered)",
                run.recorded,
                run.recorded - run.failed,
                run.failed,
            )
        return run.recorded


def _wait_for_sends(run: _Dispatcher, senders: _Senders, timeout: float) -> bool:
    """Take the units that end within ``timeout`` seconds (at least one, if any ends):
    whether any did. A unit that raised is raised here (its deliveries wait for their lease)."""
    if timeout <= 0:
        return False
    try:
        ended = [senders.done.get(timeout=timeout)]
    except queue.Empty:
        return False
    while True:
        try:
            ended.append(senders.done.get_nowait())
        except queue.Empty:
            break
    for unit, results in ended:
        if isinstance(results, Exception):
            raise results
        run.finished(unit, results)
    return True
