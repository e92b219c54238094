"""The static outputs: the answer, the speech, the tables, the notes.

Each display object has an HTML or Markdown face and a text/plain twin, so it
reads the same in JupyterLab, in a terminal and in a notebook rendered with no
widget state. The live view while streaming is ``live.py``.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from IPython.display import Audio, display

from .. import catalog
from .._b64 import encode_text
from ..errors import InvalidRequest
from ..events import Usage
from ..history import resent_tokens
from ..request import message_text as request_text
from ..response import OmniResponse
from .status import RESENT, status_markdown


# -- static display objects (each has a text/plain twin for terminals and nbconvert) ----------
class Notice:
    """A one-line note (the emulator notice, "speech is off"). `Backticks` mark code."""

    def __init__(self, text: str, kind: str = "info") -> None:
        self.text, self.kind = text, kind

    def _repr_html_(self) -> str:
        color = {"info": "#555", "warn": "#8a5300", "error": "#b00020"}[self.kind]
        # Code spans never break inside ("--region cn" stays on one line).
        body = re.sub(r"`([^`]+)`", r"<code style='white-space:nowrap'>\1</code>", html.escape(self.text))
        return f'<p style="color:{color};font-size:0.9em;margin:2px 0">{body}</p>'

    def __repr__(self) -> str:
        return self.text


class Answer:
    """The final answer as Markdown, with the reasoning folded above it."""

    def __init__(self, response: OmniResponse, status: str) -> None:
        self.response, self.status = response, status

    def _repr_markdown_(self) -> str:
        r = self.response
        parts = [status_markdown(self.status) + "\n"]
        if r.reasoning:
            # Quoted, so that an opened fold never reads as part of the answer.
            quoted = "\n".join(f"> {line}" if line else ">" for line in html.escape(r.reasoning).splitlines())
            parts.append(f"<details><summary>Reasoning</summary>\n\n{quoted}\n\n</details>\n")
        parts.append(r.text or "*(no text)*")
        return "\n".join(parts)

    def __repr__(self) -> str:
        r = self.response
        lines = [self.status]
        if r.reasoning:
            lines += ["[reasoning]", r.reasoning, "[answer]"]
        lines.append(r.text)
        return "\n".join(lines)


class UsageTable:
    """Tokens estimated before the call beside the usage the service reported."""

    def __init__(self, response: OmniResponse) -> None:
        self.rows = usage_rows(response)

    def _repr_html_(self) -> str:
        head = "<tr><th style='text-align:left'>tokens</th><th>estimated</th><th>reported</th></tr>"
        body = "".join(
            f"<tr><td style='text-align:left;padding-left:{1.6 if name.startswith(' ') else 0.5}em'>"
            f"{html.escape(name.strip())}</td><td>{_cell(est)}</td><td>{_cell(rep)}</td></tr>"
            for name, est, rep in self.rows
        )
        return f"<table class='omni-usage'>{head}{body}</table>"

    def __repr__(self) -> str:
        width = max(len(r[0]) for r in self.rows)
        lines = [f"{'tokens':<{width}}  {'estimated':>9}  {'reported':>8}"]
        lines += [f"{n:<{width}}  {_cell(e):>9}  {_cell(r):>8}" for n, e, r in self.rows]
        return "\n".join(lines)


def _cell(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def usage_rows(response: OmniResponse) -> list[tuple[str, int | None, int | None]]:
    usage = response.usage or Usage()
    prompt_details = usage.input_details
    by_modality = response.estimate.by_modality()
    rows: list[tuple[str, int | None, int | None]] = [
        ("prompt", response.estimate.total or None, usage.input)
    ]
    for modality in sorted(set(by_modality) | {k.removesuffix("_tokens") for k in prompt_details}):
        rows.append((f"  {modality}", by_modality.get(modality), prompt_details.get(f"{modality}_tokens")))
    resent = resent_tokens(response.estimate)
    if resent is not None:  # part of the prompt above, billed again: said apart
        rows.append((f"  {RESENT}", resent, None))
    rows.append(("completion", None, usage.output))
    for key, value in usage.output_details.items():
        rows.append((f"  {key.removesuffix('_tokens')}", None, value))
    rows.append(("total", None, usage.total))
    return rows


class EstimateTable:
    """--dry-run: the token estimate of each part of the prompt, and how it was made."""

    def __init__(self, estimate: Any) -> None:
        self.rows = [(p.label, p.modality, p.tokens, p.method) for p in estimate.parts]
        self.total = estimate.total

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td style='text-align:left'>{html.escape(label)}</td>"
            f"<td style='text-align:left'>{html.escape(modality)}</td>"
            f"<td>{tokens:,}</td><td style='text-align:left'>{html.escape(method)}</td></tr>"
            for label, modality, tokens, method in self.rows
        )
        return (
            "<table class='omni-estimate'><tr><th style='text-align:left'>part</th>"
            "<th style='text-align:left'>modality</th>"
            f"<th>tokens</th><th style='text-align:left'>how</th></tr>{body}"
            f"<tr><td style='text-align:left'><b>total</b></td><td></td><td><b>{self.total:,}</b></td><td></td></tr></table>"
        )

    def __repr__(self) -> str:
        lines = [f"{label} [{modality}]: {tokens:,} ({method})" for label, modality, tokens, method in self.rows]
        return "\n".join(lines + [f"estimated prompt total: {self.total:,} tokens"])


class Previews:
    """Thumbnails, waveforms and frame strips of the attachments, as static HTML."""

    def __init__(self, attachments: list[Any]) -> None:
        from .preview import previews

        self.items = [item for a in attachments for item in previews(a)]

    def _repr_html_(self) -> str:
        cells = []
        for caption, png in self.items:
            picture = (
                f"<img src='data:image/png;base64,{encode_text(png)}' style='display:block'>"
                if png else ""
            )
            cells.append(
                f"<figure style='display:inline-block;margin:2px 8px 2px 0;vertical-align:top'>{picture}"
                f"<figcaption style='font-size:0.8em;color:#555'>{html.escape(caption)}</figcaption></figure>"
            )
        return "<div class='omni-previews'>" + "".join(cells) + "</div>"

    def __repr__(self) -> str:
        return "Attached: " + "; ".join(caption for caption, _ in self.items)


def show_previews(attachments: list[Any]) -> None:
    display(Previews(attachments))


class RequestPreview:
    """--dry-run: where the request would go, its headers (key masked) and body (media elided)."""

    def __init__(self, endpoint: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        self.text = (
            f"POST {endpoint}\n"
            + "".join(f"{k}: {v}\n" for k, v in headers.items())
            + "\n" + json.dumps(body, indent=2, ensure_ascii=False)
        )

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"

    def __repr__(self) -> str:
        return self.text


class Table:
    """A small table with an HTML and a plain-text face (the %omni line commands)."""

    def __init__(self, headers: list[str], rows: list[list[Any]], caption: str = "") -> None:
        self.headers, self.rows, self.caption = headers, rows, caption

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        # A paragraph, not a <caption>: a caption is squeezed to the table's width.
        caption = Notice(self.caption)._repr_html_() if self.caption else ""
        table = f"<table><tr>{head}</tr>{body}</table>" if self.rows else ""
        return caption + table

    def __repr__(self) -> str:
        cols = [self.headers] + [[str(c) for c in row] for row in self.rows]
        widths = [max(len(r[i]) for r in cols) for i in range(len(self.headers))]
        lines = [self.caption] if self.caption else []
        if self.rows:
            lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cols]
        return "\n".join(lines)

    @classmethod
    def models(cls, cat: catalog.Catalog | None = None) -> "Table":
        cat = cat or catalog.default()
        rows = []
        for m in cat.models.values():
            family = m.family
            thinking = {"none": "no", "optional": "--think",
                        "default": f"on ({family.thinking.default_level})"}[family.thinking.mode]
            voices = len(m.voices.names) if m.voices else "-"
            if m.voices and not m.voices.confirmed:
                voices = f"{voices}*"
            rows.append([
                m.id + (" (legacy)" if m.legacy else ""), family.label,
                m.kind + (f" = {m.same_as}" if m.same_as else ""),
                " + ".join("speech" if o == "audio" else o for o in family.outputs), thinking,
                _count(m.context), _count(m.max_input), _count(m.max_output), ", ".join(m.regions),
                voices,
            ])
        aliases = ", ".join(f"{a} -> {t}" for a, t in cat.aliases.items())
        advice = "; ".join(f"{f.label}: {f.advice}" for f in cat.families.values() if f.advice)
        files = f" Catalog files merged over the shipped one: {', '.join(cat.files)}." if cat.files else ""
        return cls(["model", "family", "kind", "answers", "thinking", "context", "max input",
                    "max output", "regions", "voices"], rows,
                   caption=f"Which model for what — {advice}. Aliases: {aliases}. "
                   f"* the voice list is not confirmed by the service's documentation (other "
                   f"voices warn, not refuse).{files}")

    @classmethod
    def voices(cls, model: str, cat: catalog.Catalog | None = None) -> "Table":
        info = (cat or catalog.default()).resolve(model)
        if info is None:
            raise InvalidRequest(f"{model!r} is not in omni_magic's catalog, so its voices are "
                                 "not known (%omni models lists the models).")
        voices = info.voices
        if voices is None:
            return cls(["voice", "dialect"], [], caption=f"{info.id} answers in text only: it has "
                       "no voices. qwen3.5-omni-plus speaks (%omni voices qwen3.5-omni-plus).")
        rows = [[f"{v} (default)" if v == voices.default else v, voices.notes.get(v, "")]
                for v in voices.names]
        status = ("confirmed by the service's documentation" if voices.confirmed else
                  "NOT confirmed by the service's documentation (a third party's copy): other "
                  "voices are sent with a warning")
        return cls(["voice", "dialect"], rows,
                   caption=f"{info.id}: {len(rows)} voices, {status}; speech in {voices.languages}")

    @classmethod
    def history(cls, conversation: Any, default_system: str = "") -> "Table":
        rows = [[i + 1, turn.model, _short(request_text(turn.user) or _media_words(turn)), _short(turn.answer)]
                for i, turn in enumerate(conversation.turns)]
        caption = ("No turns yet." if not rows else
                   f"{len(rows)} turn{'s' if len(rows) > 1 else ''}; `%omni reset` clears them")
        found = conversation.system_set()
        if found is not None:  # "none" when that cell asked for none (--system "")
            caption += (f". System message (set in turn {found[0]}; it holds until --new, "
                        f"`%omni reset` or another --system): {_short(found[1], 200) or 'none'}")
        elif default_system:
            caption += f". System message (`%config OmniMagics.system`): {_short(default_system, 200)}"
        return cls(["turn", "model", "you", "answer"], rows, caption=caption)

    @classmethod
    def config(cls, magics: Any) -> "Table":
        rows = [[name, repr(getattr(magics, name)), trait.help]
                for name, trait in sorted(magics.traits(config=True).items())]
        return cls(["OmniMagics.", "value", "meaning"], rows,
                   caption="Change with %config OmniMagics.<name> = <value>")


def _media_words(turn: Any) -> str:
    """A turn that said nothing in words (a reply by voice): what it sent instead."""
    words = []
    for attachment in turn.attachments:
        info = attachment.probe()[0]
        length = f" {info.seconds:.1f} s" if info is not None and info.seconds else ""
        words.append(f"({attachment.kind}{length}: {attachment.name})")
    return " ".join(words)


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class Speech(Audio):
    """``IPython.display.Audio`` for the answer's WAV, with the element built in one pass and
    base64 by pybase64 when the ``fast`` extra is installed: a long answer embeds megabytes.
    ``key`` names the live answer whose speech this element takes over in the page."""

    def __init__(self, *args: Any, key: str | None = None, **kwargs: Any) -> None:
        self.key = key
        super().__init__(*args, **kwargs)

    def _repr_html_(self) -> str:
        if not (self.embed and self.data is not None):
            return super()._repr_html_()
        tag = f' data-omni-speech="{self.key}"' if self.key else ""
        return (f'<audio controls="controls"{tag} {self.autoplay_attr()}><source src="data:'
                f'{self.mimetype};base64,{encode_text(self.data)}" type="{self.mimetype}" />'
                "Your browser does not support the audio element.</audio>")


def show_tail(response: OmniResponse, *, show_usage: bool, autoplay: bool,
              notes: list[Notice] | None = None, speech_key: str | None = None) -> None:
    """What follows the answer: the speech, notes about it, the error, the token table.
    ``speech_key``: the live answer still speaking, which hands its speech over to this element."""
    if response.audio_chunks:
        display(Speech(data=response.wav_bytes(), autoplay=autoplay, key=speech_key))
    for note in notes or ():
        display(note)
    if response.error is not None:
        display(Notice(f"{type(response.error).__name__}: {response.error}", "error"))
    if show_usage and (response.usage or response.estimate.parts):
        display(UsageTable(response))


def progress_line(progress: Any) -> str:
    """done · failed · cached · in flight · ETA, and the slow-down when 429s came."""
    bits = [f"{progress.done} of {progress.total} done"]
    if progress.failed:
        bits.append(f"{progress.failed} failed")
    if progress.cached:
        bits.append(f"{progress.cached} from the cache")
    if progress.finished < progress.total:
        bits.append(f"{progress.in_flight} in flight")
        eta = progress.eta
        bits.append("ETA …" if eta is None else f"ETA {_clock(eta)}")
    else:
        bits.append(f"in {_clock(progress.elapsed)}")
    if progress.slowdowns:
        bits.append(f"slowed by {progress.slowdowns} × 429 (now {progress.limit} at once)")
    return " · ".join(bits)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class BatchSummary:
    """The line that replaces a finished batch's progress bar."""

    def __init__(self, progress: Any, interrupted: bool) -> None:
        self.progress, self.interrupted = progress, interrupted

    def _text(self) -> str:
        line = progress_line(self.progress)
        if self.interrupted:
            return (f"Interrupted: {line}. Finished items are kept (and cached): run the cell "
                    "again to do the rest.")
        if self.progress.failed:
            return f"{line}. Failed items are not cached: run the cell again to retry them."
        return line

    def _repr_html_(self) -> str:
        kind = "warn" if self.interrupted or self.progress.failed else "info"
        return Notice(self._text(), kind)._repr_html_()

    def __repr__(self) -> str:
        return self._text()


class BatchTable(Table):
    """A batch's rows: file, the answer's start, total tokens, and the error or the speech.

    At most ``MAX_ROWS`` rows, in a box that scrolls; the whole table is in ``--out``/``_``.
    """

    MAX_ROWS = 200

    def __init__(self, rows: list[Any]) -> None:
        shown = rows[: self.MAX_ROWS]
        more = len(rows) - len(shown)
        super().__init__(
            ["file", "answer", "tokens", "note"],
            [[Path(r.file).name, _short(r.answer, 100),
              "" if not r.usage else r.usage.get("total_tokens", ""),  # a row keeps the raw dict
              r.error or " ".join(filter(None, [r.note, Path(r.speech).name if r.speech else "",
                                                "(cached)" if r.cached else ""]))]
             for r in shown],
            caption=f"The first {len(shown)} of {len(rows)} rows: the whole table is in --out "
                    "NAME and _." if more else "",
        )

    def _repr_html_(self) -> str:
        return f"<div style='max-height:32em;overflow:auto'>{super()._repr_html_()}</div>"


class SegmentTable(BatchTable):
    """--segments' rows: each window's start and end (hh:mm:ss), the answer's start, total
    tokens, and the error or the speech; a window the run did not reach says so."""

    def __init__(self, windows: list[Any], rows: list[Any]) -> None:
        Table.__init__(
            self, ["start", "end", "answer", "tokens", "note"],
            [[w.label.split("–")[0], w.label.split("–")[1],
              "" if r is None else _short(r.answer, 100),
              "" if r is None or not r.usage else r.usage.get("total_tokens", ""),
              "not asked: the run was stopped first" if r is None else
              r.error or (Path(r.speech).name if r.speech else "") + (" (cached)" if r.cached else "")]
             for w, r in zip(windows, rows)],
        )


def show(obj: Any) -> None:
    display(obj)
