"""Keyword filters of webhooks and e-mail subscribers (issue 11): kept and shown as typed
("thi đua"), matched with diacritics and case ignored, bounded in size."""

import json

from lxml import html
from sqlalchemy import select

from feedsvc.models import EmailSubscriber
from feedsvc.web import create_app
from tests.admin_helpers import make_user, post, sign_in
from tests.conftest import publish
from tests.receiver import Receiver
from tests.test_announce_rounds import mail_subscriber, news
from tests.test_webhooks import add_webhook, run_jobs


def test_webhook_keywords_are_kept_as_typed_and_matched_folded(api, db, notify_settings):
    with Receiver() as receiver:
        typed = ["Thi đua", " thi dua ", "THI ĐUA", "  ", "nông  thôn mới"]
        hook = add_webhook(api, receiver.url + "/hook", keywords=typed)
        assert hook["keywords"] == ["Thi đua", "nông thôn mới"]  # one of each, in order
        path = f"/api/v1/webhooks/{hook['id']}"
        assert api.patch(path, json={"keywords": ["thi đua"]}).get_json()["keywords"] == ["thi đua"]
        assert api.get(path).get_json()["keywords"] == ["thi đua"]
        publish(api, "PHONG TRÀO THI ĐUA YÊU NƯỚC")
        publish(api, "Giá lúa tăng")
        run_jobs(db, notify_settings)
        titles = [json.loads(r.body)["data"]["title"] for r in receiver.at("/hook")]
        assert titles == ["PHONG TRÀO THI ĐUA YÊU NƯỚC"]


def test_webhook_keywords_are_bounded(api):
    for keywords in (["x" * 101], [f"từ {n}" for n in range(51)]):
        answer = api.post("/api/v1/webhooks", json={"url": "http://x.vn/h", "keywords": keywords})
        assert answer.status_code == 422 and "keywords" in json.dumps(answer.get_json()["fields"])


def test_the_admin_adds_and_sees_keywords_as_typed(db, api, notify_settings):
    make_user(db, "lan")
    app = create_app(notify_settings)  # receivers on 127.0.0.1 allowed
    client = app.test_client()
    sign_in(client, "lan")
    form = {"url": "http://127.0.0.1:9/h", "keywords": "Thi đua, nông thôn mới"}
    answer = post(client, "/admin/subscribers/webhooks", form, page="/admin/subscribers")
    assert answer.status_code == 200
    assert api.get("/api/v1/webhooks").get_json()["items"][0]["keywords"] == [
        "Thi đua",
        "nông thôn mới",
    ]
    page = html.fromstring(client.get("/admin/subscribers").data).text_content()
    assert "từ khóa: Thi đua, nông thôn mới" in page
    app.extensions["feedsvc.db"].dispose()


def test_mail_keywords_are_kept_as_typed_and_matched_folded(api, db, mail_settings, mail):
    mail_subscriber(db, mail_settings, "lan@example.vn", [], keywords="Thi đua, , THI DUA")
    with db.sessions() as session:
        assert session.scalars(select(EmailSubscriber.keywords)).all() == [["Thi đua"]]
    publish(api, "Phong trào thi đua")
    publish(api, "Giá lúa tăng")
    run_jobs(db, mail_settings)
    assert [m["Subject"] for m in news(mail)] == ["Tin mới: Phong trào thi đua"]
