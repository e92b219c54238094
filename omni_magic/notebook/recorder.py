"""The recorder (issue 19, ask by voice): one anywidget (``static/recorder.js``, built from
``js/recorder.js``) that records from the browser's microphone, and ``%omni record NAME``.

The page asks for the microphone only when the user presses record, turns what it hears into
16 kHz mono PCM16 and sends it here in binary comm messages of ~0.25 s (protocol at the top of
``js/recorder.js``). Those messages are handled while the kernel is idle: a cell that waited
for the page would block them, which is why recording happens between cells. On stop the
samples become a ``Clip`` (``omni_magic.clip``), handed to ``on_clip``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import anywidget
from IPython.core.error import UsageError
from traitlets import Float, Unicode

from .. import catalog
from ..clip import Clip
from ..fit import MARGIN, raw_cap
from . import view
from .frontend import has_widget_frontend
from .widgets import display_widget

STATIC = Path(__file__).parent / "static"
RATE = 16_000  # what the page sends: mono 16 kHz, 16-bit
WAV_HEADER = 44
INLINE_CHARS = 10_485_760  # the service's base64 cap for one inline item, if no catalog states one
PLACEHOLDER = ("The recorder needs a frontend with widgets (JupyterLab or Jupyter Notebook) and "
               "the browser's microphone; here it cannot record.")
NO_WIDGETS = ("%omni record needs JupyterLab or Jupyter Notebook: the recorder is a widget that "
              "records with the browser's microphone, and this frontend shows no widgets. Attach "
              "an audio file instead: %%omni -a question.wav")


def clock(seconds: float) -> str:
    whole = max(0, math.floor(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


class Recorder(anywidget.AnyWidget):
    """Records from the browser's microphone. ``clip`` is the last recording (None before the
    first stop and after a discard); ``on_clip(clip)`` runs in the kernel on each stop."""

    # The module's text, not its path: anywidget would watch a path and keep the widget alive.
    _esm = (STATIC / "recorder.js").read_text(encoding="utf-8")
    limit_seconds = Float(60.0).tag(sync=True)
    limit_note = Unicode("").tag(sync=True)  # why that limit, shown beside it
    label = Unicode("").tag(sync=True)  # the variable the recording goes to, if any
    status = Unicode("").tag(sync=True)  # what the kernel made of the recording

    def __init__(self, *, limit_seconds: float, label: str = "",
                 on_clip: Callable[[Clip], None] | None = None, limit_note: str = "") -> None:
        if not limit_seconds > 0:
            raise ValueError(f"limit_seconds must be positive, not {limit_seconds!r}")
        super().__init__(limit_seconds=float(limit_seconds), label=label, limit_note=limit_note)
        self.on_clip = on_clip
        self.on_discard: Callable[[], None] | None = None  # %omni record forgets the variable
        self.clip: Clip | None = None
        self._pcm = bytearray()
        self._dropped = 0  # bytes past the limit, not kept
        self._handle: Any = None
        self.on_msg(self._message)

    @property
    def max_bytes(self) -> int:
        return int(self.limit_seconds * RATE) * 2

    def show(self) -> Any:
        self._handle = display_widget(self, PLACEHOLDER)
        return self._handle

    # -- what the page sends ---------------------------------------------------------------------
    def _message(self, _widget: Any, content: Any, buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "start":
            self._pcm.clear()
            self._dropped = 0
            self.status = ""
        elif kind == "pcm":
            for buffer in buffers or ():
                self._take(bytes(buffer))
        elif kind == "stop":
            self._stop(limit=bool(content.get("limit")))
        elif kind == "discard":
            self.discard()

    def _take(self, data: bytes) -> None:
        # Bounded: the page stops at the limit, but a page is not trusted to.
        room = self.max_bytes - len(self._pcm)
        self._pcm += data[:max(0, room)]
        self._dropped += max(0, len(data) - max(0, room))

    def _stop(self, limit: bool) -> None:
        if not self._pcm:
            self.status = "Nothing was recorded: press record, speak, then press stop."
            return
        clip = Clip.from_pcm(bytes(self._pcm), RATE)
        self._pcm = bytearray()  # the clip holds its own copy
        notes = []
        if self._dropped or limit:
            notes.append(f"It stopped at the limit of {clock(self.limit_seconds)}"
                         + (f" ({self.limit_note})" if self.limit_note else "")
                         + ("; what came after was not kept." if self._dropped else "."))
        self._dropped = 0
        self.clip = clip
        stored = (f"Recorded {clip.seconds:.1f} s: stored in {self.label} (attach it with -a {self.label})."
                  if self.label else f"Recorded {clip.seconds:.1f} s.")
        self.status = " ".join([stored, *notes])
        if self.on_clip is not None:
            try:
                self.on_clip(clip)
            except Exception as exc:  # a comm handler's error reaches no cell: say it here
                self.status = f"Recorded {clip.seconds:.1f} s, but it could not be used: {exc}"

    def discard(self) -> None:
        """Forget the recording (the page has already dropped its copy)."""
        self._pcm.clear()
        self._dropped = 0
        had = self.clip is not None
        if had and self.on_discard is not None:
            self.on_discard()  # while .clip still says which recording it was
        self.clip = None
        self.status = (f"Discarded: {self.label} was removed." if had and self.label and self.on_discard
                       else "Discarded.")


# -- %omni record NAME ---------------------------------------------------------------------------

def limit_for(model_name: str, models: catalog.Catalog) -> tuple[float, str]:
    """The longest recording, and why: the model's audio limit, or what one 16 kHz mono 16-bit
    WAV sent inline can hold (a recording is always sent inline), whichever is smaller. A model
    outside the catalog is held to the default model's family limits, as --segments does."""
    model = models.resolve(model_name)
    fallback = models.resolve(catalog.DEFAULT_MODEL)
    known = model if model is not None else fallback
    audio = known.family.limits.audio if known is not None else None
    cap = raw_cap(audio) if audio is not None else math.inf
    if cap == math.inf and fallback is not None:  # no cap stated: the default model's, not none
        cap = raw_cap(fallback.family.limits.audio)
    if cap == math.inf:  # a catalog file took every cap away: the service's documented one
        cap = (INLINE_CHARS - 1) // 4 * 3
    wav = math.floor((cap * MARGIN - WAV_HEADER) / (RATE * 2))
    stated = audio.max_seconds if audio is not None and audio.max_seconds is not None else math.inf
    if stated <= wav and known is not None:
        whose = (f"{known.id}'s audio limit" if model is not None else
                 f"the audio limit of {known.id}, the default model ({model_name} is not in the catalog)")
        return float(stated), whose
    return float(wav), "what a 16 kHz WAV sent inline can hold"


def record(magics: Any, words: list[str]) -> Recorder | None:
    """``%omni record NAME``: show a recorder that stores each recording in ``NAME``."""
    if len(words) != 1 or not words[0].isidentifier():
        raise UsageError("Use %omni record NAME, with NAME a Python variable name (like q): the "
                         "recording is stored in it for -a NAME.")
    name = words[0]
    if not has_widget_frontend(magics.shell):
        view.show(view.Notice(NO_WIDGETS, "warn"))
        return None
    seconds, why = limit_for(magics.model, magics._catalog())
    namespace = magics.shell.user_ns
    recorder = Recorder(limit_seconds=seconds, label=name, limit_note=why,
                        on_clip=lambda clip: namespace.__setitem__(name, clip))

    def forget() -> None:
        if namespace.get(name) is recorder.clip:  # only what this recorder stored
            namespace.pop(name, None)

    recorder.on_discard = forget
    recorder.show()
    return recorder
