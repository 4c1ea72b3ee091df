"""Signed links of subscription mails: the subscriber's id signed with the instance key
(itsdangerous) for one purpose, so no token is stored."""

from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from feedsvc.errors import N_, Expired, NotFound
from feedsvc.settings import Settings


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


def unsubscribe_url(settings: Settings, key: str, subscriber_id: int) -> str:
    return f"{settings.base_url}/unsubscribe/{make_token(key, 'unsubscribe', subscriber_id)}"
