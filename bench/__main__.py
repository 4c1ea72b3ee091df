"""`python -m bench [--quick] [--only NAME] [--database sqlite|postgresql]`.

NAME: serving, cold, ingest, notify, hostile, scale or fanout (see docs/benchmarks.md).

Prints each benchmark's table, writes the raw figures to bench/results/latest.json.
Exit status: 0 all targets met, 1 a target missed, 2 a tool, server or valid config is missing,
3 the benchmark measured something unexpected (wrong status codes, sizes, item counts).
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import BenchError, cold_build, fanout, hostile, ingest, notify, scale, serving, wrk
from bench.databases import BACKENDS, RESULTS_DIR, Databases
from bench.gunicorn import FEEDSVC_CONFIG
from bench.report import machine, revision
from feedsvc.errors import ConfigurationError

MODULES: dict[str, Any] = {
    "serving": serving,
    "cold": cold_build,
    "ingest": ingest,
    "notify": notify,
    "hostile": hostile,
    "scale": scale,
    "fanout": fanout,
}
BENCHMARKS = tuple(MODULES)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="feedsvc benchmarks; see docs/benchmarks.md"
    )
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test")
    parser.add_argument("--only", choices=BENCHMARKS, help="run one benchmark")
    parser.add_argument("--database", choices=BACKENDS, default="sqlite")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    selected = [args.only] if args.only else list(BENCHMARKS)
    if "serving" in selected and wrk.wrk_path() is None:
        print(wrk.INSTALL_HINT, file=sys.stderr)
        return 2
    # The bench process reads settings like the service does; no developer's FEEDSVC_* leaks in.
    for name in [n for n in os.environ if n.startswith("FEEDSVC_")]:
        del os.environ[name]
    os.environ["FEEDSVC_CONFIG"] = str(FEEDSVC_CONFIG)
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "database": args.database,
        "machine": machine(),
        "revision": revision(),
    }
    try:
        databases = Databases(args.database)
        results["database_version"] = databases.server_version
        try:
            for name in selected:
                module = MODULES[name]
                results[name] = module.run(databases, args.quick)
                module.print_report(results[name])
        finally:
            databases.close()
    except BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        return exc.exit_code
    except ConfigurationError as exc:  # the settings the service itself would refuse
        print(f"\nbench: {exc}", file=sys.stderr)
        return 2
    results["seconds"] = round(time.monotonic() - started, 1)
    results["passed"] = all(results[name]["passed"] for name in selected)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / "latest.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    shown = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    verdict = "all targets met" if results["passed"] else "TARGET MISSED"
    print(f"\n{verdict}; {results['seconds']} s; raw figures in {shown}")
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
