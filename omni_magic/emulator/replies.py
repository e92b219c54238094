"""The emulator's answer: plain statements about the request, never an imitation of a model.

Kept to a few sentences because, when speech is asked for, all of it is spoken. A request for a
long answer (``markdown.py``) gets those sentences as its first paragraph, saying what follows,
then sample Markdown; only the first paragraph is spoken.
Deterministic: the same request always gets the same words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import tokens
from . import markdown
from .received import Attachment, Received

QUOTE_LIMIT = 200
PLACEHOLDER_NOTE = ("The audio is a placeholder tone because no speech synthesizer is "
                    "installed; pip install 'omni_magic[speech]' for real speech.")


@dataclass(frozen=True)
class Reply:
    """What the emulator will stream: optional reasoning first, then the text."""

    text: str
    reasoning: str  # "" unless thinking was enabled
    spoken: str | None = None  # the start of ``text`` that is spoken; None: all of it


def compose(received: Received, placeholder_audio: bool = False) -> Reply:
    """The reply for a request; ``placeholder_audio`` adds the note about the tone."""
    sentences = [
        "This is the omni_magic emulator, not a model: it reports what it received.",
        _what_arrived(received),
        _estimate(received),
    ]
    if received.voice is not None and placeholder_audio:
        sentences.append(PLACEHOLDER_NOTE)
    reasoning = ""
    if received.thinking:
        reasoning = (f"The request has {_count(received.messages, 'message')} and its last "
                     f"user message is {_quote(received.prompt)}. I am an emulator, so I will "
                     "describe the request instead of answering it.")
    if received.words is None:
        return Reply(" ".join(sentences), reasoning)
    sentences.append(f"It was asked for about {_count(received.words, 'word')}: what follows "
                     "is sample Markdown it made up for testing, not an answer.")
    if received.voice is not None:
        sentences.append("Only this first paragraph is spoken.")
    first = " ".join(sentences)
    rest = markdown.document(received.words - len(first.split()), received.seed)
    return Reply(f"{first}\n\n{rest}" if rest else first, reasoning, spoken=first)


def _what_arrived(r: Received) -> str:
    where = ("as the only message" if r.messages == 1 else
             f"as the last user message of {_count(r.messages, 'message')} "
             f"({_count(r.turns, 'user turn')})")
    said = f"It received {_quote(r.prompt)}" if r.prompt.strip() else "It received no text"
    attached = _attachments(r.attachments)
    return f"{said} {where}{', with ' + attached if attached else ''}."


def _attachments(items: tuple[Attachment, ...]) -> str:
    """Images grouped ("2 images (...)"), then the other parts in their order."""
    images = [a.description for a in items if a.modality == "image"]
    said = []
    if images:
        s = "" if len(images) == 1 else "s"
        said.append(f"{len(images)} image{s} ({'; '.join(images)})")
    said += [a.description for a in items if a.modality != "image"]
    return " and ".join(said)


def _estimate(r: Received) -> str:
    counted = f"about {_count(r.prompt_tokens, 'prompt token')}"
    how = "exact" if tokens.text_method(r.model).startswith("exact") else "estimated"
    if r.uncounted:
        how += ", some media not counted: they could not be measured here"
    voice = f", speaking as {r.voice}" if r.voice else ""
    return f"That is {counted} ({how}) for {r.model_name}{voice}."


def _quote(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    if len(flat) > QUOTE_LIMIT:
        flat = flat[:QUOTE_LIMIT].rstrip() + "…"
    return f"\u201c{flat}\u201d"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
