"""Say what stands between us and a shop's address: DNS, the connection, TLS, or time.

A sync against an address that cannot work should fail in seconds and name the step that
failed, not retry for half a minute and then blame the platform. Each step waits at most the
configured HTTP timeout (SHOPNUDGE_HTTP_TIMEOUT).
"""

from __future__ import annotations

import os
import socket
import ssl
from urllib.parse import urlsplit

from requests import certs


class Unreachable(ConnectionError):
    """The address cannot be reached; `step` is dns, refused, timeout, tls or network."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


def trusted_certificates() -> str:
    """The certificates requests trusts (the connectors' library): its bundle, or the one named
    by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, so the probe and the sync agree on what is valid."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certs.where()


def probe(url: str, timeout: float) -> None:
    """Resolve, connect and (for https) shake hands with the host of `url`; raise Unreachable."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Unreachable("dns", f"DNS: the name {host} does not resolve ({error})") from None
    family, kind, proto, _name, address = addresses[0]
    connection = socket.socket(family, kind, proto)
    connection.settimeout(timeout)
    try:
        connection.connect(address)
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=trusted_certificates())
            with context.wrap_socket(connection, server_hostname=host):
                pass
    except ConnectionRefusedError:
        raise Unreachable(
            "refused", f"refused: nothing accepts connections on {host} port {port}"
        ) from None
    except TimeoutError:
        raise Unreachable(
            "timeout", f"timeout: {host} port {port} did not answer within {timeout:g} s"
        ) from None
    except ssl.SSLError as error:
        reason = getattr(error, "verify_message", None) or error.reason or str(error)
        message = f"TLS: the secure connection to {host} failed ({reason})"
        raise Unreachable("tls", message) from None
    except OSError as error:
        raise Unreachable("network", f"network: {host} port {port}: {error.strerror}") from None
    finally:
        connection.close()
