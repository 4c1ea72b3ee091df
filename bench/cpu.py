"""CPU accounting around a load run, from /proc: what the server spent per request, and how
much of the machine something else used meanwhile (a busy machine makes req/s unreliable)."""

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pids: list[int]) -> float:
    """User + system CPU seconds of the given processes (all their threads)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / TICK


def database_server_cpu(name: str) -> float:
    """CPU seconds of every process named ``name`` (a database server's: "postgres") with
    their reaped children's: a backend that exited is counted in the postmaster's cutime and
    cstime, so the sum only grows over a window however its connections come and go."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() != name:
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def machine_busy() -> float:
    """CPU seconds all cores spent in processes (user, nice, system) or stolen, since boot.

    Interrupt and softirq time (loopback networking) is left out: it is charged to no process.
    """
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + steal) / TICK


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuWindow:
    """Opened before a run and closed after it; the load generator is a waited-for child.

    ``database`` names the database server's processes ("postgres"), whose time is part of
    serving a request that queries it; empty for SQLite, which runs inside the workers.
    """

    server_pids: list[int]
    database: str = ""

    def __post_init__(self) -> None:
        self._wall = time.monotonic()
        self._database = database_server_cpu(self.database) if self.database else 0.0
        self._each = [process_cpu([pid]) for pid in self.server_pids]
        self._busy = machine_busy()
        self._children = _children_cpu()

    def close(self, requests: int) -> dict[str, Any]:
        wall = time.monotonic() - self._wall
        each = [
            process_cpu([pid]) - before
            for pid, before in zip(self.server_pids, self._each, strict=True)
        ]
        server = sum(each)
        client = _children_cpu() - self._children
        busy = machine_busy() - self._busy
        database = database_server_cpu(self.database) - self._database if self.database else 0.0
        per_request = 1e6 / requests if requests else 0.0
        return {
            "server_cpu_us_per_request": round(server * per_request, 1),
            "database_cpu_us_per_request": round(database * per_request, 1),
            "server_cores": round(server / wall, 2),
            "per_process_cpu_s": [round(seconds, 2) for seconds in each],
            "client_cores": round(client / wall, 2),
            "database_cores": round(database / wall, 2),
            # Process time neither the server, its database nor wrk account for (other
            # processes, steal); near 0 on a quiet machine.
            "other_cores": round(max(busy - server - client - database, 0.0) / wall, 2),
        }
