"""`python -m bench.hostile_worker DATABASE_URL`: feedsvc's worker for the hostile benchmark.

The deployed worker's ``Jobs`` (its scheduler, fetch and delivery clients, parser processes)
without the announce job: the round's deliveries are made before it starts, and announcing
the articles it ingests to 10,000 endpoints is the notification benchmark's subject, not
this one's.

A line protocol on stdin/stdout, so that start-up is not timed: it prints ``ready`` once the
parser processes are up, starts the jobs on ``go`` and prints when (JSON), and on ``stop``
(or the end of stdin: the benchmark is gone) stops the parser processes and exits at once,
without waiting for the calls still in flight.
"""

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from bench.ingest import make_feed
from feedsvc.db import create_database
from feedsvc.scheduler import Jobs
from feedsvc.settings import load_settings
from feedsvc.text import utcnow


def main(database_url: str) -> None:
    settings = load_settings(database_url=database_url, allow_private_urls=True)
    jobs = Jobs(settings, create_database(database_url))
    jobs.scheduler.remove_job("announce-new-articles")
    processes = settings.parse_processes or os.cpu_count() or 1
    feed = make_feed(0)
    with ThreadPoolExecutor(processes) as warm_up:  # at once, so every process is started
        list(
            warm_up.map(
                lambda _: jobs.parsers.parse(feed, "http://127.0.0.1/", ""), range(processes)
            )
        )
    print("ready", flush=True)
    if sys.stdin.readline().strip() == "go":
        started = utcnow()
        for job in jobs.scheduler.get_jobs():  # due now, not when Jobs was made
            job.modify(next_run_time=started)
        jobs.start()
        print(json.dumps({"started": started.isoformat()}), flush=True)
        sys.stdin.readline()
    jobs.parsers.close()
    sys.stdout.flush()
    os._exit(0)  # the jobs' threads may be inside a slow call: not waited for


if __name__ == "__main__":
    main(sys.argv[1])
