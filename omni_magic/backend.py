"""Where requests go: DashScope, a server the user named, or the embedded emulator.

    key set (DASHSCOPE_API_KEY or api_key=)  -> DashScope in the chosen region
    base URL given                           -> that server (key sent if there is one)
    neither                                  -> the embedded emulator on a free loopback port
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field

from . import catalog
from .errors import InvalidRequest

EMULATOR_NOTICE = (
    "Emulated answer: no `DASHSCOPE_API_KEY` is set, so omni_magic's embedded emulator replied "
    "(it is not a model). To reach Qwen-Omni, set `DASHSCOPE_API_KEY` (add `--region cn` for a "
    "Beijing key) and run the cell again."
)


class Secret:
    """An API key that never shows itself: repr and str print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

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
    region: str
    api_key: Secret | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        if self.kind == "dashscope":
            return f"DashScope {catalog.REGION_NAMES[self.region]} ({self.region})"
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


def resolve(api_key: str | None = None, region: str = "intl", base_url: str | None = None) -> Backend:
    """Pick the backend from an explicit key, the environment, and an optional base URL."""
    catalog.region_url(region)  # validates the region
    key = (api_key if api_key else os.environ.get(catalog.API_KEY_ENV) or "").strip() or None
    if key is not None and not (key.isascii() and key.isprintable() and " " not in key):
        # Never echo the value: say where it came from and what is wrong with it.
        raise InvalidRequest(
            f"The API key ({'api_key=' if api_key else catalog.API_KEY_ENV}) contains spaces or "
            "characters that cannot go into an HTTP header. Copy the key again from the "
            "Model Studio console."
        )
    secret = Secret(key) if key else None
    if base_url:
        return Backend("custom", normalize_base_url(base_url), region, secret)
    if secret is not None:
        return Backend("dashscope", catalog.REGIONS[region], region, secret)
    return Backend("emulator", None, region, None)


def normalize_base_url(url: str) -> str:
    """OpenAI-client convention: requests go to ``{base_url}/chat/completions``."""
    url = url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        url = url[: -len("/chat/completions")]
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest(f"Base URL {url!r} must start with http:// or https://.")
    return url
