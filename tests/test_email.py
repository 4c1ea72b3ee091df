"""E-mail subscriptions: the form (CSRF, rate limit), double opt-in, mails read back from a
real SMTP server (RFC 2047 subjects, text and HTML parts, RFC 8058 one-click unsubscribe),
and links that change nothing until their page's button is pressed (mail scanners)."""

import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from lxml import html

from feedsvc.instance_key import signing_key
from feedsvc.notify.deliver import announce_new_articles, deliver_due
from feedsvc.notify.mail.subscriptions import page_subscribers
from feedsvc.paging import Position
from feedsvc.web import create_app
from tests.conftest import publish

SITE = "http://feeds.example.vn"


@pytest.fixture
def site(mail_settings, api):
    """A reader's browser: the public app, with cookies (the API client makes articles)."""
    app = create_app(mail_settings)
    yield app.test_client()
    app.extensions["feedsvc.db"].dispose()


def post_form(site, fields, ip="192.0.2.1"):
    page = html.fromstring(site.get("/subscribe").data)
    token = page.xpath("//input[@name='csrf_token']/@value")[0]
    return site.post(
        "/subscribe", data={"csrf_token": token, **fields}, environ_base={"REMOTE_ADDR": ip}
    )


def send(db, settings):
    announce_new_articles(db, settings)
    return deliver_due(db, settings)


def link_in(message, pattern):
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(pattern, text).group(0)


def confirmation_link(message):
    return link_in(message, r"http://feeds\.example\.vn/subscribe/confirm/\S+")


def press_the_button(site, url):
    """What a reader does with a link of a mail: open it, then press its page's button."""
    path = url.removeprefix(SITE)
    page = site.get(path)
    assert page.status_code == 200, page.data.decode()
    [form] = html.fromstring(page.data).xpath("//form[@method='post']")
    assert form.get("action") == path and form.xpath(".//button[@type='submit']")
    fields = {field.get("name"): field.get("value") for field in form.xpath(".//input")}
    return site.post(form.get("action"), data=fields)


def subscriber_state(db):
    """Each address's (confirmed, unsubscribed), read through the service."""
    with db.transaction() as session:
        return {
            s.email: (s.confirmed_at is not None, s.unsubscribed_at is not None)
            for s in page_subscribers(session, Position(), 1000).items
        }


def test_double_opt_in_then_mails_with_one_click_unsubscribe(site, api, db, mail_settings, mail):
    answer = post_form(
        site, {"email": "Lan@Example.vn", "categories": ["thoi-su"], "frequency": "immediate"}
    )
    assert answer.status_code == 200 and "Kiểm tra hộp thư" in answer.data.decode()
    publish(api, "Tin trước khi xác nhận")
    send(db, mail_settings)
    [confirmation] = mail.messages  # no article mail before the address is confirmed
    assert confirmation["To"] == "lan@example.vn"
    assert confirmation["Subject"].startswith("Xác nhận đăng ký nhận tin")
    assert b"Subject: =?utf-8?" in mail.raw[0]  # RFC 2047
    assert press_the_button(site, confirmation_link(confirmation)).status_code == 200
    publish(api, "Hội nghị tổng kết công tác thi đua")
    publish(api, "Giá lúa tăng", category="kinh-te")  # not asked for
    send(db, mail_settings)
    [news] = mail.messages[1:]
    assert news["Subject"] == "Tin mới: Hội nghị tổng kết công tác thi đua"
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = news["List-Unsubscribe"].strip().strip("<>")  # may be folded
    assert unsubscribe_url.startswith("http://feeds.example.vn/unsubscribe/")
    text = news.get_body(preferencelist=("plain",)).get_content()
    page = news.get_body(preferencelist=("html",)).get_content()
    assert unsubscribe_url in text and unsubscribe_url in page  # visible in both parts
    assert "Hủy nhận tin" in text and "Hội nghị tổng kết công tác thi đua" in page
    # RFC 8058: the mail client POSTs to the link, without any form or CSRF token
    one_click = site.post(
        unsubscribe_url.removeprefix("http://feeds.example.vn"),
        data={"List-Unsubscribe": "One-Click"},
    )
    assert one_click.status_code == 200
    publish(api, "Tin sau khi hủy")
    send(db, mail_settings)
    assert len(mail.messages) == 2


def test_keywords_ignore_diacritics_and_one_connection_serves_a_batch(
    site, api, db, mail_settings, mail
):
    for n in range(3):
        post_form(
            site,
            {"email": f"dan{n}@example.vn", "keywords": "THI DUA, nong thon moi"},
            ip=f"192.0.2.{n + 10}",
        )
    send(db, mail_settings)
    for confirmation in mail.messages:
        press_the_button(site, confirmation_link(confirmation))
    mail.messages.clear()
    mail.connections = 0
    publish(api, "Phát động phong trào thi đua", category="kinh-te")
    publish(api, "Giá vàng hôm nay")
    send(db, mail_settings)
    assert sorted(m["To"] for m in mail.messages) == [f"dan{n}@example.vn" for n in range(3)]
    assert mail.connections == 1
    # one template filled in per subscriber: each mail is its own
    assert len({m["Message-ID"] for m in mail.messages}) == 3
    leave = [m["List-Unsubscribe"].strip("<>") for m in mail.messages]
    assert len(set(leave)) == 3
    for message, url in zip(mail.messages, leave, strict=True):
        assert url in message.get_body(preferencelist=("plain",)).get_content()
        assert url in message.get_body(preferencelist=("html",)).get_content()
    assert all("BODY=8BITMIME" in options for options in mail.mail_options)
    assert max(len(line) for raw in mail.raw for line in raw.splitlines()) <= 998
    site.post(leave[0].removeprefix("http://feeds.example.vn"))  # only dan0 leaves
    publish(api, "Thi đua yêu nước")
    send(db, mail_settings)
    assert sorted(m["To"] for m in mail.messages[3:]) == ["dan1@example.vn", "dan2@example.vn"]


def test_the_form_is_protected_and_rate_limited(site, mail_settings):
    no_token = site.post("/subscribe", data={"email": "a@example.vn"})
    assert no_token.status_code == 400
    invalid = post_form(site, {"email": "không phải địa chỉ"})
    assert invalid.status_code == 422 and "Địa chỉ không hợp lệ" in invalid.data.decode()
    unicode = post_form(site, {"email": "lan@bưuđiện.vn"})
    assert unicode.status_code == 422 and "Địa chỉ không hợp lệ" in unicode.data.decode()
    for n in range(mail_settings.subscribe_per_hour):  # the invalid one was not counted
        assert post_form(site, {"email": f"a{n}@example.vn"}).status_code == 200
    assert post_form(site, {"email": "b@example.vn"}).status_code == 429
    assert post_form(site, {"email": "b@example.vn"}, ip="198.51.100.7").status_code == 200


def test_opening_the_confirmation_link_confirms_nothing_its_button_does(
    site, api, db, mail_settings, mail
):
    post_form(site, {"email": "lan@example.vn", "frequency": "immediate"})
    send(db, mail_settings)
    path = confirmation_link(mail.messages.pop()).removeprefix(SITE)
    for _ in range(2):  # a mail scanner, then the reader
        page = site.get(path)
        assert page.status_code == 200
        assert "Xác nhận đăng ký nhận tin" in page.data.decode()
        assert "lan@example.vn" in page.data.decode()
    assert subscriber_state(db) == {"lan@example.vn": (False, False)}
    publish(api, "Tin trước khi bấm nút")
    send(db, mail_settings)
    assert mail.messages == []
    done = press_the_button(site, path)  # a form post without a CSRF token: the link is proof
    assert done.status_code == 200 and "Đăng ký thành công" in done.data.decode()
    assert subscriber_state(db) == {"lan@example.vn": (True, False)}
    again = site.get(path)
    assert "Địa chỉ đã được xác nhận" in again.data.decode()
    assert not html.fromstring(again.data).xpath("//form[@method='post']")
    publish(api, "Tin sau khi bấm nút")
    send(db, mail_settings)
    assert [m["Subject"] for m in mail.messages] == ["Tin mới: Tin sau khi bấm nút"]


def test_opening_the_unsubscribe_link_changes_nothing_its_button_unsubscribes(
    site, api, db, mail_settings, mail
):
    post_form(site, {"email": "lan@example.vn", "frequency": "immediate"})
    send(db, mail_settings)
    confirm_url = confirmation_link(mail.messages.pop())
    press_the_button(site, confirm_url)
    publish(api, "Tin 1")
    send(db, mail_settings)
    path = mail.messages.pop()["List-Unsubscribe"].strip().strip("<>").removeprefix(SITE)
    page = site.get(path)  # a mail scanner
    assert page.status_code == 200 and "Hủy nhận tin qua thư điện tử" in page.data.decode()
    assert subscriber_state(db) == {"lan@example.vn": (True, False)}
    done = press_the_button(site, path)
    assert done.status_code == 200 and "Đã hủy nhận tin" in done.data.decode()
    assert subscriber_state(db) == {"lan@example.vn": (True, True)}
    assert not html.fromstring(site.get(path).data).xpath("//form[@method='post']")
    for method in ("GET", "POST"):  # the old confirmation link does not bring it back
        answer = site.open(confirm_url.removeprefix(SITE), method=method)
        assert "Muốn nhận tin lại, xin đăng ký" in answer.data.decode()
    assert subscriber_state(db) == {"lan@example.vn": (True, True)}
    publish(api, "Tin 2")
    send(db, mail_settings)
    assert mail.messages == []


def test_rfc_8058_one_click_post_unsubscribes_without_a_page(site, api, db, mail_settings, mail):
    post_form(site, {"email": "lan@example.vn", "frequency": "immediate"})
    send(db, mail_settings)
    press_the_button(site, confirmation_link(mail.messages.pop()))
    publish(api, "Tin")
    send(db, mail_settings)
    [news] = mail.messages
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click = site.post(
        news["List-Unsubscribe"].strip().strip("<>").removeprefix(SITE),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert one_click.status_code == 200
    assert subscriber_state(db) == {"lan@example.vn": (True, True)}


class _FourDaysAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 4 * 24 * 3600


def test_bad_links_get_clear_answers_in_vietnamese(site, db, mail_settings, mail):
    post_form(site, {"email": "lan@example.vn"})
    send(db, mail_settings)
    mail.messages.clear()
    for path in ("/subscribe/confirm/forged", "/unsubscribe/forged"):
        for method in ("GET", "POST"):
            answer = site.open(path, method=method)
            assert answer.status_code == 404, (method, path)
            assert "Liên kết này không hợp lệ" in answer.data.decode()
    with db.transaction() as session:
        key = signing_key(session, mail_settings)
        [subscriber_id] = [s.id for s in page_subscribers(session, Position(), 1000).items]
    old = URLSafeTimedSerializer(key, salt="feedsvc-confirm", signer=_FourDaysAgo)
    expired = f"/subscribe/confirm/{old.dumps(subscriber_id)}"
    for method in ("GET", "POST"):
        answer = site.open(expired, method=method)
        assert answer.status_code == 400
        assert "Liên kết này đã hết hạn" in answer.data.decode()
    assert subscriber_state(db) == {"lan@example.vn": (False, False)}


def test_daily_digest_groups_the_day_by_category_and_is_silent_without_news(
    site, api, db, mail_settings, mail
):
    from datetime import timedelta

    from sqlalchemy import update

    from feedsvc.models import Delivery
    from feedsvc.notify.mail.digests import last_digest_time, queue_digests
    from feedsvc.text import utcnow

    post_form(site, {"email": "sang@example.vn", "frequency": "daily"})
    send(db, mail_settings)
    press_the_button(site, confirmation_link(mail.messages.pop()))
    due = last_digest_time(mail_settings, utcnow() + timedelta(days=2))
    for title, category, before in [
        ("Khai mạc kỳ họp Hội đồng nhân dân", "thoi-su", 2),
        ("Xuất khẩu gạo tăng", "kinh-te", 3),
        ("Tin của hôm kia", "thoi-su", 30),  # before the previous digest: not again
    ]:
        publish(
            api, title, category=category, published_at=(due - timedelta(hours=before)).isoformat()
        )

    def run_digest_at(now):
        with db.transaction() as session:
            queue_digests(session, mail_settings, now)
            session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        deliver_due(db, mail_settings)

    run_digest_at(due + timedelta(minutes=5))
    [digest] = mail.messages
    assert digest["Subject"].startswith("Bản tin ngày ")
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = digest.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert "THỜI SỰ\n- Khai mạc kỳ họp Hội đồng nhân dân" in text
    assert "KINH TẾ\n- Xuất khẩu gạo tăng" in text
    assert "Tin của hôm kia" not in text
    run_digest_at(due + timedelta(minutes=10))  # served already
    run_digest_at(due + timedelta(days=1, minutes=5))  # a day with nothing new: no mail
    assert len(mail.messages) == 1
