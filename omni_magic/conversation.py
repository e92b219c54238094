"""A conversation across cells: the turns that were answered, replayed as history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Turn:
    """One exchange: the user message as sent, and the answer's text."""

    user: dict[str, Any]
    answer: str
    model: str
    key: str | None = None  # identifies the cell that asked, so a re-run can replace it
    media_tokens: dict[str, int] = field(default_factory=dict)  # estimated when first sent


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
        media_tokens: dict[str, int] | None = None,
    ) -> None:
        """Add a turn; a turn from the same cell (same ``key``) replaces the earlier one."""
        turn = Turn(user=user, answer=answer, model=model, key=key, media_tokens=media_tokens or {})
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

    def media_tokens(self) -> dict[str, int]:
        """Estimated tokens of the media earlier turns carry (sent again with the history)."""
        total: dict[str, int] = {}
        for turn in self.turns:
            for modality, count in turn.media_tokens.items():
                total[modality] = total.get(modality, 0) + count
        return total

    def reset(self) -> None:
        self.turns.clear()

    def __len__(self) -> int:
        return len(self.turns)
