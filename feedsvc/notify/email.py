"""E-mail subscriptions: double opt-in, one-click unsubscribe (RFC 8058), the mails.

- ``subscribe`` records (or updates) a subscriber and queues a confirmation mail in the
  outbox; nothing else is sent until the address is confirmed through the signed link.
- Links carry the subscriber's id signed with the instance key (itsdangerous), so no token
  is stored; the confirmation link expires after three days. Opening a link changes nothing
  (mail scanners open every link): the web edge shows a button, whose POST confirms or
  unsubscribes; ``confirmation_subscriber`` and ``unsubscription_subscriber`` read a link
  for that page.
- Every mail has a text and an HTML part in Vietnamese, a visible unsubscribe link, and
  ``List-Unsubscribe`` + ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. Headers with
  Vietnamese text are encoded per RFC 2047 by the ``email`` package's SMTP policy.
- ``send_emails`` sends a batch of attempts over one SMTP connection.
"""

import logging
import smtplib
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from functools import partial
from html import escape
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from feedsvc.errors import N_, Expired, InvalidInput, NotFound
from feedsvc.models import Article, Category, Delivery, EmailSubscriber, InstanceKey
from feedsvc.notify.rows import (
    Attempt,
    AttemptResult,
    Filters,
    built_or_logged,
    clean_keywords,
    delivery_row,
    insert_deliveries,
    new_payload,
)
from feedsvc.outbound import hang_up_at
from feedsvc.paging import Page, Position, keyset_page
from feedsvc.ratelimit import take
from feedsvc.settings import Settings
from feedsvc.text import as_utc, format_local, to_local
from feedsvc.urls import article_url

log = logging.getLogger(__name__)

CONFIRM_MAX_AGE = timedelta(days=3)
MAIL_TYPE = "message/rfc822"
RESEND_AFTER = timedelta(minutes=10)


class SubscribeForm(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    email: EmailStr
    categories: list[str] = Field(default_factory=list)
    keywords: str = Field("", max_length=500, description="Comma-separated words.")
    frequency: str = Field("immediate", pattern="^(immediate|daily)$")

    @field_validator("email")
    @classmethod
    def _ascii_address(cls, value: str) -> str:
        """Mails are addressed in plain headers: internationalised addresses (SMTPUTF8) are
        not supported."""
        if not value.isascii():
            raise ValueError("only ASCII addresses are supported")
        return value


def signing_key(session: Session, settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    key = session.get(InstanceKey, "signing")
    if key is None:
        raise NotFound(N_("Chưa có khóa ký: hãy chạy `feedsvc db upgrade`"))
    return key.value


def _serializer(key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=f"feedsvc-{purpose}")


def make_token(key: str, purpose: str, subscriber_id: int) -> str:
    return _serializer(key, purpose).dumps(subscriber_id)


def read_token(key: str, purpose: str, token: str, max_age: timedelta | None) -> int:
    try:
        seconds = int(max_age.total_seconds()) if max_age else None
        return int(_serializer(key, purpose).loads(token, max_age=seconds))
    except SignatureExpired as exc:
        raise Expired(N_("Liên kết này đã hết hạn. Xin đăng ký lại tại trang nhận tin.")) from exc
    except (BadSignature, ValueError) as exc:
        raise NotFound(
            N_("Liên kết này không hợp lệ. Xin kiểm tra rằng bạn đã mở đủ liên kết trong thư.")
        ) from exc


def subscribe(
    session: Session, settings: Settings, form: SubscribeForm, client_ip: str, now: datetime
) -> None:
    """Record the wish and queue a confirmation mail (at most one per address in 10 min).

    The answer is the same whether the address was known or not, so the form tells nobody
    who is subscribed.
    """
    rate_key, hour = f"subscribe:{client_ip}", timedelta(hours=1)
    refusal = N_("Có quá nhiều yêu cầu đăng ký từ địa chỉ này; xin thử lại sau")
    take(session, [rate_key], settings.subscribe_per_hour, hour, now, refusal)
    known = set(session.scalars(select(Category.slug)))
    if not set(form.categories) <= known:
        raise InvalidInput(
            N_("Không có chuyên mục này"), {"categories": N_("hãy chọn trong danh sách")}
        )
    email = form.email.lower()
    subscriber = session.scalar(select(EmailSubscriber).where(EmailSubscriber.email == email))
    if subscriber is None:
        subscriber = EmailSubscriber(email=email, created_at=now)
        session.add(subscriber)
    subscriber.categories = sorted(set(form.categories))
    subscriber.keywords = clean_keywords(form.keywords.split(","))
    subscriber.frequency = form.frequency
    if subscriber.unsubscribed_at is not None:  # coming back: confirm again
        subscriber.unsubscribed_at, subscriber.confirmed_at = None, None
    if subscriber.confirmed_at is not None:
        return
    sent = subscriber.confirmation_sent_at
    if sent is not None and now - sent < RESEND_AFTER:
        return
    session.flush()
    subscriber.confirmation_sent_at = now
    key = signing_key(session, settings)
    mail = new_payload(session, confirmation_mail(settings, subscriber, key, now), MAIL_TYPE, now)
    insert_deliveries(session, [delivery_row(now, None, mail, email_subscriber_id=subscriber.id)])


def page_subscribers(session: Session, position: Position, limit: int) -> Page[EmailSubscriber]:
    """Newest first."""
    return keyset_page(session, select(EmailSubscriber), (EmailSubscriber.id,), position, limit)


def confirmation_subscriber(session: Session, settings: Settings, token: str) -> EmailSubscriber:
    """The subscriber a confirmation link names; Expired or NotFound for a bad link."""
    subscriber_id = read_token(signing_key(session, settings), "confirm", token, CONFIRM_MAX_AGE)
    subscriber = session.get(EmailSubscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(N_("Đăng ký này không còn nữa. Xin đăng ký lại tại trang nhận tin."))
    return subscriber


def confirm(session: Session, settings: Settings, token: str, now: datetime) -> EmailSubscriber:
    subscriber = confirmation_subscriber(session, settings, token)
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at, subscriber.unsubscribed_at = now, None
    return subscriber


def unsubscription_subscriber(
    session: Session, settings: Settings, token: str
) -> EmailSubscriber | None:
    """The subscriber an unsubscribe link names (None if deleted since); NotFound for a
    bad link."""
    subscriber_id = read_token(signing_key(session, settings), "unsubscribe", token, None)
    return session.get(EmailSubscriber, subscriber_id)


def unsubscribe(session: Session, settings: Settings, token: str, now: datetime) -> None:
    subscriber = unsubscription_subscriber(session, settings, token)
    if subscriber is not None and subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = now


# Placeholders of every mail, filled in for each attempt by ``fill_mail``.
_RECIPIENT = "recipient@feedsvc.invalid"
_MESSAGE_ID = "<message-id@feedsvc.invalid>"
_UNSUBSCRIBE = "https://feedsvc.invalid/unsubscribe"


def _mail(
    settings: Settings, subject: str, text: str, html: str, unsubscribe: bool, now: datetime
) -> str:
    """A mail template: the ``email`` package composes it once (~1 ms, the RFC 2047 folding
    of a Vietnamese subject most of it), with placeholders for the recipient, the
    Message-ID and the unsubscribe link. The bodies are 8-bit UTF-8 (sent with
    BODY=8BITMIME), so the placeholders stay intact; callers keep lines short (text
    wrapped, each URL on a line of its own), far from the 998-byte limit."""
    message = EmailMessage(policy=SMTP)
    name, address = parseaddr(settings.mail_from)
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = _RECIPIENT
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = _MESSAGE_ID
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{_UNSUBSCRIBE}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text, cte="8bit")
    message.add_alternative(html, subtype="html", cte="8bit")
    return message.as_bytes().decode()


def fill_mail(settings: Settings, key: str, attempt: Attempt) -> bytes:
    """The mail of one attempt: its recipient, a Message-ID made from the delivery's
    message id (the same on every retry) and the subscriber's own unsubscribe link."""
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "feedsvc.invalid"
    message = attempt.payload.replace(_RECIPIENT, attempt.url, 1)
    message = message.replace(_MESSAGE_ID, f"<{attempt.message_id}@{domain}>", 1)
    if _UNSUBSCRIBE in message and attempt.subscriber_id is not None:
        leave = unsubscribe_url(settings, key, attempt.subscriber_id)  # URL-safe: as in HTML
        message = message.replace(_UNSUBSCRIBE, leave)
    return message.encode()


def _wrapped(text: str) -> str:
    """At most 76 characters a line (8-bit bodies must keep lines under 998 bytes)."""
    return textwrap.fill(text, 76, break_on_hyphens=False)


def confirmation_mail(
    settings: Settings, subscriber: EmailSubscriber, key: str, now: datetime
) -> str:
    link = f"{settings.base_url}/subscribe/confirm/{make_token(key, 'confirm', subscriber.id)}"
    intro = f"Để nhận tin từ {settings.site_title}, xin bấm vào liên kết sau (trong vòng 3 ngày):"
    text = "\n".join(
        ["Xin chào,", "", _wrapped(intro), link, "", "Nếu bạn không đăng ký, hãy bỏ qua thư này."]
    )
    html = "\n".join(
        [
            "<p>Xin chào,</p>",
            f"<p>{_wrapped(escape(intro))}",
            f'<a href="{escape(link)}">',
            "xác nhận đăng ký</a></p>",
            "<p>Nếu bạn không đăng ký, hãy bỏ qua thư này.</p>",
        ]
    )
    subject = f"Xác nhận đăng ký nhận tin – {settings.site_title}"
    return _mail(settings, subject, text, html, False, now)


def unsubscribe_url(settings: Settings, key: str, subscriber_id: int) -> str:
    return f"{settings.base_url}/unsubscribe/{make_token(key, 'unsubscribe', subscriber_id)}"


def article_mail(settings: Settings, article: Article, now: datetime) -> str:
    """The mail announcing an article, one template for all its subscribers."""
    url = article_url(settings.base_url, article.id, article.slug)
    byline = f"{article.category.name} – {format_local(article.published_at)}"
    text = "\n".join(
        [
            _wrapped(article.title),
            _wrapped(byline),
            "",
            _wrapped(article.summary),
            "",
            "Đọc tiếp:",
            url,
            "",
            "--",
            "Hủy nhận tin:",
            _UNSUBSCRIBE,
        ]
    )
    html = "\n".join(
        [
            f'<h2><a href="{escape(url)}">',
            _wrapped(escape(article.title)),
            "</a></h2>",
            f"<p><small>{_wrapped(escape(byline))}</small></p>",
            f"<p>{_wrapped(escape(article.summary))}</p>",
            f'<p><a href="{escape(url)}">',
            "Đọc tiếp</a></p><hr>",
            f'<p><small><a href="{_UNSUBSCRIBE}">',
            "Hủy nhận tin</a></small></p>",
        ]
    )
    return _mail(settings, f"Tin mới: {article.title}", text, html, True, now)


def email_rows(
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


def last_digest_time(settings: Settings, now: datetime) -> datetime:
    """The latest daily digest instant at or before ``now`` (``digest_time``, local time)."""
    local = to_local(now)
    hour, minute = map(int, settings.digest_time.split(":"))
    today = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return as_utc(today if today <= local else today - timedelta(days=1))


def _listed(settings: Settings, articles: Sequence[Article]) -> tuple[list[str], list[str]]:
    """The text and HTML lines listing articles grouped by category, with their links."""
    groups: dict[str, list[Article]] = {}
    for article in articles:
        groups.setdefault(article.category.name, []).append(article)
    text_parts: list[str] = []
    html_parts: list[str] = []
    for name, items in groups.items():
        text_parts.append(_wrapped(name.upper()))
        html_parts.append(f"<h2>{_wrapped(escape(name))}</h2>\n<ul>")
        for article in items:
            url = article_url(settings.base_url, article.id, article.slug)
            text_parts += [_wrapped(f"- {article.title}"), f"  {url}"]
            html_parts += [
                f'<li><a href="{escape(url)}">',
                _wrapped(escape(article.title)),
                "</a></li>",
            ]
        text_parts.append("")
        html_parts.append("</ul>")
    return text_parts, html_parts


def _list_mail(
    settings: Settings, subject: str, heading: str, articles: Sequence[Article], now: datetime
) -> str:
    text_parts, html_parts = _listed(settings, articles)
    text = "\n".join([heading, "", *text_parts, "--", "Hủy nhận tin:", _UNSUBSCRIBE])
    html = "\n".join(
        [
            f"<h1>{escape(heading)}</h1>",
            *html_parts,
            "<hr>",
            f'<p><small><a href="{_UNSUBSCRIBE}">',
            "Hủy nhận tin</a></small></p>",
        ]
    )
    return _mail(settings, subject, text, html, True, now)


def list_mail(settings: Settings, articles: Sequence[Article], now: datetime) -> str:
    """One mail announcing many articles that came at once (instead of a mail each)."""
    heading = f"{len(articles)} tin mới"
    return _list_mail(settings, f"{heading} – {settings.site_title}", heading, articles, now)


def digest_mail(settings: Settings, articles: list[Article], day: datetime, now: datetime) -> str:
    """A daily digest: the articles grouped by category (a template, like every mail)."""
    date = format_local(day, with_time=False)
    subject = f"Bản tin ngày {date} – {settings.site_title}"
    return _list_mail(settings, subject, f"Tin mới ngày {date}", articles, now)


def queue_digests(session: Session, settings: Settings, now: datetime, limit: int = 500) -> int:
    """Queue the digest of every daily subscriber not served for the last digest time.

    A digest holds the articles published since the previous one (at most a day back, never
    before the subscriber confirmed), grouped by category; when there is nothing, no mail is
    sent but the subscriber is marked served. Returns the number of subscribers handled.
    """
    due_at = last_digest_time(settings, now)
    subscribers = list(
        session.scalars(
            select(EmailSubscriber)
            .where(
                EmailSubscriber.frequency == "daily",
                EmailSubscriber.confirmed_at.is_not(None),
                EmailSubscriber.unsubscribed_at.is_(None),
                or_(
                    EmailSubscriber.digest_through.is_(None),
                    EmailSubscriber.digest_through < due_at,
                ),
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not subscribers:
        return 0
    earliest = due_at - timedelta(days=1)
    articles = list(
        session.scalars(
            select(Article)
            .options(joinedload(Article.category))
            .where(Article.published_at > earliest, Article.published_at <= due_at)
            .order_by(Article.published_at.desc())
        )
    )
    rows, digests = [], {}
    for subscriber in subscribers:
        since = max(subscriber.digest_through or earliest, subscriber.confirmed_at or earliest)
        filters = Filters.of(subscriber.categories, subscriber.keywords)
        chosen = [a for a in articles if a.published_at > since and filters.passes(a)]
        if chosen:
            ids = tuple(article.id for article in chosen)
            if ids not in digests:  # subscribers with the same filters share a digest
                mail = digest_mail(settings, chosen, due_at, now)
                digests[ids] = new_payload(session, mail, MAIL_TYPE, now)
            rows.append(delivery_row(now, None, digests[ids], email_subscriber_id=subscriber.id))
        subscriber.digest_through = due_at
    insert_deliveries(session, rows)
    return len(subscribers)
