"""Earlier turns in a new request: their media checked and counted against the model now
asked, or sent as text.

The history carries each earlier user message as it was sent, media included, so every later
request sends those media again: to a model that may refuse them, billed again, and read again
from files that may have changed since. ``history_media`` "text" sends each as a short line
saying what was there instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from . import tokens
from .attachments import Attachment, InlineData
from .catalog import Model
from .errors import InvalidRequest
from .measure import PART_MODALITY, measure_media

HISTORY_MEDIA = ("keep", "text")  # earlier turns' media: sent again, or replaced by a short text
EARLIER = "in earlier turns"  # the end of the estimate's labels for media the history re-sends


@dataclass(frozen=True)
class EarlierMedia:
    """The media an earlier turn sent, which go again with its message in the history: kept
    measured so they are checked and counted against the model each new request goes to."""

    turn: int  # 1-based, as %omni history numbers the turns
    model: str  # the model the turn was sent to
    attachments: tuple[Attachment, ...]


def check_history_media(history_media: str) -> None:
    if history_media not in HISTORY_MEDIA:
        raise InvalidRequest(f"history_media is {history_media!r}: use keep (earlier turns' media "
                             "are sent again) or text (each replaced by a line saying what it was).")


def earlier(earlier_media: Sequence[EarlierMedia], info: Model | None, model_id: str, hi_res: bool,
            strict: bool) -> tuple[tokens.TokenEstimate, list[str]]:
    """Earlier turns' media, sent again with the history: their files unchanged since they were
    measured, checked against the model this request goes to, as new media are, and counted
    for it (one row per modality)."""
    per_turn = tokens.TokenEstimate()
    warnings: list[str] = []
    for turn in earlier_media:
        _check_unchanged(turn, model_id)
        try:
            media, found = measure_media(turn.attachments, info, hi_res, strict)
        except InvalidRequest as exc:
            names = ", ".join(str(a.name) for a in turn.attachments)
            one = len(turn.attachments) == 1
            raise InvalidRequest(
                f"{names}, sent to {turn.model} in turn {turn.turn} of this conversation, "
                f"{'goes' if one else 'go'} again with this request (the history carries "
                f"{'it' if one else 'them'}), to {model_id}, which refuses: {exc} "
                f"{go_on(model_id)}") from None
        per_turn.parts += media.parts
        if turn.model != model_id:  # the same model already said these when the turn was sent
            warnings += [f"Turn {turn.turn}'s media, sent again: {w}" for w in found]
    out = tokens.TokenEstimate()
    for modality, count in per_turn.by_modality().items():
        uncounted = any(p.modality == modality and p.method.startswith("not counted")
                        for p in per_turn.parts)
        out.add(f"{modality} {EARLIER}", modality, count,
                f"re-sent with the history, estimated for {model_id}"
                + (", some not counted" if uncounted else "")
                + "; --history-media text sends earlier turns as text")
    return out, warnings


def _check_unchanged(turn: EarlierMedia, model_id: str) -> None:
    """Refuse, before anything is sent, a file of the turn that was edited or deleted since it
    was measured: it would be sent (and fail) again on every later cell, so running the cell
    again cannot help; the advice says which turn, and how to go on without it."""
    advice = (f"It was sent in turn {turn.turn} of this conversation, and the history sends it "
              f"again with every later request. {go_on(model_id)}")
    for attachment in turn.attachments:
        for item in attachment.items():
            if isinstance(item, InlineData):
                item.check_unchanged(advice)


def go_on(model_id: str, turn: int = 0, message: dict[str, Any] | None = None) -> str:
    """How to go on when what an earlier turn sent does not suit the model now asked; with
    ``message``, first which turn it was and what it held."""
    content = (message or {}).get("content")
    parts = content if isinstance(content, list) else []
    held = [_part_label(p) for p in parts if isinstance(p, dict) and p.get("type") != "text"]
    said = f"That is turn {turn}'s message ({', '.join(held)}). " if held else ""
    return said + (f"To go on with {model_id}: start afresh with --new (or %omni reset), or send the "
            "earlier turns as text only with --history-media text (history_media=\"text\" in "
            "Python; %config OmniMagics.history_media = \"text\" for every cell).")


def resent_tokens(estimate: tokens.TokenEstimate) -> int | None:
    """Estimated tokens of the media earlier turns send again; None when they send none."""
    parts = [p for p in estimate.parts if p.label.endswith(EARLIER)]
    return sum(p.tokens for p in parts) if parts else None


def media_as_text(message: dict[str, Any]) -> dict[str, Any]:
    """A user message of an earlier turn with each media part replaced by a short text saying
    what was there ("[image photo.jpg, sent in an earlier turn]"), so the model knows of it."""
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, list):
        return message
    return {**message, "content": [part if part.get("type") == "text" else
                                   {"type": "text", "text": _placeholder(part)} for part in content]}


def _placeholder(part: dict[str, Any]) -> str:
    return f"[{_part_label(part)}, sent in an earlier turn]"


def _part_label(part: dict[str, Any]) -> str:
    """"image photo.jpg", "video of 12 frames f01.jpg … f12.jpg": what a media part holds."""
    kind = part.get("type")
    value = part.get(kind) if isinstance(kind, str) else None
    if kind == "video" and isinstance(value, list):  # a video given as frames
        names = [_item_name(item) for item in value]
        shown = names[0] if len(names) < 2 else f"{names[0]} … {names[-1]}"
        return f"video of {len(names)} frames {shown}"
    item = value.get("data" if kind == "input_audio" else "url") if isinstance(value, dict) else None
    return f"{PART_MODALITY.get(str(kind), 'media')} {_item_name(item)}"


def _item_name(item: Any) -> str:
    if isinstance(item, InlineData):
        return item.name
    if not isinstance(item, str):
        return "(unnamed)"
    text = item
    if text.startswith("data:"):
        return "(inline data)"
    return text.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or text
