"""Notifications: one new article fanned out to 10,000 webhook endpoints and 1,000 e-mail
subscribers (quick: 1,000 and 100), receivers on 127.0.0.1 in another process.

feedsvc (in a subprocess, ``bench.notify_worker``): the worker's jobs, announce then
deliver, with signing, the outbox bookkeeping and one SMTP connection per batch. Baseline,
in the same run: a bare loop making the same HTTP POSTs (same concurrency, same client) and
the same SMTP sends over one connection, without feedsvc. Target: deliveries/s ≥ 0.7 × the
baseline's; the worker's peak RSS is reported.
"""

import json
import smtplib
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from bench import BenchError
from bench.databases import Databases
from bench.report import table
from bench.serving import free_port
from feedsvc.articles import ArticleCreate, create_article
from feedsvc.categories import create_category
from feedsvc.db import create_database
from feedsvc.models import EmailSubscriber
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.settings import load_settings
from feedsvc.text import utcnow

ROOT = Path(__file__).resolve().parents[1]


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


def bare_loop(receivers: Receivers, hooks: int, mails: int, payload: bytes) -> float:
    """The same posts and sends, without feedsvc: the cheapest way to make them."""
    message = EmailMessage()
    message["From"], message["Subject"] = "no-reply@example.vn", "Tin mới: Tin khẩn của tỉnh"
    message.set_content(payload.decode())
    started = time.perf_counter()
    with httpx.Client() as client, ThreadPoolExecutor(16) as pool:

        def post(n: int) -> int:
            url = f"http://127.0.0.1:{receivers.http_port}/e{n}"
            return client.post(
                url, content=payload, headers={"content-type": "application/json"}
            ).status_code

        if set(pool.map(post, range(hooks))) != {204}:
            raise BenchError("the bare loop's posts were not all accepted")
    with smtplib.SMTP("127.0.0.1", receivers.smtp_port) as smtp:
        for n in range(mails):
            del message["To"]
            message["To"] = f"dan{n}@example.vn"
            smtp.sendmail("no-reply@example.vn", [f"dan{n}@example.vn"], message.as_bytes())
    return time.perf_counter() - started


def run(databases: Databases, quick: bool) -> dict[str, Any]:
    hooks, mails = (1_000, 100) if quick else (10_000, 1_000)
    receivers = Receivers()
    try:
        url = make_store(databases, receivers, hooks, mails)
        before = receivers.counts()
        bare = bare_loop(receivers, hooks, mails, b'{"type": "article.published"}' * 20)
        worker = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.notify_worker",
                url,
                str(receivers.http_port),
                str(receivers.smtp_port),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        if worker.returncode != 0:
            raise BenchError(f"feedsvc's worker failed:\n{worker.stderr[-3000:]}")
        ours = json.loads(worker.stdout.strip().splitlines()[-1])
        after = receivers.counts()
    finally:
        receivers.close()
    received = {k: after[k] - before[k] for k in after}
    if received != {"posts": 2 * hooks, "mails": 2 * mails} or ours["sent"] != hooks + mails:
        raise BenchError(f"expected {hooks} posts and {mails} mails each side; got {received}")
    total = hooks + mails
    ratio = (total / ours["seconds"]) / (total / bare)
    return {
        "webhooks": hooks,
        "mails": mails,
        "feedsvc_seconds": ours["seconds"],
        "feedsvc_fan_out_seconds": ours["fan_out_seconds"],
        "bare_seconds": bare,
        "feedsvc_per_second": total / ours["seconds"],
        "bare_per_second": total / bare,
        "ratio": ratio,
        "target": 0.7,
        "worker_peak_rss_mib": ours["peak_rss_mib"],
        "passed": ratio >= 0.7,
    }


def print_report(result: dict[str, Any]) -> None:
    print(f"\nnotify: one article to {result['webhooks']:,} webhooks and {result['mails']:,} mails")
    verdict = "PASS" if result["passed"] else "FAIL"
    print(
        f"  feedsvc: {result['feedsvc_seconds']:.1f} s, of which fan-out "
        f"{result['feedsvc_fan_out_seconds']:.1f} s; bare loop {result['bare_seconds']:.1f} s"
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
