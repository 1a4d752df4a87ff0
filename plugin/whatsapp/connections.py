"""Connection pools to the Graph API, owned by whoever makes the calls.

A dispatcher owns its own (plugin.engine.dispatch.Dispatcher), sized to its senders, and
closes them with it; the occasional calls of template and account syncs, replies and uploads
share the process's. Keeping them apart from the client lets the owner be an object, not
module state.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3

#: Hosts a `Connections` keeps pools for: one Graph API in production, many fakes in tests.
MAX_HOSTS = 16


def pool_options(size: int) -> dict[str, Any]:
    return {
        "maxsize": size,
        "retries": False,  # a POST is never repeated behind our back
        "ca_certs": os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or certifi.where(),
    }


class Connections:
    """Connection pools to the Graph API (thread-safe), owned by whoever makes the calls: a
    dispatcher owns its own, sized to its senders; occasional calls share the process's
    (`process_connections`). Never shared across a fork: the owner is made in the process.

    urllib3, the transport under requests, directly: requests spent 350 µs of CPU per call
    against 200 µs here, the largest cost of a dispatch worker sending 1,000 messages a second.
    """

    def __init__(self) -> None:
        self._pools: dict[tuple[str, int], urllib3.PoolManager] = {}
        self._hosts: dict[tuple[str, int], urllib3.HTTPConnectionPool] = {}
        self._timeouts: dict[float, urllib3.Timeout] = {}
        self._routes: dict[str, str] = {}
        self._lock = threading.Lock()

    def proxy_for(self, base_url: str) -> str:
        """The proxy the environment sets for this host ("" for none), read once.

        HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY, as curl and requests read them.
        """
        proxy = self._routes.get(base_url)
        if proxy is None:
            target = urlsplit(base_url)
            proxies = urllib.request.getproxies()
            bypass = urllib.request.proxy_bypass(target.hostname or "") if proxies else True
            proxy = "" if bypass else proxies.get(target.scheme) or proxies.get("all") or ""
            self._routes[base_url] = proxy
        return proxy

    def pool(self, base_url: str, size: int) -> urllib3.PoolManager:
        """The pools for a host's route; `size` connections stay open per host (as many as
        the dispatch worker's senders)."""
        proxy = self.proxy_for(base_url)
        key = (proxy, size)
        manager = self._pools.get(key)
        if manager is None:
            with self._lock:
                manager = self._pools.get(key)
                if manager is None:
                    options = pool_options(size)
                    manager = (
                        urllib3.ProxyManager(proxy, **options)
                        if proxy
                        else urllib3.PoolManager(**options)
                    )
                    self._pools[key] = manager
        return manager

    def host_pool(self, base_url: str, size: int) -> urllib3.HTTPConnectionPool | None:
        """The connection pool of the Graph API host itself; None when a proxy stands between.

        Asking it directly skips the manager's per-call URL parsing and pool lookup: 165 µs of
        CPU per send instead of 233 µs (the manager's), measured against the local fake Graph
        API.
        """
        if self.proxy_for(base_url):
            return None  # a proxy wants absolute URLs: the manager knows how
        key = (base_url, size)
        host = self._hosts.get(key)
        if host is None:
            with self._lock:
                host = self._hosts.get(key)
                if host is None:
                    if len(self._hosts) >= MAX_HOSTS:
                        self._hosts.pop(next(iter(self._hosts))).close()
                    options = pool_options(size)
                    if urlsplit(base_url).scheme != "https":
                        del options["ca_certs"]  # plain HTTP (a local server) takes no TLS options
                    host = self._hosts[key] = urllib3.connection_from_url(base_url, **options)
        return host

    def timeout_for(self, seconds: float) -> urllib3.Timeout:
        """One Timeout per setting: building one per call is measurable at 1,000 calls a second."""
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = urllib3.Timeout(connect=min(seconds, 10.0), read=seconds)
            self._timeouts[seconds] = timeout
        return timeout

    def close(self) -> None:
        """Close every open connection; the pools open new ones if used again."""
        with self._lock:
            for host in self._hosts.values():
                host.close()
            for manager in self._pools.values():
                manager.clear()
            self._hosts.clear()
            self._pools.clear()


_process_connections: tuple[int, Connections] | None = None


def process_connections() -> Connections:
    """The connections this process shares for occasional calls (template and account syncs,
    replies, uploads); a forked process makes its own. Dispatch brings its own."""
    global _process_connections
    if _process_connections is None or _process_connections[0] != os.getpid():
        _process_connections = (os.getpid(), Connections())
    return _process_connections[1]
