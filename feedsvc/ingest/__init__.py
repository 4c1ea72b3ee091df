"""Ingesting upstream feeds: claim sources (``claims``), fetch them (``fetch``), parse them
(``parse``, in other processes through ``parse_pool``), store their entries as articles
(``store``, with the identity decisions of ``entries``), schedule the next fetch
(``schedule``) and subscribe at their WebSub hubs (``websub``); ``preview`` fetches and
parses without storing.

``refresh.refresh_sources`` is the one refresh path: the scheduler (the due sources, through
``refresh_due_sources``), ``feedsvc fetch`` (every enabled source, or one), the API's "fetch
now" and the admin button (one, through ``refresh_source``) all run its round; ``claims``
says which sources it takes. Each of them passes the clock and the random source the
round's decisions use.
"""
