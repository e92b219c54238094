"""A cell's options, resolved once: ``CellOptions`` from the %%omni line, the OmniMagics traits
and the user's namespace, used alike by a single call and by ``--each``; the option values
that name media (paths, URLs, globs in natural order, variables) as attachments."""

from __future__ import annotations

import glob
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ..attachments import Attachment, is_url
from ..batch import kind_of
from ..catalog import Catalog
from ..errors import InvalidRequest


@dataclass(frozen=True)
class CellOptions:
    """What one cell asks of the model: the keywords of ``OmniClient.prepare`` (``request()``)
    and the notes saying what was turned off on the user's behalf. ``system`` is the cell's
    (--system) or the trait's; ``system_given`` only the cell's, which a conversation keeps."""

    model: str
    voice: str | None
    audio: bool
    thinking: bool | None  # None: the model's default
    effort: str | None
    search: bool
    hi_res: bool
    multichannel: bool
    system: str | None
    max_tokens: int | None
    attachments: tuple[Attachment, ...] = ()
    history_media: str = "keep"  # earlier turns' media: "keep" (sent again) or "text"
    fit: bool = False  # transform media that break a curable limit instead of refusing them
    system_given: str | None = field(default=None, compare=False)  # None: no --system
    notes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def resolve(cls, args: Any, traits: Any, catalog: Catalog, *, speech: bool | None = None,
                namespace: dict[str, Any] | None = None) -> CellOptions:
        """From the parsed line ``args`` and the ``traits`` (the OmniMagics instance).
        ``speech`` overrides the wish for speech (a batch asks for it only to keep it);
        ``namespace`` resolves the media options (None: attach nothing, as ``--each`` does)."""
        model = args.model or traits.model
        info = catalog.resolve(model)
        if args.think and args.no_think:
            raise UsageError("--think and --no-think contradict each other: keep one.")
        thinking = True if args.think else False if args.no_think else traits.thinking
        effort = args.effort or traits.effort or None
        if speech is None:
            speech = traits.audio and not args.text_only
        notes: list[str] = []
        thinks = thinking is True or (thinking is None and info is not None
                                      and info.family.thinking.mode == "default" and effort != "none")
        # A voice that cannot be used is refused whether speech is asked for or not (a batch
        # without --save asks for none): the same line means the same on a cell and with --each.
        if args.voice and info is not None and not info.family.speaks:
            raise UsageError(f"{info.id} answers in text only, so -v/--voice cannot go with it. "
                             "Drop -v, or use -m qwen3.5-omni-plus to hear the answer.")
        if args.voice and thinks:
            raise UsageError("--think answers in text only, so -v/--voice cannot go with it. "
                             "Drop -v, or drop --think to hear the answer.")
        if speech and info is not None and not info.family.speaks:
            speech = False
            notes.append(f"{info.id} answers in text only: speech is off for this cell "
                         "(qwen3.5-omni-plus speaks).")
        if speech and thinks:
            speech = False
            notes.append("Thinking mode answers in text only: speech is off for this cell.")
        history_media = args.history_media or traits.history_media
        attachments = () if namespace is None else tuple(from_options(
            images=args.image, audio=args.audio, video=args.video, frames=args.frames,
            rate=args.rate, namespace=namespace))
        return cls(
            model=model, voice=(args.voice or traits.voice or None) if speech else None,
            audio=speech, thinking=thinking, effort=effort,
            search=bool(args.search) or traits.search, hi_res=bool(args.hi_res) or traits.hi_res,
            multichannel=bool(args.multichannel) or traits.multichannel,
            system=(args.system if args.system is not None else traits.system) or None,
            max_tokens=args.max_tokens if args.max_tokens is not None else (traits.max_tokens or None),
            attachments=attachments, history_media=history_media, system_given=args.system,
            fit=bool(args.fit) or traits.fit,
            notes=tuple(notes),
        )

    def request(self) -> dict[str, Any]:
        """The keywords of ``OmniClient.prepare`` (the attachments as a list)."""
        options = {k: v for k, v in asdict(self).items()
                   if k not in ("notes", "attachments", "system_given")}
        return {**options, "attachments": list(self.attachments)}


def batch_files(pattern: str) -> list[str]:
    """The files of --each: a glob's matches (natural order), or every file in a folder."""
    path = Path(pattern).expanduser()
    if path.is_dir():
        files = sorted((str(p) for p in path.iterdir() if p.is_file() and kind_of(p)), key=natural_key)
    else:
        files = [f for f in expand(pattern) if Path(f).is_file()]
    if not files:
        raise UsageError(f"--each {pattern!r} matches no media file.")
    return files


def speed(value: str) -> float:
    """--speed: a factor above 0, or ``max`` for no waiting at all."""
    if value.lower() in ("max", "inf"):
        return math.inf
    try:
        factor = float(value)
    except ValueError:
        factor = 0.0
    if not 0 < factor < math.inf:
        raise UsageError(f"--speed takes a number above 0 (1 is the recorded pace) or max, not {value!r}.")
    return factor


def unquote(args: Any) -> None:
    """Drop the quotes IPython's option splitter leaves on values ('a b', "x/*.png")."""

    def strip(value: Any) -> Any:
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            return value[1:-1]
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    for name, value in vars(args).items():
        setattr(args, name, strip(value))


def natural_key(text: str) -> list[Any]:
    """Sort key that puts frame2 before frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def expand(value: str) -> list[str]:
    """A glob pattern's matches in natural order; any other value as it is. A path that exists
    is itself, not a pattern: ``photo[1].png`` is that file, not ``photo1.png``."""
    if is_url(value) or not any(ch in value for ch in "*?[") or Path(value).expanduser().exists():
        return [value]
    matches = sorted(glob.glob(str(Path(value).expanduser())), key=natural_key)
    if not matches:
        raise InvalidRequest(f"No file matches {value!r}.")
    return matches


def from_options(
    *,
    images: list[str] | None = None,
    audio: str | None = None,
    video: str | None = None,
    frames: list[str] | None = None,
    rate: int | None = None,
    namespace: dict[str, Any] | None = None,
) -> list[Attachment]:
    """Attachments from option values: paths, URLs, globs, or names of variables in ``namespace``."""
    namespace = namespace or {}

    def resolve(value: str) -> list[Any]:
        if value.isidentifier() and value in namespace:
            return [namespace[value]]
        return expand(value)

    def named(value: str) -> str | None:
        return value if value.isidentifier() and value in namespace else None

    out: list[Attachment] = []
    for value in images or ():
        out += [Attachment("image", s, name=named(value)) for s in resolve(value)]
    if audio:
        sources = resolve(audio)
        if len(sources) != 1:
            raise InvalidRequest(f"-a/--audio takes one file; {audio!r} matches {len(sources)}.")
        out.append(Attachment("audio", sources[0], name=named(audio), rate=rate))
    if video:
        sources = resolve(video)
        if len(sources) != 1:
            raise InvalidRequest(f"--video takes one file; {video!r} matches {len(sources)}. Use --frames for images.")
        out.append(Attachment("video", sources[0], name=named(video)))
    if frames:
        sources = [s for value in frames for s in resolve(value)]
        if len(sources) == 1 and isinstance(sources[0], (list, tuple)):
            sources = list(sources[0])  # a variable holding a list of frames
        out.append(Attachment("frames", sources, name=frames[0] if len(frames) == 1 else None))
    return out
