"""E-mail subscriptions: double opt-in, one-click unsubscribe (RFC 8058), the mails.

- ``subscribe`` records (or updates) a subscriber and queues a confirmation mail in the
  outbox; nothing else is sent until the address is confirmed through the signed link.
- Links carry the subscriber's id signed with the instance key (itsdangerous), so no token
  is stored; the confirmation link expires after three days.
- Every mail has a text and an HTML part in Vietnamese, a visible unsubscribe link, and
  ``List-Unsubscribe`` + ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. Headers with
  Vietnamese text are encoded per RFC 2047 by the ``email`` package's SMTP policy.
- ``send_emails`` sends a batch of attempts over one SMTP connection.
"""

import smtplib
import textwrap
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from html import escape
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from feedsvc.errors import InvalidInput, NotFound
from feedsvc.models import Article, Category, EmailSubscriber, InstanceKey
from feedsvc.notify.rows import (
    Attempt,
    AttemptResult,
    delivery_row,
    fold_keywords,
    insert_deliveries,
    matches,
    new_payload,
)
from feedsvc.ratelimit import take
from feedsvc.settings import Settings
from feedsvc.text import as_utc, format_local, to_local
from feedsvc.urls import article_url

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
        raise NotFound("no signing key: run `feedsvc db upgrade`")
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
        raise InvalidInput("this link has expired; please subscribe again") from exc
    except (BadSignature, ValueError) as exc:
        raise NotFound("this link is not valid") from exc


def subscribe(
    session: Session, settings: Settings, form: SubscribeForm, client_ip: str, now: datetime
) -> None:
    """Record the wish and queue a confirmation mail (at most one per address in 10 min).

    The answer is the same whether the address was known or not, so the form tells nobody
    who is subscribed.
    """
    rate_key, hour = f"subscribe:{client_ip}", timedelta(hours=1)
    refusal = "too many subscription requests; please try again later"
    take(session, [rate_key], settings.subscribe_per_hour, hour, now, refusal)
    known = set(session.scalars(select(Category.slug)))
    if not set(form.categories) <= known:
        raise InvalidInput("unknown category", {"categories": "choose from the list"})
    email = form.email.lower()
    subscriber = session.scalar(select(EmailSubscriber).where(EmailSubscriber.email == email))
    if subscriber is None:
        subscriber = EmailSubscriber(email=email, created_at=now)
        session.add(subscriber)
    subscriber.categories = sorted(set(form.categories))
    subscriber.keywords = fold_keywords(form.keywords.split(","))
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


def list_subscribers(session: Session) -> list[EmailSubscriber]:
    return list(session.scalars(select(EmailSubscriber).order_by(EmailSubscriber.id.desc())))


def confirm(session: Session, settings: Settings, token: str, now: datetime) -> EmailSubscriber:
    subscriber_id = read_token(signing_key(session, settings), "confirm", token, CONFIRM_MAX_AGE)
    subscriber = session.get(EmailSubscriber, subscriber_id)
    if subscriber is None:
        raise NotFound("this subscription no longer exists")
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at, subscriber.unsubscribed_at = now, None
    return subscriber


def unsubscribe(session: Session, settings: Settings, token: str, now: datetime) -> None:
    subscriber_id = read_token(signing_key(session, settings), "unsubscribe", token, None)
    subscriber = session.get(EmailSubscriber, subscriber_id)
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
    session: Session, settings: Settings, articles: list[Article], now: datetime
) -> list[dict[str, Any]]:
    """Deliveries of the articles to confirmed subscribers who want each article at once."""
    subscribers = list(
        session.scalars(
            select(EmailSubscriber).where(
                EmailSubscriber.confirmed_at.is_not(None),
                EmailSubscriber.unsubscribed_at.is_(None),
                EmailSubscriber.frequency == "immediate",
            )
        )
    )
    if not subscribers:
        return []
    rows = []
    for article in articles:
        wanting = [s for s in subscribers if matches(s.categories, s.keywords, article)]
        if wanting:
            mail = new_payload(session, article_mail(settings, article, now), MAIL_TYPE, now)
            rows += [
                delivery_row(now, article.id, mail, email_subscriber_id=subscriber.id)
                for subscriber in wanting
            ]
    return rows


def send_emails(settings: Settings, key: str, attempts: list[Attempt]) -> list[AttemptResult]:
    """Send a batch of mails over one SMTP connection, each filled in for its subscriber
    (``key`` signs the unsubscribe links).

    The mails have 8-bit bodies: they go with BODY=8BITMIME, which every current SMTP
    server offers; one that does not gets them refused with that reason, not mangled.
    """
    if not attempts:
        return []
    sender = parseaddr(settings.mail_from)[1]
    try:
        smtp = smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.delivery_timeout
        )
    except OSError as exc:
        return [AttemptResult(a, None, f"SMTP server unreachable: {exc}") for a in attempts]
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


def digest_mail(settings: Settings, articles: list[Article], day: datetime, now: datetime) -> str:
    """A daily digest: the articles grouped by category (a template, like every mail)."""
    groups: dict[str, list[Article]] = {}
    for article in articles:
        groups.setdefault(article.category.name, []).append(article)
    date = format_local(day, with_time=False)
    text_parts, html_parts = [f"Tin mới ngày {date}", ""], [f"<h1>Tin mới ngày {date}</h1>"]
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
    text = "\n".join([*text_parts, "--", "Hủy nhận tin:", _UNSUBSCRIBE])
    html = "\n".join(
        [
            *html_parts,
            "<hr>",
            f'<p><small><a href="{_UNSUBSCRIBE}">',
            "Hủy nhận tin</a></small></p>",
        ]
    )
    subject = f"Bản tin ngày {date} – {settings.site_title}"
    return _mail(settings, subject, text, html, True, now)


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
        chosen = [
            a
            for a in articles
            if a.published_at > since and matches(subscriber.categories, subscriber.keywords, a)
        ]
        if chosen:
            ids = tuple(article.id for article in chosen)
            if ids not in digests:  # subscribers with the same filters share a digest
                mail = digest_mail(settings, chosen, due_at, now)
                digests[ids] = new_payload(session, mail, MAIL_TYPE, now)
            rows.append(delivery_row(now, None, digests[ids], email_subscriber_id=subscriber.id))
        subscriber.digest_through = due_at
    insert_deliveries(session, rows)
    return len(subscribers)
