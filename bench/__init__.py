"""Benchmarks of feedsvc: `python -m bench` (see docs/benchmarks.md).

- ``serving``: a cached feed and its 304 under gunicorn, against a bare Flask app that returns
  the same bytes (``bare_app``), measured with wrk in alternating runs.
- ``cold_build``: building a 50-item feed without the cache, 1,000 against 100,000 articles.
- ``ingest``: 100 upstream feeds × 50 entries: cold ingest against bare feedparser and against
  the reader library, and a second poll (all 304) against the cold one.
- ``notify``: one article to 10,000 webhooks and 1,000 mail subscribers against a bare loop
  making the same calls; the worker's peak memory.
- ``hostile``: 10,000 webhook deliveries and 100 sources with, and without, one trickling
  subscriber and one trickling upstream beside them (``hostile_peers``, ``hostile_worker``).
- ``scale``: the first request of each kind at 10,000 against 1,000,000 articles
  (``scale_store``), 10,000 sources claimed by 4 workers and one worker's ingest of 1,000
  (``scale_workers``, ``scale_upstream``).

Nothing here is imported by feedsvc; the stores are made through feedsvc's own services
(``data``) in databases made for the run (``databases``).
"""


class BenchError(Exception):
    """The benchmark could not run, or measured something other than what it meant to."""

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code
