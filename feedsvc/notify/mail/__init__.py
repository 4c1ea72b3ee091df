"""E-mail subscriptions and their mails: double opt-in, one-click unsubscribe (RFC 8058).

- ``subscriptions``: the subscription form's logic; ``subscribe`` records (or updates) a
  subscriber and queues a confirmation mail in the outbox; nothing else is sent until the
  address is confirmed through the signed link. Opening a link changes nothing (mail
  scanners open every link): the web edge shows a button, whose POST confirms or
  unsubscribes.
- ``links``: links carry the subscriber's id signed with the instance key (itsdangerous),
  so no token is stored; the confirmation link expires after three days.
- ``compose``: every mail has a text and an HTML part in Vietnamese, a visible unsubscribe
  link, and ``List-Unsubscribe`` + ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``.
  Headers with Vietnamese text are encoded per RFC 2047 by the ``email`` package's SMTP
  policy.
- ``digests``: the daily digests of the subscribers who chose them.

Announcement mails and the sending over SMTP are the e-mail channel's: ``channels.email``.
"""
