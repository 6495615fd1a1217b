"""The client's address, read from X-Forwarded-For only where a trusted proxy wrote it.

django-axes calls `client_ip` (settings.AXES_CLIENT_IP_CALLABLE) to throttle logins
per address. Without a trusted proxy the peer (REMOTE_ADDR) is the client and
X-Forwarded-For is ignored: any client can write that header. Behind proxies:

- TRUSTED_PROXIES (addresses or networks): the chain X-Forwarded-For + REMOTE_ADDR is
  read from the right while its addresses are trusted proxies; the first one that is
  not is the client. A request whose peer is not a trusted proxy keeps its peer.
- otherwise TRUSTED_PROXY_COUNT = N: the last N addresses of that chain are our
  proxies (the peer is the nearest), the one before them is the client.

django-ipware (axes' default, python-ipware 4.1) counts and matches proxies inside the
header alone and never checks that the peer is one: with it, a request that reaches
the app directly still chooses its own address. Hence this callable, axes 8.3.1's
extension point for the client address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _address(text: str):
    """An IP address from one hop of the chain ("1.2.3.4", "1.2.3.4:80", "[::1]:80"),
    or None when it is not one."""
    text = (text or "").strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port; IPv6 has at least two colons
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {entry!r} is not an address or a network.") from None
    return tuple(networks)


def _trusted(address, networks) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_ip(request) -> str | None:
    """The client's address for `request` (see the module's docstring)."""
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if not networks and count <= 0:
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = [_address(hop) for hop in forwarded.split(",")] if forwarded.strip() else []
    chain.append(peer)
    if networks:
        # From the peer leftwards, past every trusted proxy: the first other hop.
        for position in range(len(chain) - 1, -1, -1):
            hop = chain[position]
            if hop is None:  # a proxy forwarded garbage: its own address is all we know
                return str(chain[position + 1])
            if not _trusted(hop, networks) or position == 0:
                return str(hop)
    # The last `count` hops are our proxies; each wrote the address it received from.
    if len(chain) <= count:
        client = next((hop for hop in chain if hop is not None), peer)
        return str(client)
    client = chain[-(count + 1)]
    return str(client if client is not None else peer)
