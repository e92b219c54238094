"""The doctor's first steps, before any request costs a token: the key and the endpoint, the
host and its connection, and ``GET /models``."""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import api_errors, backend, dialects
from ..catalog import API_KEY_ENV
from .step import FAILED, OK, SKIPPED, Step

if TYPE_CHECKING:
    from ..client import OmniClient

CONNECT_SECONDS = 10.0


def key_step(chosen: backend.Backend, base_url: str) -> Step:
    """Whether a key is set (never shown: only the mask, its length and its form), and where
    the requests go."""
    label = chosen.label
    where = label if base_url in label else f"{label}, {base_url}"
    key = chosen.api_key
    if chosen.kind == "emulator":
        return Step("key", OK, f"no {API_KEY_ENV} set: the embedded emulator answers ({base_url}); it is "
                    f"not a model. Set {API_KEY_ENV} to check the service itself")
    if key is None:
        return Step("key", OK, f"no key set; {where} (a self-hosted server may need none)")
    value = key.reveal()
    form = ("starts like a DashScope key" if value.startswith("sk-")
            else "does not start with sk- as DashScope keys do")
    shown = key.mask(value)  # the whole key is a run of itself: the mask, nothing of the key
    return Step("key", OK, f"key set ({shown}, {len(value)} characters, {form}); {where}",
                facts={"key_length": len(value), "kind": chosen.kind, "region": chosen.region,
                       "origin": chosen.origin})


def key_failed(error: Exception) -> Step:
    return Step("key", FAILED, str(error), f"fix {API_KEY_ENV}, --region, --workspace or --base-url "
                "as the message says, then run the doctor again")


def proxy_for(url: str) -> str | None:
    """The proxy httpx sends a request to ``url`` through (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY, and
    the system's settings that urllib reads), or None: the direct path."""
    import httpx

    try:  # httpx's own rules, so the check goes where the requests go
        from httpx._utils import URLPattern, get_environment_proxies

        mounts = sorted(((URLPattern(k), v) for k, v in get_environment_proxies().items()),
                        key=lambda mount: mount[0])  # the most specific first, as httpx does
        target = httpx.URL(url)
        return next((proxy for pattern, proxy in mounts if pattern.matches(target)), None)
    except (ImportError, AttributeError):  # a later httpx moved them: urllib's rules, nearly the same
        from urllib.request import getproxies, proxy_bypass

        parts = urlsplit(url)
        found = getproxies()
        proxy = found.get(parts.scheme) or found.get("all")
        if not proxy or proxy_bypass(parts.hostname or ""):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"


def connect_step(base_url: str) -> Step:
    """DNS, then a TCP connection to each address in turn until one answers, then (https) a TLS
    handshake, each timed; on its own socket, so the figures are the network's, not httpx's
    pool's. Behind a proxy the requests never take the direct path: the proxy is checked."""
    parts = urlsplit(base_url)
    host, tls = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    proxy = proxy_for(base_url)
    if proxy is not None:
        return _proxy_step(host, proxy)
    facts: dict[str, Any] = {"host": host, "port": port, "tls": tls, "proxy": None}
    start = time.perf_counter()
    try:
        addresses = _addresses(host, port)
    except (OSError, UnicodeError) as exc:
        return Step("connect", FAILED, f"{host} does not resolve ({exc})",
                    "check the network, the host name in --base-url or DASHSCOPE_BASE_URL, and DNS",
                    facts=facts)
    resolved = time.perf_counter()
    facts["dns_s"] = round(resolved - start, 4)
    sock, address, missed = _first_to_answer(addresses)
    tried = "; ".join(f"{a} {why}" for a, why in missed)
    facts["unanswered"] = [a for a, _ in missed]
    if sock is None:
        return Step("connect", FAILED, f"{host} resolves ({', '.join(a for a, _ in missed)}, "
                    f"{facts['dns_s']:.3f} s) but port {port} does not connect ({tried})",
                    "check the network, a firewall, or the port in --base-url; behind a proxy, set "
                    "HTTPS_PROXY", facts=facts)
    facts["address"] = address
    before = f" (after {tried})" if missed else ""
    connected = time.perf_counter()
    facts["connect_s"] = round(connected - resolved, 4)
    try:
        if not tls:
            detail = (f"{host} → {address} in {facts['dns_s']:.3f} s; TCP connect in "
                      f"{facts['connect_s']:.3f} s{before} (plain http://, no TLS: a local server such "
                      "as the emulator)")
            return Step("connect", OK, detail, seconds=round(connected - start, 4), facts=facts)
        try:
            with _tls_context().wrap_socket(sock, server_hostname=host) as secured:
                version = secured.version()
        except (ssl.SSLError, OSError) as exc:
            return Step("connect", FAILED, f"{host} connects, but TLS fails ({exc})",
                        "a proxy or firewall that intercepts TLS? Point SSL_CERT_FILE at its "
                        "certificate, or try another network", facts=facts)
        shaken = time.perf_counter()
        facts.update(tls_s=round(shaken - connected, 4), tls_version=version)
        detail = (f"{host} → {address} in {facts['dns_s']:.3f} s; TCP in {facts['connect_s']:.3f} s"
                  f"{before}; {version} in {facts['tls_s']:.3f} s")
        return Step("connect", OK, detail, seconds=round(shaken - start, 4), facts=facts)
    finally:
        sock.close()


Address = tuple[int, Any]  # (family, sockaddr) as getaddrinfo gives them


def _addresses(host: str, port: int) -> list[Address]:
    """Each address of ``host`` once, in the resolver's order (IPv6 first where it prefers it)."""
    found: list[Address] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if all(sockaddr[0] != seen[1][0] for seen in found):
            found.append((family, sockaddr))
    return found


def _first_to_answer(addresses: list[Address]) -> tuple[socket.socket | None, str, list[tuple[str, str]]]:
    """(a connected socket, its address, the addresses that did not answer and why), each
    address in turn as httpx's connection does: an IPv6 address with no route is not the end."""
    missed: list[tuple[str, str]] = []
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_SECONDS)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            missed.append((str(sockaddr[0]), f"did not answer: {exc.strerror or exc}"))
            continue
        return sock, str(sockaddr[0]), missed
    return None, "", missed


def _proxy_step(host: str, proxy: str) -> Step:
    """The connection to the proxy the requests go through (the endpoint is the proxy's to reach)."""
    parts = urlsplit(proxy)
    name = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 1080 if parts.scheme.startswith("socks") else 80)
    where = f"{name}:{port}"
    facts: dict[str, Any] = {"host": host, "proxy": where, "proxy_scheme": parts.scheme}
    advice = ("check the proxy settings (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY; NO_PROXY for hosts "
              "reached directly) and that the proxy is running")
    start = time.perf_counter()
    try:
        addresses = _addresses(name, port)
    except (OSError, UnicodeError) as exc:
        return Step("connect", FAILED, f"requests to {host} go through the proxy at {where}, and "
                    f"{name} does not resolve ({exc})", advice, facts=facts)
    sock, address, missed = _first_to_answer(addresses)
    if sock is None:
        tried = "; ".join(f"{a} {why}" for a, why in missed)
        return Step("connect", FAILED, f"requests to {host} go through the proxy at {where}, which "
                    f"does not connect ({tried})", advice, facts=facts)
    sock.close()
    seconds = round(time.perf_counter() - start, 4)
    facts["address"] = address
    return Step("connect", OK, f"through the proxy at {where} ({address}, connected in {seconds:.3f} s): "
                f"the proxy reaches {host}, the requests below show whether it does", seconds=seconds,
                facts=facts)


def _tls_context() -> ssl.SSLContext:
    """The certificates httpx trusts (certifi's), so this handshake fails where httpx's would."""
    try:
        import certifi

        return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or certifi.where())
    except ImportError:  # pragma: no cover - httpx depends on certifi
        return ssl.create_default_context()


def models_step(client: OmniClient, base_url: str, model: str) -> tuple[Step, list[str], bool]:
    """``GET /models`` with the requests' own key and headers: (step, the ids listed, whether the
    rest is pointless: the key was refused)."""
    import httpx

    start = time.perf_counter()
    try:
        # The client's own httpx client: its auth (the key, added as the request goes out),
        # timeouts and User-Agent, exactly as the chat requests will have them.
        answer = client._http.get(f"{base_url}/models", headers={"Accept": "application/json"},
                                  timeout=httpx.Timeout(CONNECT_SECONDS))
    except httpx.HTTPError as exc:
        return Step("models", FAILED, f"no answer ({type(exc).__name__}: {exc})",
                    "the chat requests below show whether the server answers at all"), [], False
    seconds = round(time.perf_counter() - start, 4)
    status = answer.status_code
    if status in (401, 403):
        error = api_errors.api_error(status, answer.content, answer.headers,
                                     backend_label=client.backend.label, region=client.backend.key_region,
                                     base_url=base_url, retries=0,
                                     dashscope=client.backend.kind == "dashscope")
        return Step("models", FAILED, f"HTTP {status} in {seconds:.3f} s: the key was refused",
                    _first_sentences(str(error)), seconds, {"status": status}), [], True
    if status in (404, 405, 501):
        return Step("models", SKIPPED, f"not offered (HTTP {status} in {seconds:.3f} s): fine, the "
                    "chat requests are what count", seconds=seconds, facts={"status": status}), [], False
    try:
        listing = json.loads(answer.content)
        ids = [str(m["id"]) for m in listing["data"]]
        owners = {str(m.get("owned_by")) for m in listing["data"] if isinstance(m, dict)}
    except (ValueError, KeyError, TypeError):
        kind = answer.headers.get("Content-Type", "?")
        return Step("models", FAILED, f"HTTP {status} ({kind}) in {seconds:.3f} s, not a model list",
                    "a proxy or portal answering for the server? Check --base-url and the network",
                    seconds, {"status": status}), [], False
    dialect = dialects.from_models(listing)
    listed = "listed" if model.lower() in {i.lower() for i in ids} else "not listed"
    served = " (a vLLM server: the vllm-omni dialect)" if dialect == dialects.VLLM_OMNI else ""
    return Step("models", OK, f"{len(ids)} model(s) in {seconds:.3f} s; {model} {listed}{served}",
                seconds=seconds, facts={"status": status, "models": len(ids),
                                        "owned_by": sorted(owners), "dialect": dialect}), ids, False


def _first_sentences(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"
