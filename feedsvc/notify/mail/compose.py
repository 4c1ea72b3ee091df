"""Composing mails: templates made once per article, list or digest and shared by every
subscriber, filled in for each attempt (``fill_mail``).

Every mail has a text and an HTML part in Vietnamese; announcements a visible unsubscribe
link and ``List-Unsubscribe`` + ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``.
"""

import textwrap
from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from html import escape

from feedsvc.models import Article, EmailSubscriber
from feedsvc.notify.mail.links import make_token, unsubscribe_url
from feedsvc.notify.rows import Attempt
from feedsvc.settings import Settings
from feedsvc.text import format_local
from feedsvc.urls import article_url

MAIL_TYPE = "message/rfc822"

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
