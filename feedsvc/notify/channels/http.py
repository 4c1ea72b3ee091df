"""Sending a delivery as an HTTP POST, shared by the channels that do (webhooks, WebSub)."""

import httpx

from feedsvc.errors import UnsafeURL
from feedsvc.notify.rows import Attempt, AttemptResult
from feedsvc.outbound import ANSWER_LIMIT, check_scheme, read_capped


def post(
    client: httpx.Client, attempt: Attempt, body: bytes, headers: dict[str, str]
) -> AttemptResult:
    """POST one delivery; any 2xx is delivered, everything else is an error to retry.

    The answer's body is read (up to ANSWER_LIMIT): only a response read to its end lets its
    keep-alive connection go back to the pool, else every delivery opens a new one.
    """
    try:
        check_scheme(attempt.url)  # the address is checked by the client, on every connection
        with client.stream("POST", attempt.url, content=body, headers=headers) as response:
            read_capped(response, ANSWER_LIMIT, decoded=False)
            if response.is_success:
                return AttemptResult(attempt, response.status_code, "")
            return AttemptResult(
                attempt,
                response.status_code,
                f"HTTP {response.status_code} {response.reason_phrase}",
            )
    except UnsafeURL as exc:
        return AttemptResult(attempt, None, str(exc))
    except httpx.HTTPError as exc:
        return AttemptResult(attempt, None, f"{type(exc).__name__}: {exc}")
