"""Serving benchmark: feedsvc's cached feed and its 304, against the bare app, under gunicorn.

Both servers run at once on the same config (2 gthread workers); wrk drives one at a time, in
alternating runs, and the medians of the rounds are compared.
"""

import http.client
import socket
import statistics
from typing import Any

from bench import BenchError, wrk
from bench.cpu import CpuWindow
from bench.data import FEED_CATEGORY, serving_store
from bench.databases import RESULTS_DIR, Databases
from bench.gunicorn import WORKERS, Gunicorn
from bench.report import table

TARGET_RATIO = 0.8
FEED_PATH = f"/feeds/{FEED_CATEGORY}.rss"
FEED_ITEMS = 50
CONNECTIONS = 8
ROUNDS = 3
ATTEMPTS = 6  # per run, while the connections land on one worker only (quick: 2)
BALANCE = 0.25  # least share of the server's CPU time each worker must have had
BUSY_CORES = 0.3  # other load above this during a run makes req/s untrustworthy
CASES = ("GET 200", "If-None-Match 304")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(base_url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, int]:
    """(status, headers, body, approximate header bytes) of one GET of the feed."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", FEED_PATH, headers=headers)
        response = connection.getresponse()
        body = response.read()
        header_bytes = 20 + sum(len(k) + len(v) + 4 for k, v in response.getheaders())
        return response.status, dict(response.getheaders()), body, header_bytes
    finally:
        connection.close()


def _expect(server: Gunicorn, body: bytes, etag: str) -> dict[str, tuple[float, float]]:
    """Check one server answers both cases as intended; the byte bounds of each for wrk."""
    status, headers, got, header_bytes = fetch(server.base_url, {})
    if status != 200 or got != body or headers.get("ETag") != etag:
        raise BenchError(f"{server.name}: GET gave {status}, ETag {headers.get('ETag')}")
    status, headers, got, not_modified_bytes = fetch(server.base_url, {"If-None-Match": etag})
    if status != 304 or got:
        raise BenchError(f"{server.name}: If-None-Match gave {status} with {len(got)} bytes")
    return {
        CASES[0]: (len(body) + header_bytes * 0.5, len(body) + header_bytes * 2 + 256),
        CASES[1]: (not_modified_bytes * 0.5, not_modified_bytes * 2 + 256),
    }


def _run_case(
    server: Gunicorn,
    case: str,
    seconds: int,
    etag: str,
    bounds: tuple[float, float],
    attempts: int,
    database: str,
) -> dict[str, Any]:
    """One wrk run; again (up to ``attempts`` times) if one worker got all the connections.

    wrk opens its connections at once and keeps them; the gthread worker that wakes first
    often accepts every one, and the other idles for the whole run (measured: all of the CPU
    time in one worker in about half the runs, at -c8 as at -c32). Such a run measures one
    worker, not the server, so it is repeated; the attempts are recorded.
    """
    headers = {"If-None-Match": etag} if case == CASES[1] else {}
    attempt = 0
    while True:
        attempt += 1
        window = CpuWindow(server.workers(), database)
        result = wrk.run(server.base_url + FEED_PATH, seconds, CONNECTIONS, headers)
        cpu = window.close(result.requests)
        wrk.check(result, f"{server.name} {case}", *bounds)
        spent = cpu["per_process_cpu_s"]
        balanced = sum(spent) > 0 and min(spent) >= BALANCE * sum(spent)
        if balanced or attempt == attempts:
            return {**result.as_dict(), **cpu, "attempts": attempt, "balanced": balanced}


def _median(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(float(result[key]) for result in results))


def _summarise(case: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    rps = {name: _median(results, "requests_per_s") for name, results in runs.items()}
    server = {name: _median(results, "server_cpu_us_per_request") for name, results in runs.items()}
    database = {
        name: _median(results, "database_cpu_us_per_request") for name, results in runs.items()
    }
    cpu = {name: server[name] + database[name] for name in runs}
    ratio = rps["feedsvc"] / rps["bare"]
    return {
        "case": case,
        "feedsvc_rps": round(rps["feedsvc"], 1),
        "bare_rps": round(rps["bare"], 1),
        "ratio": round(ratio, 3),
        "target": f">= {TARGET_RATIO}",
        "passed": ratio >= TARGET_RATIO,
        # CPU time per request of the gunicorn workers plus, on PostgreSQL, of the database.
        "feedsvc_cpu_us_per_request": round(cpu["feedsvc"], 1),
        "bare_cpu_us_per_request": round(cpu["bare"], 1),
        "feedsvc_database_cpu_us_per_request": round(database["feedsvc"], 1),
        # Like ratio, but from CPU time per request: steadier when the machine is busy.
        "cpu_ratio": round(cpu["bare"] / cpu["feedsvc"], 3) if cpu["feedsvc"] else None,
        "other_cores_max": max(r["other_cores"] for results in runs.values() for r in results),
        "unbalanced_runs": sum(not r["balanced"] for results in runs.values() for r in results),
        "attempts": sum(r["attempts"] for results in runs.values() for r in results),
    }


def run(databases: Databases, quick: bool) -> dict[str, Any]:
    seconds, warmup, attempts = (2, 1, 2) if quick else (10, 3, ATTEMPTS)
    database = "postgres" if databases.backend == "postgresql" else ""
    ports = free_port(), free_port()
    ours_url = f"http://127.0.0.1:{ports[0]}"
    database_url = databases.fresh("serving")
    articles = serving_store(database_url, ours_url)
    servers: list[Gunicorn] = []
    try:
        ours = Gunicorn(
            "feedsvc",
            "feedsvc.web:create_app()",
            ports[0],
            {"FEEDSVC_DATABASE_URL": database_url, "FEEDSVC_BASE_URL": ours_url},
            RESULTS_DIR / "gunicorn-feedsvc.log",
        )
        servers.append(ours)
        ours.wait_until_answers("/healthz")
        status, headers, body, _ = fetch(ours.base_url, {})  # fills one worker's cache
        etag = headers.get("ETag", "")
        if status != 200 or not etag or body.count(b"<item>") != FEED_ITEMS:
            raise BenchError(f"feedsvc: {FEED_PATH} gave {status}, {body.count(b'<item>')} items")
        body_file = RESULTS_DIR / "bare-body.rss"
        body_file.write_bytes(body)
        bare = Gunicorn(
            "bare",
            "bench.bare_app:create_app()",
            ports[1],
            {
                "BENCH_BARE_PATH": FEED_PATH,
                "BENCH_BARE_BODY": str(body_file),
                "BENCH_BARE_CONTENT_TYPE": headers["Content-Type"],
                "BENCH_BARE_ETAG": etag.strip('"'),
            },
            RESULTS_DIR / "gunicorn-bare.log",
        )
        servers.append(bare)
        bare.wait_until_answers(FEED_PATH)
        bounds = {server.name: _expect(server, body, etag) for server in servers}
        for server in servers:  # every worker of both builds/loads what it serves
            for case in CASES:
                _run_case(server, case, warmup, etag, bounds[server.name][case], 1, database)
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            case: {server.name: [] for server in servers} for case in CASES
        }
        for round_number in range(ROUNDS):
            order = servers if round_number % 2 == 0 else servers[::-1]
            for case in CASES:
                for server in order:
                    runs[case][server.name].append(
                        _run_case(
                            server,
                            case,
                            seconds,
                            etag,
                            bounds[server.name][case],
                            attempts,
                            database,
                        )
                    )
        memory = {server.name: server.memory() for server in servers}
    finally:
        for server in servers:
            server.stop()
    summary = [_summarise(case, runs[case]) for case in CASES]
    return {
        "store": {"articles": articles, "feed": FEED_PATH, "feed_bytes": len(body), "etag": etag},
        "wrk": {
            "command": f"wrk -t1 -c{CONNECTIONS} -d{seconds}s --latency",
            "rounds": ROUNDS,
            "warmup_seconds": warmup,
            "version": wrk.wrk_version(),
        },
        "gunicorn": {"workers": WORKERS, "config": "config/gunicorn.conf.py"},
        "summary": summary,
        "runs": runs,
        "memory": memory,
        "passed": all(row["passed"] for row in summary),
    }


def print_report(result: dict[str, Any]) -> None:
    store = result["store"]
    print(
        f"\nServing {store['feed']} ({store['feed_bytes']:,} bytes, {FEED_ITEMS} items; "
        f"{result['wrk']['command']}, median of {result['wrk']['rounds']} alternating rounds)"
    )
    rows = [
        [
            row["case"],
            f"{row['feedsvc_rps']:,.0f}",
            f"{row['bare_rps']:,.0f}",
            f"{row['ratio']:.2f}",
            row["target"],
            "PASS" if row["passed"] else "FAIL",
            f"{row['feedsvc_cpu_us_per_request']:,.0f} / {row['bare_cpu_us_per_request']:,.0f}",
            f"{row['cpu_ratio']:.2f}",
        ]
        for row in result["summary"]
    ]
    headers = ["case", "feedsvc req/s", "bare req/s", "ratio", "target", ""]
    print(table([*headers, "CPU us/req (feedsvc / bare)", "CPU ratio"], rows))
    print("  CPU us/req: gunicorn workers' CPU time per request, plus PostgreSQL's if used")
    for name, memory in result["memory"].items():
        peaks = ", ".join(f"{kib / 1024:.1f}" for kib in memory["vm_hwm_kib"] if kib)
        print(f"  peak RSS of {name} workers (VmHWM): {peaks} MiB")
    unbalanced = sum(row["unbalanced_runs"] for row in result["summary"])
    attempts = sum(row["attempts"] for row in result["summary"])
    runs = sum(
        len(results) for by_server in result["runs"].values() for results in by_server.values()
    )
    print(
        f"  {attempts} wrk runs for {runs} figures (repeated while one worker had all connections)"
    )
    if unbalanced:
        print(f"  WARNING: {unbalanced} runs kept with one worker doing nearly all the work")
    busy = max(row["other_cores_max"] for row in result["summary"])
    if busy > BUSY_CORES:
        print(
            f"  WARNING: other work used up to {busy:.2f} cores during the runs: "
            "req/s figures are unreliable, the CPU us/req columns less so"
        )
