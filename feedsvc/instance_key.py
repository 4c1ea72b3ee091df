"""The instance's signing key: one secret per installation that signs what the service hands
out and later reads back (the web edge's CSRF tokens and session cookies, the links in
subscription mails).

It is ``secret_key`` from the settings when given; otherwise the random key migration 0007
stored in ``instance_keys``, shared by every process of the installation. Neutral on purpose:
the web factory and the e-mail channel both need it, and neither should import the other.
"""

from sqlalchemy.orm import Session

from feedsvc.errors import N_, NotFound
from feedsvc.models import InstanceKey
from feedsvc.settings import Settings


def signing_key(session: Session, settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    key = session.get(InstanceKey, "signing")
    if key is None:
        raise NotFound(N_("Chưa có khóa ký: hãy chạy `feedsvc db upgrade`"))
    return key.value
