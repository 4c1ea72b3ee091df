"""Through the real worker (issue 11): an article whose body is changed before it is
announced goes out with the summary derived from the new body, in the feeds, the webhook
payload (with its sanitised body, image and category) and the mail; keyword filters are
kept as typed ("thi đua") and matched folded."""

import json
import signal
from datetime import timedelta

import feedparser
import pytest
from lxml import html
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from feedsvc.models import Article, Delivery
from feedsvc.text import utcnow
from tests.admin_helpers import make_user, sign_in
from tests.conftest import publish, start_worker
from tests.receiver import Receiver
from tests.test_announce_rounds import mail_subscriber, news
from tests.waiting import wait_until

NEW_BODY = (
    "<p>Toàn dân thi đua lần thứ hai.</p>"
    '<p onclick="x()">Cả nước <b>hưởng ứng</b> mạnh mẽ.</p><script>x()</script>'
)
NEW_SUMMARY = "Toàn dân thi đua lần thứ hai. Cả nước hưởng ứng mạnh mẽ."
IMAGE = {"url": "http://feeds.example.vn/media/thi-dua.jpg", "type": "image/jpeg", "length": 4096}


def admin_page(app, db, path):
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    return html.fromstring(client.get(path).data).text_content()


@pytest.mark.slow
def test_a_body_changed_before_the_announcement_gives_its_new_summary_everywhere(
    database_url, api, app, db, mail_settings, mail, tmp_path
):
    with Receiver() as receiver:
        answer = api.post(
            "/api/v1/webhooks", json={"url": f"{receiver.url}/hook", "keywords": ["thi đua "]}
        )
        endpoint = answer.get_json()
        assert endpoint["keywords"] == ["thi đua"]  # as typed, trimmed
        mail_subscriber(db, mail_settings, "lan@example.vn", [], keywords="Thi đua, thi dua")
        page = admin_page(app, db, "/admin/subscribers")
        assert "từ khóa: thi đua" in page and "; Thi đua" in page  # the mail one: its first

        when = (utcnow() + timedelta(seconds=3)).isoformat()
        article = publish(
            api,
            "Phong trào Thi Đua yêu nước",
            body_html="<p>Bản nháp cũ.</p>",
            image_url=IMAGE["url"],
            image_type=IMAGE["type"],
            image_length=IMAGE["length"],
            published_at=when,
        )
        assert article["summary"] == "Bản nháp cũ."
        patched = api.patch(f"/api/v1/articles/{article['id']}", json={"body_html": NEW_BODY})
        assert patched.get_json()["summary"] == NEW_SUMMARY
        unrelated = publish(api, "Giá lúa tăng", body_html="<p>Thị trường lúa gạo.</p>")

        log = tmp_path / "worker.log"
        worker = start_worker(
            database_url,
            log,
            notify_tick_seconds="1",
            smtp_host="127.0.0.1",
            smtp_port=str(mail_settings.smtp_port),
        )
        try:
            assert wait_until(lambda: receiver.at("/hook") and news(mail), 30), log.read_text()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=15)

    [received] = receiver.at("/hook")
    event = Webhook(endpoint["secret"]).verify(received.body, received.headers)
    data = event["data"]
    assert data["title"] == "Phong trào Thi Đua yêu nước"
    assert data["summary"] == NEW_SUMMARY
    assert data["content_html"] == patched.get_json()["body_html"]
    assert "Cả nước <b>hưởng ứng</b> mạnh mẽ." in data["content_html"]
    assert "script" not in data["content_html"] and "onclick" not in data["content_html"]
    assert data["image"] == IMAGE
    assert data["category"]["slug"] == "thoi-su" and data["category"]["name"] == "Thời sự"

    [message] = news(mail)
    assert message["Subject"] == "Tin mới: Phong trào Thi Đua yêu nước"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Toàn dân thi đua lần thứ hai." in text and "Bản nháp cũ" not in text

    rss = feedparser.parse(api.get("/feeds/thoi-su.rss").data)
    [entry] = [e for e in rss.entries if e.title == "Phong trào Thi Đua yêu nước"]
    assert entry.summary == NEW_SUMMARY
    items = json.loads(api.get("/feeds/thoi-su.json").data)["items"]
    [item] = [i for i in items if i["title"] == "Phong trào Thi Đua yêu nước"]
    assert item["summary"] == NEW_SUMMARY

    with db.sessions() as session:  # the unrelated article was announced, to nobody
        assert session.get(Article, unrelated["id"]).announced_at is not None
        sent = session.scalars(select(Delivery.article_id).where(Delivery.article_id.is_not(None)))
        assert sorted(sent) == [article["id"], article["id"]]  # the webhook and the mail
