"""The private-address guard for every URL we fetch on someone's behalf (sources, callbacks).

A URL is refused unless every address its host resolves to is globally routable; the address
actually connected to is checked again after the connection (``check_peer``), which closes
the gap of a DNS answer that changes between the two.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from feedsvc.errors import UnsafeURL


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> None:
    """Raise UnsafeURL unless ``url`` is http(s) and (unless allowed) resolves to public IPs."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("only absolute http(s) URLs can be fetched", {"url": "not http(s)"})
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"cannot resolve {parts.hostname}: {exc}", {"url": "unknown host"}) from exc
    for info in infos:
        if not _is_public(str(info[4][0])):
            raise UnsafeURL(
                f"{parts.hostname} resolves to the non-public address {info[4][0]} "
                "(set FEEDSVC_ALLOW_PRIVATE_URLS to allow it)",
                {"url": "private, loopback or link-local address"},
            )


def check_peer(address: str | None, allow_private: bool) -> None:
    """Raise UnsafeURL if the address we are connected to is not public."""
    if not allow_private and address is not None and not _is_public(address):
        raise UnsafeURL(f"connected to the non-public address {address}", {"url": "private"})
