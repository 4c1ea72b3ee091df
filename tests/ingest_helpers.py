"""Shared set-up of the ingest tests: settings that allow loopback sources, and helpers
that add and refresh sources through the same services the CLI and API use."""

import random
from datetime import datetime

from sqlalchemy import select

from feedsvc.db import Database
from feedsvc.ingest.refresh import RefreshOutcome, refresh_source
from feedsvc.models import Article, Source
from feedsvc.settings import Settings
from feedsvc.sources import SourceCreate, add_source
from feedsvc.text import utcnow
from tests.fixed import frozen


class Sources:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def add(self, url: str, category: str = "thoi-su", **fields: object) -> int:
        with self.database.transaction() as session:
            data = SourceCreate(url=url, category=category, **fields)  # type: ignore[arg-type]
            return add_source(session, data, self.settings, utcnow(), random.Random(1)).id

    def refresh(
        self,
        source_id: int,
        settings: Settings | None = None,
        *,
        force: bool = True,
        at: datetime | None = None,
        rng: random.Random | None = None,
    ) -> RefreshOutcome:
        """Fetch now (or with the clock stopped ``at`` a time); forced by default, as if it
        were due, so tests can fail a source again and again (``force=False``: a manual
        fetch, held back after failures)."""
        settings = settings or self.settings
        clock = frozen(at) if at else utcnow
        rng = rng or random.Random(1)
        return refresh_source(self.database, settings, source_id, clock, rng, force=force)

    def get(self, source_id: int) -> Source:
        with self.database.transaction() as session:
            return session.get(Source, source_id)  # type: ignore[return-value]

    def articles(self, source_id: int) -> list[Article]:
        with self.database.transaction() as session:
            stmt = select(Article).where(Article.source_id == source_id).order_by(Article.id)
            return list(session.scalars(stmt))

    def make_due(self, source_id: int, when: datetime) -> None:
        with self.database.transaction() as session:
            session.get(Source, source_id).next_fetch_at = when  # type: ignore[union-attr]
