"""Prometheus metrics, read from the database when scraped.

Fetches happen in worker processes, possibly on other machines; counting them in the
database (``Source.fetch_count`` and friends) lets any web process report the whole system,
with no per-process registry to merge.
"""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from feedsvc.db import Database
from feedsvc.housekeeping import KINDS, LastSweep, last_sweep
from feedsvc.models import Article, Source


class StoreCollector(Collector):
    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        labels = ["source", "url"]
        fetches = CounterMetricFamily(
            "feedsvc_source_fetches", "Fetches of a source.", labels=labels
        )
        errors = CounterMetricFamily(
            "feedsvc_source_fetch_errors", "Failed fetches of a source.", labels=labels
        )
        items = CounterMetricFamily(
            "feedsvc_source_items", "New items ingested from a source.", labels=labels
        )
        up = GaugeMetricFamily(
            "feedsvc_source_up",
            "1 if the source is enabled and its last fetch worked.",
            labels=labels,
        )
        last = GaugeMetricFamily(
            "feedsvc_source_last_fetch_timestamp_seconds",
            "When a source was last fetched.",
            labels=labels,
        )
        articles = GaugeMetricFamily(
            "feedsvc_articles", "Articles in the store.", labels=["origin"]
        )
        with self.database.sessions() as session:
            for source in session.scalars(select(Source)):
                labels = [str(source.id), source.url]
                fetches.add_metric(labels, source.fetch_count)
                errors.add_metric(labels, source.error_count)
                items.add_metric(labels, source.item_count)
                up.add_metric(labels, int(source.enabled and source.consecutive_failures == 0))
                if source.last_fetch_at:
                    last.add_metric(labels, source.last_fetch_at.timestamp())
            stmt = select(Article.origin, func.count()).group_by(Article.origin)
            for origin, count in session.execute(stmt):
                articles.add_metric([origin], count)
            swept = last_sweep(session)
        yield from (fetches, errors, items, up, last, articles)
        yield from _housekeeping_metrics(swept)


def _housekeeping_metrics(swept: LastSweep | None) -> Iterator[Metric]:
    """Rows removed by housekeeping, per kind (see feedsvc.housekeeping), and its last sweep."""
    removed = CounterMetricFamily(
        "feedsvc_housekeeping_removed", "Rows removed by housekeeping.", labels=["kind"]
    )
    last_removed = GaugeMetricFamily(
        "feedsvc_housekeeping_last_removed",
        "Rows removed by the last housekeeping sweep.",
        labels=["kind"],
    )
    last_run = GaugeMetricFamily(
        "feedsvc_housekeeping_last_sweep_timestamp_seconds",
        "When housekeeping last swept.",
    )
    duration = GaugeMetricFamily(
        "feedsvc_housekeeping_last_sweep_duration_seconds",
        "How long the last housekeeping sweep took.",
    )
    if swept is not None:
        for kind in KINDS:
            removed.add_metric([kind], swept.removed_total[kind])
            last_removed.add_metric([kind], swept.removed[kind])
        last_run.add_metric([], swept.swept_at.timestamp())
        duration.add_metric([], swept.duration_ms / 1000)
    yield from (removed, last_removed, last_run, duration)
