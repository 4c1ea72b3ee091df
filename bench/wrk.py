"""Run wrk and read its summary; refuse results whose responses were not what was asked for."""

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass

from bench import BenchError

INSTALL_HINT = "wrk is needed for the serving benchmark: apt-get update && apt-get install -y wrk"
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_TIME = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    requests: int
    seconds: float
    bytes_read: float
    latency_avg_ms: float
    non_2xx_3xx: int
    socket_errors: dict[str, int]

    @property
    def bytes_per_response(self) -> float:
        return self.bytes_read / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "bytes_per_response": round(self.bytes_per_response, 1)}


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    completed = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (completed.stdout or completed.stderr).splitlines()[0].strip()


def _match(pattern: str, output: str) -> re.Match[str]:
    found = re.search(pattern, output)
    if found is None:
        raise BenchError(f"cannot read wrk's output ({pattern!r} not found):\n{output}")
    return found


def parse(output: str) -> WrkResult:
    total = _match(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)([KMGT]?)B read", output)
    latency = _match(r"Latency\s+([\d.]+)(us|ms|s|m|h)", output)
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    names = ("connect", "read", "write", "timeout")
    return WrkResult(
        requests_per_s=float(_match(r"Requests/sec:\s+([\d.]+)", output)[1]),
        requests=int(total[1]),
        seconds=float(total[2]) * _TIME[total[3]],
        bytes_read=float(total[4]) * _UNITS[total[5]],
        latency_avg_ms=float(latency[1]) * _TIME[latency[2]] * 1000,
        non_2xx_3xx=int(non_ok[1]) if non_ok else 0,
        socket_errors={n: int(v) for n, v in zip(names, errors.groups(), strict=True)}
        if errors
        else dict.fromkeys(names, 0),
    )


def run(url: str, seconds: int, connections: int, headers: dict[str, str]) -> WrkResult:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    completed = subprocess.run(
        [*command, url], capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    if completed.returncode != 0:
        raise BenchError(f"wrk failed ({completed.returncode}): {completed.stderr}")
    return parse(completed.stdout)


def check(result: WrkResult, label: str, min_bytes: float, max_bytes: float) -> None:
    """Every response 2xx/3xx, no socket errors, and of the expected size.

    wrk counts 200 and 304 alike, so the size tells them apart: a 304 carries headers only,
    a 200 the whole feed. The bounds allow for wrk rounding its byte total to 3 digits.
    """
    problems = []
    if result.requests == 0:
        problems.append("no request completed")
    if result.non_2xx_3xx:
        problems.append(f"{result.non_2xx_3xx} responses were not 2xx/3xx")
    if any(result.socket_errors.values()):
        problems.append(f"socket errors {result.socket_errors}")
    size = result.bytes_per_response
    if result.requests and not min_bytes * 0.99 <= size <= max_bytes * 1.01:
        problems.append(f"{size:.0f} bytes per response, expected {min_bytes:.0f}-{max_bytes:.0f}")
    if problems:
        raise BenchError(f"{label}: {'; '.join(problems)}")
