"""Pre-request token estimates. Pure functions, no I/O.

Text is counted exactly with the Qwen BPE vocabulary when the optional
``dashscope`` package (which ships ``qwen.tiktoken``) and ``tiktoken`` are
installed; otherwise with a stated heuristic. Every estimate says which.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

# Qwen's chat template wraps each message in "<|im_start|>role\n ... <|im_end|>\n".
MESSAGE_OVERHEAD = 5
HEURISTIC = "heuristic: ~4 characters per token, 1 per CJK character"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(frozen=True)
class PartEstimate:
    """The estimated prompt tokens of one part of a request."""

    label: str  # "text", "image cat.png", ...
    modality: str  # text | image | audio | video
    tokens: int
    method: str  # how it was counted: "exact (Qwen BPE)", a formula, or a heuristic


@dataclass
class TokenEstimate:
    """Per-part estimate of a request's prompt tokens, made before sending."""

    parts: list[PartEstimate] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p.tokens for p in self.parts)

    def by_modality(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.parts:
            out[p.modality] = out.get(p.modality, 0) + p.tokens
        return out

    def add(self, label: str, modality: str, tokens: int, method: str) -> None:
        self.parts.append(PartEstimate(label, modality, tokens, method))


@functools.lru_cache(maxsize=1)
def _qwen_encoding():
    """The Qwen BPE encoder from the dashscope package, or None when unavailable."""
    try:
        from dashscope.tokenizers import get_tokenizer  # type: ignore[import-not-found]

        return get_tokenizer("qwen-turbo")
    except Exception:  # not installed, or its vocabulary could not load: use the heuristic
        return None


def text_method() -> str:
    return "exact (Qwen BPE)" if _qwen_encoding() is not None else HEURISTIC


def text_tokens(text: str) -> int:
    """Tokens of a piece of text: exact when the Qwen vocabulary is available."""
    enc = _qwen_encoding()
    if enc is not None:
        return len(enc.encode(text))
    cjk = len(_CJK.findall(text))
    rest = len(text) - cjk
    return cjk + math.ceil(rest / 4)


def image_tokens(width: int, height: int, factor: int = 32) -> int:
    """The seed's per-image formula (factor 32 for qwen3-omni-flash, 28 for turbo)."""
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    min_pixels = 4 * factor * factor
    max_pixels = 1280 * factor * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return int((h_bar * w_bar) / (factor * factor)) + 2


def audio_tokens(seconds: float, per_second: float) -> int:
    """Audio tokens: the per-second rate of the model family, under 1 s counts as 1 s."""
    return math.ceil(max(seconds, 1.0) * per_second)
