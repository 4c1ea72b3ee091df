"""Ingesting upstream feeds: fetch (HTTP), parse (feedparser), store (articles), schedule.

``refresh.refresh_source`` is the one refresh path: the scheduler, `feedsvc fetch`, the API's
"fetch now" and the admin button all call it.
"""
