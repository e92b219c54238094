"""omni_magic: Qwen-Omni in Jupyter. ``%load_ext omni_magic``, then a ``%%omni`` cell.

The library below the magic imports no IPython: ``OmniClient`` works in any
Python program.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .attachments import Attachment
from .errors import (
    AccountError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ContentFilterError,
    Interrupted,
    InvalidRequest,
    NotFoundError,
    OmniError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamCutShort,
    StreamError,
    UnexpectedAnswer,
)
from .events import (
    AudioDelta,
    Event,
    Finished,
    Note,
    ReasoningDelta,
    Started,
    TextDelta,
    Transcript,
    Usage,
)
from .response import OmniResponse
from .tokens import TokenEstimate

__all__ = [
    "__version__", "Attachment", "OmniClient", "OmniResponse", "OmniError", "TokenEstimate",
    "AccountError", "APIError", "AuthenticationError", "BadRequestError", "ConnectError",
    "ContentFilterError", "Interrupted", "InvalidRequest", "NotFoundError", "ProtocolError",
    "RateLimitError", "ServerError", "StreamCutShort", "StreamError", "UnexpectedAnswer",
    "AudioDelta", "Event", "Finished", "Note", "ReasoningDelta", "Started", "TextDelta", "Transcript", "Usage",
]


if TYPE_CHECKING:
    from .client import OmniClient


def __getattr__(name: str) -> Any:
    # OmniClient brings httpx (about 40 ms of imports): loaded on first use, so that
    # `%load_ext omni_magic` stays quick and the first request pays for it instead.
    if name == "OmniClient":
        from .client import OmniClient

        return OmniClient
    raise AttributeError(f"module 'omni_magic' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext omni_magic``: register ``%%omni`` and ``%omni`` (see ``omni_magic.notebook``)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext omni_magic``: stop the client (and the emulator, if it runs)."""
    from .notebook import unload_ipython_extension as unload

    unload(ipython)
