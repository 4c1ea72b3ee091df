"""Notifications: the outbox of deliveries (``outbox``) and the channels that send them.

Nothing is lost: an article is stored with ``announced_at`` NULL in the transaction that makes
it (that *is* its notification intent); ``outbox.announce_due`` turns it into one delivery per
matching subscriber in one transaction; deliveries are claimed, sent and recorded with the
same message id on every attempt until delivered or dead-lettered.
"""
