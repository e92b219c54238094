"""Where requests go: DashScope, a server the user named, or the embedded emulator.

    key set (DASHSCOPE_API_KEY or api_key=):
        base URL given           -> that server (DashScope when its host is DashScope's)
        workspace given          -> https://{ID}.{region code}.maas.aliyuncs.com/compatible-mode/v1
        region given             -> that region's shared domain
        env DASHSCOPE_BASE_URL   -> that endpoint, as the official samples read it
        otherwise                -> Singapore's shared domain (intl)
    no key, base URL given       -> that server
    neither                      -> the embedded emulator on a free loopback port

Endpoints: the "Base URL" page (alibabacloud.com/help/model-studio/base-url, 2026-10-11);
DASHSCOPE_BASE_URL: the Qwen-Omni page's Qwen3.8-Omni-Flash quickstart (2026).
"""

from __future__ import annotations

import base64
import hmac
import os
import re
from dataclasses import dataclass, field

from . import catalog as catalogs
from .catalog import API_KEY_ENV, BASE_URL_ENV, Catalog
from .errors import InvalidRequest

EMULATOR_NOTICE = (
    "Emulated answer: no `DASHSCOPE_API_KEY` is set, so omni_magic's embedded emulator replied "
    "(it is not a model). To reach Qwen-Omni, set `DASHSCOPE_API_KEY` (add `--region cn` for a "
    "Beijing key, or `--workspace ID` for a workspace endpoint) and run the cell again."
)
DEFAULT_REGION = "intl"
_WORKSPACE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MASK = "********"
MASK_RUN = 8  # a server echoing this many of the key's characters in a row has leaked it
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


def _base64_cores(key: str) -> set[str]:
    """What any base64 holding the key shows of it, whatever precedes it ("Bearer KEY", "user:KEY"
    in a Basic header): one core per alignment (the groups of three bytes that are all the key's),
    in the standard and the URL-safe alphabet. Cores too short to be told from chance are left out."""
    raw, cores = key.encode(), set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        core = encoded[4 * (1 if shift else 0):4 * ((shift + len(raw)) // 3)]
        if len(core) >= 12:
            cores |= {core, core.translate(str.maketrans("+/", "-_"))}
    return cores


class Secret:
    """An API key that never shows itself: repr and str print a mask."""

    __slots__ = ("_value", "_cores")

    def __init__(self, value: str) -> None:
        self._value = value
        self._cores = _base64_cores(value)  # once: mask() runs on every line a recording writes

    def reveal(self) -> str:
        return self._value

    def mask(self, text: str) -> str:
        """``text`` with every run of ``MASK_RUN`` or more of the key's characters in a row (a
        piece of the key, as a server may echo it) replaced by ``MASK``, and so is any base64
        token that encodes the key (an echoed ``Authorization: Basic`` header, say)."""
        key = self._value
        text = self._mask_base64(text)
        if len(key) <= MASK_RUN:
            return text.replace(key, MASK) if key else text
        grams = {key[i:i + MASK_RUN] for i in range(len(key) - MASK_RUN + 1)}
        hidden = bytearray(len(text))
        for gram in grams:
            start = text.find(gram)
            while start >= 0:
                hidden[start:start + MASK_RUN] = b"\x01" * MASK_RUN
                start = text.find(gram, start + 1)
        if not any(hidden):
            return text
        out, i = [], 0
        while i < len(text):
            if hidden[i]:
                while i < len(text) and hidden[i]:
                    i += 1
                out.append(MASK)
            else:
                j = hidden.find(1, i)
                j = len(text) if j < 0 else j
                out.append(text[i:j])
                i = j
        return "".join(out)

    def _mask_base64(self, text: str) -> str:
        for core in self._cores:
            start = text.find(core)
            while start >= 0:  # the whole token goes: its ends hold bits of the key too
                low, high = start, start + len(core)
                while low and text[low - 1] in _BASE64:
                    low -= 1
                while high < len(text) and (text[high] in _BASE64 or text[high] == "="):
                    high += 1
                text = text[:low] + MASK + text[high:]
                start = text.find(core, low + len(MASK))
        return text

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # never pickle the key into a saved session
        raise TypeError("an API key cannot be pickled")


@dataclass(frozen=True)
class Backend:
    """The resolved destination of requests."""

    kind: str  # "dashscope" | "custom" | "emulator"
    base_url: str | None  # None for the emulator until it has started
    region: str | None  # a catalog region key; None where the endpoint does not say
    api_key: Secret | None = field(default=None, repr=False)
    origin: str = ""  # how the endpoint was chosen: "region", "workspace ID", env name, "base URL"
    region_name: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "dashscope":
            where = f"{self.region_name} ({self.region})" if self.region else self.base_url
            if self.origin.startswith("workspace"):
                return f"DashScope {self.origin} in {where}"
            if self.origin == BASE_URL_ENV:
                return f"DashScope {where} (from {BASE_URL_ENV})"
            return f"DashScope {where}"
        if self.kind == "emulator":
            return "omni_magic emulator"
        return f"server at {self.base_url}"

    @property
    def key_region(self) -> str | None:
        """The region that model availability and API keys depend on: DashScope's only."""
        return self.region if self.kind == "dashscope" else None

    @property
    def strict_models(self) -> bool:
        """Self-hosted servers name their models freely; DashScope and the emulator do not."""
        return self.kind != "custom"


def resolve(api_key: str | None = None, region: str | None = None, base_url: str | None = None,
            workspace: str | None = None, catalog: Catalog | None = None) -> Backend:
    """Pick the backend from an explicit key, the environment, and the endpoint options.

    ``region`` None means not chosen: the region of DASHSCOPE_BASE_URL, else Singapore.
    """
    catalog = catalog or catalogs.default()
    if region is not None:
        catalog.region(region)  # refuses an unknown region
    key = (api_key if api_key else os.environ.get(API_KEY_ENV) or "").strip() or None
    if key is not None and not (key.isascii() and key.isprintable() and " " not in key):
        # Never echo the value: say where it came from and what is wrong with it.
        raise InvalidRequest(
            f"The API key ({'api_key=' if api_key else API_KEY_ENV}) contains spaces or "
            "characters that cannot go into an HTTP header. Copy the key again from the "
            "Model Studio console."
        )
    secret = Secret(key) if key else None
    if base_url:
        url = normalize_base_url(base_url)
        found = catalog.region_of_url(url)
        if secret is not None and found is not None:
            return _dashscope(catalog, url, found, secret, "base URL")
        return Backend("custom", url, region or DEFAULT_REGION, secret, "base URL")
    if secret is None:
        return Backend("emulator", None, region or DEFAULT_REGION, None)
    if workspace:
        return _dashscope(catalog, workspace_url(workspace, region or DEFAULT_REGION, catalog),
                          region or DEFAULT_REGION, secret, f"workspace {workspace.strip()}")
    env_url = os.environ.get(BASE_URL_ENV, "").strip()
    if region is None and env_url:
        url = normalize_base_url(env_url, source=BASE_URL_ENV)
        return _dashscope(catalog, url, catalog.region_of_url(url), secret, BASE_URL_ENV)
    chosen = catalog.region(region or DEFAULT_REGION)
    if chosen.base_url is None:
        raise InvalidRequest(
            f"{chosen.name} ({chosen.key}) has workspace endpoints only: pass --workspace ID "
            f"(%config OmniMagics.workspace) with the ID of your Model Studio workspace there."
        )
    return _dashscope(catalog, chosen.base_url, chosen.key, secret, "region")


def _dashscope(catalog: Catalog, url: str, region: str | None, secret: Secret, origin: str) -> Backend:
    name = catalog.regions[region].name if region in catalog.regions else None
    return Backend("dashscope", url, region, secret, origin, name)


def workspace_url(workspace: str, region: str, catalog: Catalog) -> str:
    """``https://{ID}.{region code}.maas.aliyuncs.com/compatible-mode/v1`` (Base URL page)."""
    ident = workspace.strip().lower()
    if not _WORKSPACE.match(ident):
        raise InvalidRequest(
            f"{workspace!r} is not a workspace ID: it is the ID shown for the workspace in the "
            "Model Studio console (letters, digits and hyphens), as in "
            "https://{WorkspaceId}.cn-beijing.maas.aliyuncs.com/compatible-mode/v1."
        )
    code = catalog.region(region).workspace_code
    if code is None:
        raise InvalidRequest(f"The catalog has no workspace endpoint for region {region!r}.")
    return f"https://{ident}.{code}.maas.aliyuncs.com/compatible-mode/v1"


def normalize_base_url(url: str, source: str = "Base URL") -> str:
    """OpenAI-client convention: requests go to ``{base_url}/chat/completions``."""
    url = url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        url = url[: -len("/chat/completions")]
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest(f"{source} {url!r} must start with http:// or https://.")
    return url
