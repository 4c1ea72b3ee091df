"""The worker's notification jobs: announce newly visible articles, send due deliveries.

No transaction is open while receivers are called: attempts are claimed (with a lease),
sent concurrently, then recorded together. A worker killed in between leaves its claimed
deliveries due again when the lease ends; they are sent again with the same message id.
"""

import random
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack

import httpx
from sqlalchemy.orm import Session

from feedsvc.db import Database
from feedsvc.notify.email import queue_digests, send_emails, signing_key
from feedsvc.notify.hub import claim_intents, record_verification, verify_intent
from feedsvc.notify.outbox import (
    BATCH_ROUNDS,
    announce_due,
    claim_deliveries,
    record_attempts,
)
from feedsvc.notify.rows import Attempt, AttemptResult
from feedsvc.notify.webhooks import send_attempt
from feedsvc.outbound import delivery_client
from feedsvc.settings import Settings
from feedsvc.text import utcnow


def _in_batches(database: Database, step: Callable[[Session], int]) -> int:
    """Run ``step`` in one transaction after another until it does nothing; the total."""
    total = 0
    while True:
        with database.transaction() as session:
            count = step(session)
        if not count:
            return total
        total += count


def announce_new_articles(database: Database, settings: Settings) -> int:
    """Make the deliveries of every visible, unannounced article; returns how many."""
    return _in_batches(database, lambda session: announce_due(session, settings, utcnow()))


def queue_daily_digests(database: Database, settings: Settings) -> int:
    """Queue every daily digest that is due; returns how many subscribers were served."""
    return _in_batches(database, lambda session: queue_digests(session, settings, utcnow()))


def verify_hub_intents(
    database: Database, settings: Settings, client: httpx.Client | None = None
) -> int:
    """Verify pending WebSub (un)subscriptions and tell denials; returns how many."""
    done = 0
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(delivery_client(settings))
        while True:
            with database.transaction() as session:
                intents = claim_intents(session, settings, utcnow(), 50)
            if not intents:
                return done
            for intent in intents:
                confirmed = verify_intent(client, settings, intent)
                with database.transaction() as session:
                    record_verification(session, intent, confirmed, utcnow())
            done += len(intents)


def deliver_due(
    database: Database,
    settings: Settings,
    client: httpx.Client | None = None,
    rng: random.Random | None = None,
) -> int:
    """Send every due delivery, a claimed batch at a time; returns how many attempts.

    A pipeline: while the pool sends one batch (HTTP deliveries concurrently, the mails over
    SMTP connections of up to BATCH_ROUNDS each), this thread records the batch before it
    and claims the next.
    """
    rng = rng or random.Random()
    sent = 0
    with database.sessions() as session:
        key = signing_key(session, settings)  # signs the unsubscribe links of the mails
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(delivery_client(settings))
        pool = stack.enter_context(ThreadPoolExecutor(settings.delivery_concurrency))

        def start(attempts: list[Attempt]) -> list[Future[list[AttemptResult]]]:
            mails = [a for a in attempts if a.kind == "email"]
            sending = [  # a connection per BATCH_ROUNDS mails: as long as a thread's HTTP share
                pool.submit(send_emails, settings, key, mails[start : start + BATCH_ROUNDS])
                for start in range(0, len(mails), BATCH_ROUNDS)
            ]
            return sending + [
                pool.submit(lambda a: [send_attempt(client, settings, a, utcnow())], attempt)
                for attempt in attempts
                if attempt.kind != "email"
            ]

        in_flight: list[Future[list[AttemptResult]]] = []
        while True:
            with database.transaction() as session:
                claimed = claim_deliveries(
                    session, settings, utcnow(), settings.delivery_concurrency * BATCH_ROUNDS
                )
            sending, in_flight = in_flight, start(claimed)
            results = [result for future in sending for result in future.result()]
            if results:
                with database.transaction() as session:
                    record_attempts(session, settings, results, utcnow(), rng)
                sent += len(results)
            if not claimed:
                return sent
