"""Media by URL, downloaded as the service downloads it before it measures and bills it.

Bounded in every direction a URL could hurt a test run: a byte cap (the catalog's per-kind
``max_bytes`` where it states one, else ``MAX_BYTES``), connect and read timeouts, and an
overall deadline. The body is streamed and dropped the moment it passes the cap, so a huge
or endless answer is never held. ``offline`` refuses every host but loopback, so a test
that serves its media from 127.0.0.1 can never reach the network by mistake.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from .errors import Rejected, bad

MAX_BYTES = 256 * 1024 * 1024  # when the catalog states no cap for the kind
CONNECT_TIMEOUT = 10.0  # seconds
READ_TIMEOUT = 30.0  # seconds between two reads
DEADLINE = 120.0  # seconds for the whole download
# The service's phrase for a media URL it could not use.
DOWNLOAD_FAILED = "Failed to download multimodal content"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def refused(message: str) -> Rejected:
    """The service's 400 for a media part it cannot use (SPEC: ``InvalidParameter``)."""
    return bad(message)  # the compatible mode's code, as SPEC's error body shows it


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses that never leave this machine."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_url(ref: str) -> bool:
    """A reference the service would download (anything else with a scheme is refused)."""
    return "://" in ref


@dataclass(frozen=True)
class Fetcher:
    """Downloads one media URL for the emulator; every failure is the service's 400."""

    offline: bool = False
    max_bytes: int = MAX_BYTES
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    deadline: float = DEADLINE

    def get(self, url: str, where: str, cap: int | None = None) -> bytes:
        """The bytes at ``url`` (``where`` names the part in a refusal); ``cap``: the
        catalog's limit for this kind, when it has one."""
        limit = min(cap, self.max_bytes) if cap else self.max_bytes
        host = self._check(url, where)
        timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
        started = time.monotonic()
        try:
            # trust_env=False: no proxy from the environment between the emulator and loopback.
            # The hook sees every request, redirects included, before it connects: a redirect
            # cannot lead an offline emulator off loopback.
            with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5,
                              trust_env=False, event_hooks={"request": [
                                  lambda request: self._check(str(request.url), where)]}
                              ) as client:
                with client.stream("GET", url) as response:
                    if response.status_code >= 400:
                        raise _failed(where, f"{host} answered HTTP {response.status_code}")
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > limit:
                        raise _too_big(where, limit)
                    return self._read(response, where, limit, started)
        except httpx.TimeoutException:
            raise _failed(where, f"{host} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise _failed(where, f"cannot reach {host} ({type(exc).__name__})") from None

    def _check(self, url: str, where: str) -> str:
        """The URL's host, or a refusal when it is no http(s) URL or offline forbids it."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            parts, host = None, ""
        if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
            raise refused(f"{where}: The provided URL does not appear to be valid. Ensure it is "
                      "correctly formatted: an http(s) URL or a data URL.")
        if self.offline and not is_loopback(host):
            raise refused(f"{where}: {DOWNLOAD_FAILED}: this emulator runs offline and fetches "
                      f"media from loopback only (127.0.0.1, ::1, localhost), not from {host}. "
                      "Serve the file locally, or send it inline as a data URL.")
        return host

    def _read(self, response: httpx.Response, where: str, limit: int, started: float) -> bytes:
        buf = bytearray()
        for chunk in response.iter_bytes():
            buf += chunk
            if len(buf) > limit:
                raise _too_big(where, limit)
            if time.monotonic() - started > self.deadline:
                raise _failed(where, f"the download took more than {self.deadline:g} seconds")
        return bytes(buf)


def _failed(where: str, reason: str) -> Rejected:
    return refused(f"{where}: {DOWNLOAD_FAILED}: {reason}. Check that the URL is reachable "
               "from the server and serves the file itself.")


def _too_big(where: str, limit: int) -> Rejected:
    return refused(f"{where}: {DOWNLOAD_FAILED}: the file is larger than {limit:,} bytes, the most "
               "the service downloads for this kind of media. Send a smaller file.")
