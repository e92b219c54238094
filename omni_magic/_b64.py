"""Base64 by pybase64 (SIMD, several times quicker) when the ``fast`` extra is installed,
else by the standard library: speech chunks in, attachments and audio elements out."""

from __future__ import annotations

try:
    from pybase64 import b64decode, b64encode
    from pybase64 import b64encode_as_string as encode_text
except ImportError:  # pragma: no cover - depends on the environment
    from base64 import b64decode, b64encode

    def encode_text(data: bytes) -> str:
        return b64encode(data).decode("ascii")

__all__ = ["b64decode", "b64encode", "encode_text"]
