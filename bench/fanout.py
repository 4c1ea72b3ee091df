"""Fan-out over days with housekeeping on: how large the delivery tables grow.

``simulate_fanout`` makes ``webhooks`` endpoints, then for each of ``days`` days (``now``
moved a day at a time, nothing slept): publishes ``articles_per_day`` articles spread over
the day, announces them through ``outbox.announce_due`` (a delivery per endpoint and
article, one payload per article), marks the day's deliveries delivered, and runs
``housekeeping.sweep`` at the end of the day. It returns the row counts of ``deliveries``
and ``delivery_payloads`` after each day's sweep, their peak and bound, the time of each
phase and the longest sweep batch.

Marking delivered: the sender's own path (``claim_deliveries`` + ``record_attempts``, no
HTTP) is timed on the first ``sender_sample`` deliveries, to give its rate; the rest is
written in bulk with one UPDATE a day (what the sender would have written, faster), since
the sender's path at a million deliveries a day would take longer than the simulation.

``python -m bench --only fanout [--database postgresql]``: 30 days of 10,000 webhooks and
100 articles a day (hours on 2 cores); ``--quick``: 6 days of 200 webhooks and 10 articles,
deliveries kept 2 days. Target: after every day's sweep the tables hold at most the bound,
and once the first kept days have passed they hold exactly that many days of fan-out.
"""

import itertools
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bench.databases import Databases
from bench.report import table
from feedsvc.articles import ArticleCreate, create_article
from feedsvc.categories import create_category
from feedsvc.db import Database, create_database
from feedsvc.housekeeping import sweep
from feedsvc.models import Delivery, DeliveryPayload
from feedsvc.notify.outbox import announce_due, claim_deliveries, record_attempts
from feedsvc.notify.rows import AttemptResult
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.settings import Settings, load_settings
from feedsvc.text import utcnow

DAY = timedelta(days=1)


def simulate_fanout(
    database_url: str,
    days: int = 30,
    webhooks: int = 10_000,
    articles_per_day: int = 100,
    *,
    sender_sample: int = 5_000,
    progress: Callable[[dict[str, Any]], None] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Run the simulation on the (migrated, empty) store at ``database_url``; ``settings``
    override feedsvc's (``keep_delivered_days``, ``housekeeping_batch_size``...);
    ``progress`` is given each day's line of the timeline as it ends."""
    config = load_settings(database_url=database_url, allow_private_urls=True, **settings)
    database = create_database(database_url)
    start = (utcnow() - days * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        _endpoints(database, config, webhooks, start)
        timeline, sender_rate, longest_batch = [], None, 0.0
        seconds = {"publish": 0.0, "announce": 0.0, "deliver": 0.0, "sweep": 0.0}
        for day in range(days):
            morning = start + day * DAY
            clock = day_started = time.perf_counter()
            _publish(database, config, morning, articles_per_day, day)
            seconds["publish"] += time.perf_counter() - clock
            clock = time.perf_counter()
            announced = _announce(database, config, morning + DAY - timedelta(hours=1))
            seconds["announce"] += time.perf_counter() - clock
            clock = time.perf_counter()
            delivered_at = morning + DAY - timedelta(minutes=30)
            if sender_rate is None and sender_sample:
                sender_rate = _send_through_outbox(database, config, delivered_at, sender_sample)
            _deliver_in_bulk(database, delivered_at)
            seconds["deliver"] += time.perf_counter() - clock
            clock = time.perf_counter()
            removed, longest = _timed_sweep(database, config, morning + DAY)
            seconds["sweep"] += time.perf_counter() - clock
            longest_batch = max(longest_batch, longest)
            deliveries, payloads = _counts(database)
            timeline.append(
                {
                    "day": day + 1,
                    "announced": announced,
                    "deliveries": deliveries,
                    "payloads": payloads,
                    "removed_deliveries": removed["delivered"],
                    "removed_payloads": removed["payloads"],
                    "seconds": round(time.perf_counter() - day_started, 1),
                }
            )
            if progress is not None:
                progress(timeline[-1])
    finally:
        database.dispose()
    per_day = webhooks * articles_per_day
    return {
        "days": days,
        "webhooks": webhooks,
        "articles_per_day": articles_per_day,
        "keep_delivered_days": config.keep_delivered_days,
        "timeline": timeline,
        "peak_deliveries": max(row["deliveries"] for row in timeline),
        "peak_payloads": max(row["payloads"] for row in timeline),
        # delivered rows live keep_delivered_days full days, then go at the next sweep
        "bound_deliveries": (config.keep_delivered_days + 1) * per_day,
        "bound_payloads": (config.keep_delivered_days + 1) * articles_per_day,
        "sender_path_deliveries_per_second": sender_rate,
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
        # the longest time between two batches' commits: one batch's transaction, at most
        "longest_batch_seconds": round(longest_batch, 3),
    }


def _endpoints(database: Database, settings: Settings, count: int, now: datetime) -> None:
    with database.transaction() as session:
        create_category(session, "Thời sự", now)
        for n in range(count):
            add_endpoint(session, EndpointCreate(url=f"http://127.0.0.1:9/e{n}"), settings, now)


def _publish(
    database: Database, settings: Settings, morning: datetime, count: int, day: int
) -> None:
    body = "<p>" + "Nội dung bài viết về phong trào thi đua. " * 20 + "</p>"
    with database.transaction() as session:
        for n in range(count):
            published = morning + timedelta(minutes=n * 20 * 60 // max(count, 1))
            article = ArticleCreate(
                category="thoi-su",
                title=f"Tin ngày {day + 1} số {n + 1}",
                body_html=body,
                published_at=published,
            )
            create_article(session, article, settings.base_url, published)


def _announce(database: Database, settings: Settings, now: datetime) -> int:
    total = 0
    while True:
        with database.transaction() as session:
            count = announce_due(session, settings, now)
        if not count:
            return total
        total += count


def _send_through_outbox(
    database: Database, settings: Settings, now: datetime, limit: int
) -> float:
    """Deliveries a second through the sender's claim and record (no HTTP), for ``limit``."""
    rng, done, clock = random.Random(1), 0, time.perf_counter()
    while done < limit:
        with database.transaction() as session:
            attempts = claim_deliveries(session, settings, now, min(500, limit - done))
            if not attempts:
                break
            results = [AttemptResult(attempt, 200, "") for attempt in attempts]
            record_attempts(session, settings, results, now, rng)
        done += len(attempts)
    return round(done / (time.perf_counter() - clock), 1)


def _deliver_in_bulk(database: Database, now: datetime) -> None:
    with database.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.state == "pending")
            .values(state="delivered", attempts=1, last_status=200, delivered_at=now, last_error="")
        )


def _timed_sweep(
    database: Database, settings: Settings, now: datetime
) -> tuple[dict[str, int], float]:
    """The sweep, and the longest time between two of its batches' commits."""
    ends = [time.perf_counter()]
    removed = sweep(
        database, settings, now, on_batch=lambda _kind, _rows: ends.append(time.perf_counter())
    )
    return removed, max((b - a for a, b in itertools.pairwise(ends)), default=0.0)


def _counts(database: Database) -> tuple[int, int]:
    with database.sessions() as session:
        deliveries = session.scalar(select(func.count()).select_from(Delivery)) or 0
        payloads = session.scalar(select(func.count()).select_from(DeliveryPayload)) or 0
    return deliveries, payloads


FULL = {"days": 30, "webhooks": 10_000, "articles_per_day": 100}
QUICK = {"days": 6, "webhooks": 200, "articles_per_day": 10, "keep_delivered_days": 2}


def run(databases: Databases, quick: bool) -> dict[str, Any]:
    def show(day: dict[str, Any]) -> None:
        print(
            f"  day {day['day']}: {day['deliveries']:,} deliveries, {day['payloads']:,} "
            f"payloads after the sweep ({day['seconds']} s)",
            flush=True,
        )

    result = simulate_fanout(databases.fresh("fanout"), **(QUICK if quick else FULL), progress=show)
    keep, per_day = result["keep_delivered_days"], result["webhooks"] * result["articles_per_day"]
    # after day d's sweep: exactly the last min(d, keep) days, nothing older, nothing missing
    result["passed"] = all(
        row["deliveries"] == min(row["day"], keep) * per_day
        and row["payloads"] == min(row["day"], keep) * result["articles_per_day"]
        for row in result["timeline"]
    )
    return result


def print_report(result: dict[str, Any]) -> None:
    keep = result["keep_delivered_days"]
    print(
        f"\nfan-out over {result['days']} days: {result['webhooks']:,} webhooks × "
        f"{result['articles_per_day']} articles a day, deliveries kept {keep} days"
    )
    last = result["timeline"][-1]
    verdict = "PASS" if result["passed"] else "FAIL"
    print(
        table(
            ["table", "after day 1", f"after day {keep}", "last day", "peak", "bound", ""],
            [
                [
                    name,
                    f"{result['timeline'][0][name]:,}",
                    f"{result['timeline'][min(keep, result['days']) - 1][name]:,}",
                    f"{last[name]:,}",
                    f"{result[f'peak_{name}']:,}",
                    f"{result[f'bound_{name}']:,}",
                    verdict,
                ]
                for name in ("deliveries", "payloads")
            ],
        )
    )
    seconds = ", ".join(f"{phase} {value:,.1f} s" for phase, value in result["seconds"].items())
    print(
        f"  time: {seconds}; longest sweep batch {result['longest_batch_seconds']} s; "
        f"sender's path {result['sender_path_deliveries_per_second']:,} deliveries/s"
    )
