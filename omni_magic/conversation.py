"""A conversation across cells: the turns that were answered, replayed as history, and the
system message a cell set, which holds for the turns after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .attachments import Attachment
from .history import EarlierMedia


@dataclass
class Turn:
    """One exchange: the user message as sent, and the answer's text."""

    user: dict[str, Any]
    answer: str
    model: str
    key: str | None = None  # identifies the cell that asked, so a re-run can replace it
    # Kept measured (their probes cached), so they are checked and counted against the model of
    # each later request without reading the files again.
    attachments: tuple[Attachment, ...] = field(default=(), repr=False)
    system: str | None = None  # the system message its cell set ("" for none); None: it set none


@dataclass
class Conversation:
    """History for the next request. Assistant turns go back as text only (the service's rule)."""

    turns: list[Turn] = field(default_factory=list)

    def messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for turn in self.turns:
            out.append(turn.user)
            out.append({"role": "assistant", "content": [{"type": "text", "text": turn.answer}]})
        return out

    def record(
        self, user: dict[str, Any], answer: str, model: str, key: str | None = None,
        attachments: tuple[Attachment, ...] | list[Attachment] = (), system: str | None = None,
    ) -> None:
        """Add a turn; a turn from the same cell (same ``key``) replaces the earlier one.
        ``system`` is the system message the cell set (None: it set none, and the one before
        holds)."""
        turn = Turn(user=user, answer=answer, model=model, key=key,
                    attachments=tuple(attachments), system=system)
        if key is not None:
            for i, old in enumerate(self.turns):
                if old.key == key:
                    self.turns[i] = turn
                    return
        self.turns.append(turn)

    def before(self, key: str | None) -> "Conversation":
        """The turns before the one asked from cell ``key``: a re-run's context. All, if none."""
        for i, turn in enumerate(self.turns):
            if key is not None and turn.key == key:
                return Conversation(self.turns[:i])
        return self

    def system_set(self) -> tuple[int, str] | None:
        """(turn number, text) of the last system message a turn's cell set; None if none did.
        The text is empty when that cell asked for none (``--system ""``)."""
        for number in range(len(self.turns), 0, -1):
            system = self.turns[number - 1].system
            if system is not None:
                return number, system
        return None

    def system_for(self, given: str | None, default: str | None) -> str | None:
        """The system message of a new turn: the cell's own (``given``), else the one set earlier
        in the conversation, else ``default`` (``%config OmniMagics.system``); empty is none."""
        if given is None:
            found = self.system_set()
            given = found[1] if found is not None else default
        return given or None

    def earlier_media(self) -> list[EarlierMedia]:
        """The media each earlier turn sent, which the history sends again."""
        return [EarlierMedia(turn=number, model=turn.model, attachments=turn.attachments)
                for number, turn in enumerate(self.turns, start=1) if turn.attachments]

    def carried(self, system: str | None, default_system: str | None) -> dict[str, Any]:
        """The keywords of ``OmniClient.prepare`` that carry the conversation into a new turn
        whose cell gave ``system`` (None: it gave none)."""
        return {"history": self.messages(), "earlier_media": self.earlier_media(),
                "system": self.system_for(system, default_system)}

    def reset(self) -> None:
        self.turns.clear()

    def __len__(self) -> int:
        return len(self.turns)
