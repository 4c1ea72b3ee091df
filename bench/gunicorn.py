"""Start and stop a gunicorn server with the repository's config, and read its workers' memory."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import BenchError

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONFIG = ROOT / "config" / "gunicorn.conf.py"
FEEDSVC_CONFIG = ROOT / "config" / "feedsvc.toml"
WORKERS = 2


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces, so split after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _has_control_socket() -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == "control_socket" for setting in KNOWN_SETTINGS)


class Gunicorn:
    """``python -m gunicorn -c config/gunicorn.conf.py <app>`` on 127.0.0.1:<port>."""

    def __init__(
        self,
        name: str,
        app: str,
        port: int,
        env: dict[str, str],
        log: Path,
        workers: int = WORKERS,
    ) -> None:
        self.name = name
        self.port = port
        self.log = log
        self.worker_count = workers
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
        child_env.update(
            FEEDSVC_CONFIG=str(FEEDSVC_CONFIG),
            FEEDSVC_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY=str(workers),
            **env,
        )
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), app]
        if _has_control_socket():  # newer gunicorn: one per server, not the shared default
            command[-1:-1] = ["--control-socket", str(log.with_suffix(".ctl"))]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as errors:
            # stdout is the access log (accesslog = "-"): written, then thrown away.
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=child_env, stdout=subprocess.DEVNULL, stderr=errors
            )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_answers(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"{self.name}: gunicorn exited ({self.log}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        else:
            raise BenchError(
                f"{self.name}: no answer on {path} in {timeout:.0f}s:\n{self.log_tail()}"
            )
        deadline = time.monotonic() + timeout
        while len(self.workers()) < self.worker_count and time.monotonic() < deadline:
            time.sleep(0.1)
        if len(self.workers()) != self.worker_count:
            raise BenchError(f"{self.name}: expected {self.worker_count} workers, see {self.log}")

    def workers(self) -> list[int]:
        return _children(self.process.pid)

    def memory(self) -> dict[str, object]:
        """Peak (VmHWM) and current (VmRSS) resident memory of each worker, in KiB."""
        workers = self.workers()
        return {
            "worker_pids": workers,
            "vm_hwm_kib": [_status_kb(pid, "VmHWM") for pid in workers],
            "vm_rss_kib": [_status_kb(pid, "VmRSS") for pid in workers],
        }

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        workers = self.workers()
        self.process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in [*workers, self.process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(timeout=5)
