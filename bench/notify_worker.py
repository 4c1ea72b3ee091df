"""`python -m bench.notify_worker DATABASE_URL SMTP_PORT`: feedsvc's side of the
notification benchmark, in a process of its own so that its peak memory is its own.

Announces the store's one unannounced article and sends every delivery, as the worker's
jobs do; prints seconds and peak RSS as JSON.
"""

import json
import re
import sys
import time
from pathlib import Path

from feedsvc.db import create_database
from feedsvc.notify.deliver import announce_new_articles, deliver_due
from feedsvc.settings import load_settings


def main(database_url: str, smtp_port: int) -> None:
    settings = load_settings(
        database_url=database_url,
        allow_private_urls=True,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
    )
    database = create_database(database_url)
    started = time.perf_counter()
    announce_new_articles(database, settings)
    announced = time.perf_counter()
    sent = deliver_due(database, settings)
    seconds = time.perf_counter() - started
    database.dispose()
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would report the
    # benchmark process's size at the time it started this one.
    status = Path("/proc/self/status").read_text()
    peak_kib = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "fan_out_seconds": announced - started,
                "sent": sent,
                "peak_rss_mib": peak_kib / 1024,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
