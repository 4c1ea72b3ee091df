"""The e-mail channel: announcement mails to confirmed subscribers who want them at once,
and the sending of every mail of the outbox (confirmations and digests too) over SMTP.

All mails share one lane, the SMTP server: a send is one connection carrying up to
BATCH_ROUNDS mails, each filled in for its subscriber (``mail.compose.fill_mail``, whose
unsubscribe links the instance key signs). A mail to an address unsubscribed since ends
dead, as does an announcement to an address not confirmed.
"""

import logging
import smtplib
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import partial
from typing import Any

import httpx
from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from feedsvc.instance_key import signing_key
from feedsvc.models import Article, Delivery, EmailSubscriber
from feedsvc.notify.channels.base import Channel, Send, Subscriber, Verdict
from feedsvc.notify.mail.compose import MAIL_TYPE, article_mail, fill_mail, list_mail
from feedsvc.notify.rows import (
    BATCH_ROUNDS,
    Attempt,
    AttemptResult,
    Filters,
    Lane,
    built_or_logged,
    delivery_row,
    new_payload,
)
from feedsvc.outbound import hang_up_at
from feedsvc.settings import Settings
from feedsvc.text import Clock

log = logging.getLogger(__name__)

SMTP_LANE = Lane("smtp", per_send=BATCH_ROUNDS)


def announcement_rows(
    session: Session, settings: Settings, articles: Sequence[Article], now: datetime
) -> list[dict[str, Any]]:
    """Deliveries of a round's articles to confirmed subscribers who want them at once.

    Bounded per subscriber: up to ``mail_list_after`` articles of the round are a mail each;
    more become one mail listing them; and nobody gets more than ``mail_immediate_per_hour``
    announcement mails in an hour (the rest are on the site and in the feeds). Mails are
    templates shared by every subscriber who gets the same article or list.
    """
    subscribers = session.execute(
        select(EmailSubscriber.id, EmailSubscriber.categories, EmailSubscriber.keywords).where(
            EmailSubscriber.confirmed_at.is_not(None),
            EmailSubscriber.unsubscribed_at.is_(None),
            EmailSubscriber.frequency == "immediate",
        )
    ).all()
    newest_first = sorted(articles, key=lambda a: (a.published_at, a.id), reverse=True)
    filters = [(s.id, Filters.of(s.categories, s.keywords)) for s in subscribers]
    wanted = {
        subscriber_id: chosen
        for subscriber_id, f in filters
        if (chosen := [a for a in newest_first if f.passes(a)])
    }
    if not wanted:
        return []
    mailed = _mails_in_the_last_hour(session, list(wanted), now)
    templates: dict[tuple[int, ...], int | None] = {}  # article ids -> payload id
    rows, left_out = [], 0
    for subscriber_id, chosen in wanted.items():
        allowance = settings.mail_immediate_per_hour - mailed.get(subscriber_id, 0)
        if len(chosen) > settings.mail_list_after:
            groups = [chosen]
        else:
            groups = [[article] for article in chosen]
        left_out += sum(map(len, groups[max(allowance, 0) :]))
        for group in groups[: max(allowance, 0)]:
            key = tuple(article.id for article in group)
            if key not in templates:
                templates[key] = _template(session, settings, group, now)
            payload_id = templates[key]
            if payload_id is not None:
                rows.append(
                    delivery_row(now, key[0], payload_id, email_subscriber_id=subscriber_id)
                )
    if left_out:
        log.info("%d article mails over subscribers' hourly limit were not made", left_out)
    return rows


def _mails_in_the_last_hour(
    session: Session, subscriber_ids: list[int], now: datetime
) -> dict[int | None, int]:
    """Announcement mails (deliveries with an article) made for each subscriber in the
    last hour, counted in batches of ids."""
    counts: dict[int | None, int] = {}
    for start in range(0, len(subscriber_ids), 1000):
        for subscriber_id, count in session.execute(
            select(Delivery.email_subscriber_id, func.count())
            .where(
                Delivery.email_subscriber_id.in_(subscriber_ids[start : start + 1000]),
                Delivery.article_id.is_not(None),
                Delivery.created_at > now - timedelta(hours=1),
            )
            .group_by(Delivery.email_subscriber_id)
        ):
            counts[subscriber_id] = count
    return counts


def _template(
    session: Session, settings: Settings, articles: list[Article], now: datetime
) -> int | None:
    """The stored mail of one article, or of a list of them; None (logged) if it cannot be
    composed."""
    ids = [article.id for article in articles]
    if len(articles) == 1:
        mail = built_or_logged("the mail", ids, partial(article_mail, settings, articles[0], now))
    else:
        mail = built_or_logged("the list mail", ids, partial(list_mail, settings, articles, now))
    return None if mail is None else new_payload(session, mail, MAIL_TYPE, now)


def send_emails(settings: Settings, key: str, attempts: list[Attempt]) -> list[AttemptResult]:
    """Send a batch of mails over one SMTP connection, each filled in for its subscriber
    (``key`` signs the unsubscribe links).

    The mails have 8-bit bodies: they go with BODY=8BITMIME, which every current SMTP
    server offers; one that does not gets them refused with that reason, not mangled. The
    conversation has ``delivery_timeout`` seconds a mail, plus as much to connect, in all.
    """
    if not attempts:
        return []
    sender = parseaddr(settings.mail_from)[1]
    smtp = smtplib.SMTP(timeout=settings.delivery_timeout)
    with hang_up_at(lambda: smtp.sock, settings.delivery_timeout * (len(attempts) + 1)):
        try:
            smtp.connect(settings.smtp_host, settings.smtp_port)
        except OSError as exc:
            return [AttemptResult(a, None, f"SMTP server unreachable: {exc}") for a in attempts]
        return _send_over(smtp, settings, key, sender, attempts)


def _send_over(
    smtp: smtplib.SMTP, settings: Settings, key: str, sender: str, attempts: list[Attempt]
) -> list[AttemptResult]:
    results = []
    with smtp:
        try:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.ehlo_or_helo_if_needed()
        except smtplib.SMTPException as exc:
            return [AttemptResult(a, None, f"SMTP: {exc}") for a in attempts]
        eight_bit = smtp.has_extn("8bitmime")
        for attempt in attempts:
            message = fill_mail(settings, key, attempt)
            if not message.isascii() and not eight_bit:
                results.append(AttemptResult(attempt, None, "SMTP server lacks 8BITMIME"))
                continue
            try:
                options = ["BODY=8BITMIME"] if eight_bit else []
                smtp.sendmail(sender, [attempt.url], message, options)
                results.append(AttemptResult(attempt, 250, ""))
            except smtplib.SMTPResponseException as exc:
                results.append(AttemptResult(attempt, exc.smtp_code, f"SMTP {exc.smtp_code}"))
            except (smtplib.SMTPException, OSError) as exc:
                results.append(AttemptResult(attempt, None, f"SMTP: {exc}"))
    return results


class EmailChannel(Channel):
    kind = "email"
    shared_lane = SMTP_LANE

    def column(self) -> InstrumentedAttribute[int | None]:
        return Delivery.email_subscriber_id

    def fan_out(
        self, session: Session, settings: Settings, articles: Sequence[Article], now: datetime
    ) -> list[dict[str, Any]]:
        return announcement_rows(session, settings, articles, now)

    def claim_columns(self) -> tuple[ColumnElement[Any], ...]:
        return (
            EmailSubscriber.id.label("email_id"),
            EmailSubscriber.email.label("email_address"),
            EmailSubscriber.confirmed_at.label("email_confirmed_at"),
            EmailSubscriber.unsubscribed_at.label("email_unsubscribed_at"),
        )

    def claim_join(self) -> tuple[type[Any], ColumnElement[bool]]:
        return EmailSubscriber, Delivery.email_subscriber_id == EmailSubscriber.id

    def subscriber(self, row: Row[Any]) -> Subscriber | None:
        return None if row.email_id is None else Subscriber(row.email_id, row.email_address)

    def verdict(self, row: Row[Any], now: datetime) -> Verdict:
        """A confirmation mail (no article) goes to an address not confirmed yet."""
        if row.email_unsubscribed_at is not None:
            return "unsubscribed"
        if row.email_confirmed_at is None and row.article_id is not None:
            return "the address is not confirmed"
        return None

    def lane(self, subscriber_id: int, address: str) -> Lane:
        return SMTP_LANE

    def attempt(self, row: Row[Any], payload: str, content_type: str) -> Attempt:
        return Attempt(
            row.id,
            row.message_id,
            self.kind,
            None,
            row.email_id,
            row.email_address,
            None,
            payload,
            content_type,
            None,
            row.attempts,
        )

    def subscriber_of(self, attempt: Attempt) -> int:
        assert attempt.subscriber_id is not None  # filled by ``attempt``
        return attempt.subscriber_id

    def sender(
        self, session: Session, settings: Settings, client: httpx.Client, clock: Clock
    ) -> Send:
        return partial(send_emails, settings, signing_key(session, settings))

    def record(self, session: Session, settings: Settings, results: list[AttemptResult]) -> None:
        """Nothing beyond the outbox's records."""
