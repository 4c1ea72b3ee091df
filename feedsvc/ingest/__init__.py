"""Ingesting upstream feeds: fetch (HTTP), parse (feedparser), store (articles), schedule.

``refresh.refresh_sources`` is the one refresh path: the scheduler (the due sources),
`feedsvc fetch` (every enabled source, or one), the API's "fetch now" and the admin button
(one, through ``refresh_source``) all run its round; ``claims`` says which sources it takes.
"""
