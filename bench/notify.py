"""Notifications: one new article fanned out to 10,000 webhook endpoints and 1,000 e-mail
subscribers (quick: 1,000 and 100), receivers on 127.0.0.1 in another process.

feedsvc (in a subprocess, ``bench.notify_worker``): the worker's jobs, announce then
deliver, with signing, the outbox bookkeeping and one SMTP connection per batch. Baseline,
in the same run: a bare loop replaying what feedsvc sent, the same bodies and headers (same
concurrency, same client), and the same mails over one SMTP connection, without feedsvc.
Target: deliveries/s ≥ 0.7 × the baseline's; the worker's peak RSS is reported.
"""

import json
import smtplib
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import httpx
from sqlalchemy import select

from bench import BenchError
from bench.databases import Databases
from bench.report import table
from bench.serving import free_port
from feedsvc.articles import ArticleCreate, create_article
from feedsvc.categories import create_category
from feedsvc.db import create_database
from feedsvc.instance_key import signing_key
from feedsvc.models import Delivery, DeliveryPayload, EmailSubscriber, WebhookEndpoint
from feedsvc.notify.channels.webhook import signed_headers
from feedsvc.notify.mail.compose import fill_mail
from feedsvc.notify.rows import Attempt
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.settings import load_settings
from feedsvc.text import utcnow

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3


class Receivers:
    def __init__(self) -> None:
        self.http_port, self.smtp_port = free_port(), free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.receivers", str(self.http_port), str(self.smtp_port)],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.counts()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("the receivers did not start", exit_code=2) from None
                time.sleep(0.1)

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/", timeout=5) as answer:
            return dict(json.load(answer))

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def make_store(databases: Databases, receivers: Receivers, hooks: int, mails: int) -> str:
    url = databases.fresh(f"notify-{hooks}")
    settings = load_settings(database_url=url, allow_private_urls=True)
    database = create_database(url)
    now = utcnow()
    with database.transaction() as session:
        create_category(session, "Thời sự", now)
        for n in range(hooks):
            hook = EndpointCreate(url=f"http://127.0.0.1:{receivers.http_port}/e{n}")
            add_endpoint(session, hook, settings, now)
        session.add_all(  # confirmed subscribers: the double opt-in is not what is measured
            EmailSubscriber(
                email=f"dan{n}@example.vn",
                created_at=now,
                confirmed_at=now,
                categories=[],
                keywords=[],
                frequency="immediate",
            )
            for n in range(mails)
        )
    with database.transaction() as session:
        body = "<p>" + "Nội dung bài viết về phong trào thi đua. " * 40 + "</p>"
        create_article(
            session,
            ArticleCreate(category="thoi-su", title="Tin khẩn của tỉnh", body_html=body),
            settings.base_url,
            now,
        )
    database.dispose()
    return url


@dataclass(frozen=True)
class Replay:
    """What feedsvc sent, to be sent again by the bare loop: the same bytes and headers."""

    posts: list[tuple[str, bytes, dict[str, str]]]  # url, body, headers
    mails: list[tuple[str, bytes]]  # recipient, message


def sent_by_feedsvc(url: str) -> Replay:
    """Read the delivered payloads back; the webhook headers and each subscriber's mail are
    made up front (signing and filling in are feedsvc's work, not the bare loop's)."""
    database = create_database(url)
    settings = load_settings(database_url=url, allow_private_urls=True)
    posts, mails = [], []
    with database.sessions() as session:
        rows = session.execute(
            select(Delivery, DeliveryPayload, WebhookEndpoint, EmailSubscriber)
            .join(DeliveryPayload, Delivery.payload_id == DeliveryPayload.id)
            .outerjoin(WebhookEndpoint, Delivery.endpoint_id == WebhookEndpoint.id)
            .outerjoin(EmailSubscriber, Delivery.email_subscriber_id == EmailSubscriber.id)
            .where(Delivery.state == "delivered")
        ).all()
        key, now = signing_key(session, settings), utcnow()
        for delivery, payload, endpoint, subscriber in rows:
            attempt = Attempt(
                delivery.id,
                delivery.message_id,
                "webhook" if endpoint else "email",
                endpoint.id if endpoint else None,
                subscriber.id if subscriber else None,
                endpoint.url if endpoint else subscriber.email,
                endpoint.secret if endpoint else None,
                payload.body,
                payload.content_type,
                None,
                0,
            )
            if endpoint:
                body = payload.body.encode()
                posts.append((endpoint.url, body, signed_headers(attempt, now)))
            else:
                mails.append((subscriber.email, fill_mail(settings, key, attempt)))
    database.dispose()
    return Replay(posts, mails)


def bare_loop(receivers: Receivers, replay: Replay) -> float:
    """The same posts and sends, without feedsvc: the cheapest way to make them."""
    started = time.perf_counter()
    with httpx.Client() as client, ThreadPoolExecutor(16) as pool:

        def post(sent: tuple[str, bytes, dict[str, str]]) -> int:
            url, body, headers = sent
            return client.post(url, content=body, headers=headers).status_code

        if set(pool.map(post, replay.posts)) != {204}:
            raise BenchError("the bare loop's posts were not all accepted")
    with smtplib.SMTP("127.0.0.1", receivers.smtp_port) as smtp:
        for recipient, message in replay.mails:
            smtp.sendmail("no-reply@example.vn", [recipient], message, ["BODY=8BITMIME"])
    return time.perf_counter() - started


def run_feedsvc(url: str, receivers: Receivers) -> dict[str, Any]:
    worker = subprocess.run(
        [sys.executable, "-m", "bench.notify_worker", url, str(receivers.smtp_port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if worker.returncode != 0:
        raise BenchError(f"feedsvc's worker failed:\n{worker.stderr[-3000:]}")
    return dict(json.loads(worker.stdout.strip().splitlines()[-1]))


def run(databases: Databases, quick: bool) -> dict[str, Any]:
    """ROUNDS rounds, each on a fresh store, feedsvc and the bare loop in turn (the order
    reversed every other round); the medians. The bare loop replays what feedsvc sent in
    the first round."""
    hooks, mails = (1_000, 100) if quick else (10_000, 1_000)
    total = hooks + mails
    receivers = Receivers()
    replay: Replay | None = None
    rounds: list[dict[str, Any]] = []
    try:
        for n in range(ROUNDS):
            url = make_store(databases, receivers, hooks, mails)
            before = receivers.counts()
            order = ("feedsvc", "bare") if n % 2 == 0 else ("bare", "feedsvc")
            for side in order:
                if side == "feedsvc":
                    ours = run_feedsvc(url, receivers)
                    replay = replay or sent_by_feedsvc(url)
                else:
                    assert replay is not None  # the first round runs feedsvc first
                    bare = bare_loop(receivers, replay)
            received = {k: v - before[k] for k, v in receivers.counts().items()}
            if received != {"posts": 2 * hooks, "mails": 2 * mails} or ours["sent"] != total:
                raise BenchError(f"expected {hooks} posts and {mails} mails each; got {received}")
            rounds.append({"feedsvc": ours, "bare_seconds": bare})
    finally:
        receivers.close()
    feedsvc_seconds = median(r["feedsvc"]["seconds"] for r in rounds)
    bare_seconds = median(r["bare_seconds"] for r in rounds)
    ratio = bare_seconds / feedsvc_seconds
    return {
        "webhooks": hooks,
        "mails": mails,
        "rounds": rounds,
        "feedsvc_seconds": feedsvc_seconds,
        "feedsvc_fan_out_seconds": median(r["feedsvc"]["fan_out_seconds"] for r in rounds),
        "bare_seconds": bare_seconds,
        "feedsvc_per_second": total / feedsvc_seconds,
        "bare_per_second": total / bare_seconds,
        "ratios": [r["bare_seconds"] / r["feedsvc"]["seconds"] for r in rounds],
        "ratio": ratio,
        "target": 0.7,
        "worker_peak_rss_mib": max(r["feedsvc"]["peak_rss_mib"] for r in rounds),
        "passed": ratio >= 0.7,
    }


def print_report(result: dict[str, Any]) -> None:
    print(f"\nnotify: one article to {result['webhooks']:,} webhooks and {result['mails']:,} mails")
    verdict = "PASS" if result["passed"] else "FAIL"
    print(
        f"  medians of {len(result['rounds'])} rounds: feedsvc {result['feedsvc_seconds']:.1f} s,"
        f" of which fan-out {result['feedsvc_fan_out_seconds']:.1f} s; bare loop "
        f"{result['bare_seconds']:.1f} s; ratio per round "
        + ", ".join(f"{r:.2f}" for r in result["ratios"])
    )
    print(
        table(
            ["case", "feedsvc /s", "bare loop /s", "ratio", "target", "", "worker peak RSS"],
            [
                [
                    "fan-out + delivery",
                    f"{result['feedsvc_per_second']:,.0f}",
                    f"{result['bare_per_second']:,.0f}",
                    f"{result['ratio']:.2f}",
                    f">= {result['target']}",
                    verdict,
                    f"{result['worker_peak_rss_mib']:.0f} MiB",
                ]
            ],
        )
    )
