"""Notifications: the outbox of deliveries (``outbox``) and the channels that send them.

Nothing is lost: an article is stored with ``announced_at`` NULL in the transaction that makes
it (that *is* its notification intent); ``outbox.announce_due`` turns it into the deliveries
each channel makes for its subscribers, in one transaction; deliveries are claimed, sent and
recorded with the same message id on every attempt until delivered or dead-lettered
(``deliver`` holds the worker's jobs).

- ``outbox``: claims, leases, records and retries, the same way for every channel.
- ``channels``: the ``Channel`` interface (``channels.base``) and the registry of channels
  (``channels.CHANNELS``): ``webhook``, ``websub`` and ``email``, each owning its fan-out,
  payload, subscriber check and sending. Adding one: docs/decisions/0015.
- Around the channels, what their subscribers are managed by: ``webhooks`` (endpoints),
  ``hub`` (WebSub subscription intents and their verification), ``mail`` (the subscription
  form, signed links, mail composition, daily digests); ``rows`` the shared pieces.

Nothing here imports ``ingest``: outbound HTTP is ``feedsvc.outbound``'s.
"""
