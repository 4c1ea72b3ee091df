"""The feed cache holds at most its byte budget, dropping the least recently used first."""

from datetime import UTC, datetime

from feedsvc.feeds.cache import BuiltFeed, FeedCache


def built(size: int) -> BuiltFeed:
    return BuiltFeed(b"x" * size, b"", "application/rss+xml", "e", datetime.now(UTC))


def test_least_recently_used_goes_first_and_the_budget_holds():
    cache = FeedCache(max_bytes=300)
    cache.put("a", built(100))
    cache.put("b", built(100))
    cache.put("c", built(100))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", built(100))
    assert cache.get("b") is None
    assert all(cache.get(key) is not None for key in ("a", "c", "d"))


def test_an_entry_larger_than_the_budget_is_not_kept():
    cache = FeedCache(max_bytes=50)
    cache.put("big", built(100))
    assert cache.get("big") is None
    disabled = FeedCache(max_bytes=0)
    disabled.put("any", built(1))
    assert disabled.get("any") is None
