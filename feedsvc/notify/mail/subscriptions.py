"""The subscription form's logic: subscribing, confirming, unsubscribing, and the list of
subscribers for the admin UI."""

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.errors import N_, InvalidInput, NotFound
from feedsvc.instance_key import signing_key
from feedsvc.models import Category, EmailSubscriber
from feedsvc.notify.mail.compose import MAIL_TYPE, confirmation_mail
from feedsvc.notify.mail.links import read_token
from feedsvc.notify.rows import clean_keywords, delivery_row, insert_deliveries, new_payload
from feedsvc.paging import Page, Position, keyset_page
from feedsvc.ratelimit import take
from feedsvc.settings import Settings

CONFIRM_MAX_AGE = timedelta(days=3)
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
