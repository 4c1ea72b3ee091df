"""Every HTTP call feedsvc makes on someone's behalf: the address guard, pinned connections,
a total deadline and size caps. Fetching (``ingest``) and delivery (``notify``) both use it,
each with a client (a connection pool) and limits of its own.

- **The address is pinned.** A host is resolved once per connection, every address it
  resolves to is checked, and the connection goes to a checked address: a name that answers
  a public address to a check and 127.0.0.1 to the connect (DNS rebinding) cannot reach
  the inside. TLS (SNI, certificate) and the Host header still use the name. IPv6 forms
  that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by it.
- **A total deadline.** Each request has one deadline covering connect, TLS, sending, the
  status line and headers, and the body: every socket operation waits at most what is left
  of it, so a peer that trickles a byte a second is cut off when the deadline passes (a
  per-read timeout alone never would be).
- **Size caps.** Bodies are read with ``read_capped``; past the cap reading stops.
- SMTP, whose library has per-operation timeouts only, gets its total deadline from
  ``hang_up_at``.

Name resolution uses the system resolver, which has timeouts of its own but is not bound by
the request's deadline.
"""

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from feedsvc.errors import N_, UnsafeURL
from feedsvc.settings import Settings

Resolver = Callable[[str, int], list[str]]

# The deadline (time.monotonic()) of the request being served on this thread, if any.
_DEADLINE: ContextVar[float | None] = ContextVar("outbound_deadline", default=None)

FEED_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
ANSWER_LIMIT = 64 * 1024  # bytes of a receiver's answer read, at most


# --- the address guard ---------------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one."""
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return ip.ipv4_mapped
    if ip.sixtofour is not None:  # 2002:aabb:ccdd::/48
        return ip.sixtofour
    if ip.teredo is not None:  # 2001::/32: (server, client); the client is what is reached
        return ip.teredo[1]
    packed = int(ip)
    if ip in _NAT64 or packed >> 32 == 0:  # 64:ff9b::a.b.c.d, and ::a.b.c.d (compatible)
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (judged by the IPv4 one it carries)."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        ip = _embedded_ipv4(ip) or ip
    return ip.is_global and not ip.is_multicast


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refuse(host: str, address: str) -> UnsafeURL:
    return UnsafeURL(
        N_(
            "%(host)s trỏ tới địa chỉ không công khai %(address)s"
            " (bật FEEDSVC_ALLOW_PRIVATE_URLS để cho phép)"
        ),
        {"url": N_("địa chỉ riêng, loopback hoặc link-local")},
        host=host,
        address=address,
    )


def checked_addresses(host: str, port: int, allow_private: bool, resolve: Resolver) -> list[str]:
    """Resolve ``host`` once; raise UnsafeURL unless (allowed or) every address is public."""
    try:
        addresses = resolve(host.strip("[]"), port)
    except (OSError, UnicodeError):
        addresses = []  # an unknown host: the same answer as a host without addresses
    if not addresses:
        raise UnsafeURL(
            N_("Không tìm được địa chỉ của %(host)s"),
            {"url": N_("máy chủ không xác định")},
            host=host,
        )
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise _refuse(host, address)
    return addresses


def check_scheme(url: str) -> None:
    """Raise UnsafeURL unless ``url`` is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(
            N_("Chỉ lấy được các URL http(s) đầy đủ"), {"url": N_("không phải http(s)")}
        )


def check_url(url: str, allow_private: bool, resolve: Resolver = system_resolver) -> None:
    """Raise UnsafeURL unless ``url`` is absolute http(s) and (unless allowed) resolves to
    public addresses only: the early answer when a URL is saved. Every connection is
    checked again when it is made."""
    check_scheme(url)
    parts = urlsplit(url)
    if not allow_private:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UnsafeURL(N_("Cổng sai trong %(url)s"), {"url": N_("cổng sai")}, url=url) from exc
        checked_addresses(parts.hostname or "", port, allow_private, resolve)


# --- the total deadline ----------------------------------------------------------------------


def _time_left(timeout: float | None, what: type[Exception]) -> float | None:
    """The timeout of one socket operation: the smaller of its own and what is left of the
    request's deadline; raises ``what`` once the deadline has passed."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise what("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation is bounded by the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the addresses the guard checked, never to a second resolution's."""

    def __init__(
        self, allow_private: bool, resolve: Resolver, connect: httpcore.NetworkBackend
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._connect = connect

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(host, port, self._allow_private, self._resolve)
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = self._connect.connect_tcp(
                    address,
                    port,
                    _time_left(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            peer = stream.get_extra_info("server_addr")
            if not self._allow_private and peer and not is_public(str(peer[0])):
                stream.close()
                raise _refuse(host, str(peer[0]))
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix sockets are not used for outbound calls")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineBody(httpx.SyncByteStream):
    """A response body read under its request's deadline."""

    def __init__(self, stream: httpx.SyncByteStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._stream)
        while True:
            token = _DEADLINE.set(self._deadline)
            try:
                chunk = next(chunks, None)
            finally:
                _DEADLINE.reset(token)
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        self._stream.close()


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a pinned, deadline-bound connection pool.

    Every request gets a total deadline of ``total_timeout`` seconds, or of its
    ``extensions={"total_timeout": seconds}``.
    """

    def __init__(
        self,
        *,
        total_timeout: float,
        allow_private: bool,
        max_connections: int,
        resolve: Resolver = system_resolver,
        connect: httpcore.NetworkBackend | None = None,
    ) -> None:
        super().__init__(trust_env=False)
        self.total_timeout = total_timeout
        # httpx builds its httpcore pool without a way to pass a network backend; this is
        # that same pool with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            network_backend=_PinnedBackend(
                allow_private, resolve, connect or httpcore.SyncBackend()
            ),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        seconds = float(request.extensions.get("total_timeout", self.total_timeout))
        deadline = time.monotonic() + seconds
        token = _DEADLINE.set(deadline)
        try:
            response = super().handle_request(request)
        finally:
            _DEADLINE.reset(token)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_DeadlineBody(response.stream, deadline),
            extensions=response.extensions,
        )


def _client(
    settings: Settings,
    *,
    total_timeout: float,
    read_timeout: float,
    connect_timeout: float,
    max_connections: int,
    headers: dict[str, str],
    resolve: Resolver,
    connect: httpcore.NetworkBackend | None,
) -> httpx.Client:
    transport = GuardedTransport(
        total_timeout=total_timeout,
        allow_private=settings.allow_private_urls,
        max_connections=max_connections,
        resolve=resolve,
        connect=connect,
    )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        headers={"User-Agent": settings.user_agent, **headers},
        follow_redirects=False,
    )


def fetch_client(
    settings: Settings,
    resolve: Resolver = system_resolver,
    connect: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """The client that fetches upstream feeds (and talks to their hubs): one per worker,
    so connections to a host are reused (making one costs ~15 ms: TLS context, CA bundle)."""
    return _client(
        settings,
        total_timeout=settings.fetch_total_timeout,
        read_timeout=settings.fetch_read_timeout,
        connect_timeout=settings.fetch_connect_timeout,
        max_connections=settings.fetch_concurrency * 2,
        headers={"Accept": FEED_ACCEPT},
        resolve=resolve,
        connect=connect,
    )


def delivery_client(
    settings: Settings,
    resolve: Resolver = system_resolver,
    connect: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """The client that calls subscribers (webhooks, WebSub pushes and verifications): each
    call has ``delivery_timeout`` seconds in all."""
    return _client(
        settings,
        total_timeout=settings.delivery_timeout,
        read_timeout=settings.delivery_timeout,
        connect_timeout=settings.delivery_timeout,
        max_connections=settings.delivery_concurrency * 2,
        headers={},
        resolve=resolve,
        connect=connect,
    )


def read_capped(response: httpx.Response, limit: int, decoded: bool = True) -> bytes | None:
    """The body, or None if it is larger than ``limit`` bytes (reading stops there, so a
    gzip bomb is cut off too). ``decoded=False`` reads the bytes as sent."""
    body = bytearray()
    for chunk in response.iter_bytes() if decoded else response.iter_raw():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


@contextmanager
def hang_up_at(connection: Callable[[], socket.socket | None], seconds: float) -> Iterator[None]:
    """Shut down the socket ``connection()`` returns once ``seconds`` have passed, unless the
    block has ended: a total deadline for a conversation whose library only bounds each
    operation (smtplib), so a server trickling its replies is hung up on."""

    def hang_up() -> None:
        sock = connection()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, hang_up)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
