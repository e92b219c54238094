"""``%%omni -a lecture.mp3 --segments 10m`` (or ``auto``): the cell's prompt asked of each window
of a recording, ``--concurrency`` at a time, into a table; ``--then PROMPT`` asks one more question
over all the answers, as the cell's answer (the library's ``segments`` and ``Batch`` do the work).

What the cell leaves behind:

- ``--out NAME`` holds the table (start, end, answer, usage, error; see ``segments.table``);
- ``_`` holds the table too, or, with ``--then``, the answer to it (an ``OmniResponse``, as any
  cell's answer);
- the conversation holds one turn for the cell, text only: the prompt and the answers labelled
  with their time ranges (with ``--then``: the question over them, and its answer), so a later
  cell can ask about "the part from 00:20:00".

An interrupt keeps the finished windows (the table says which were not asked) and skips
``--then``; a re-run asks only those (the batch cache). The cache is keyed by the request body,
so a re-run still re-encodes each window to find its key: it sends nothing again, but it does
not skip the encoding.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import segments
from ..attachments import Attachment, is_url
from ..batch import Batch
from . import view
from .each import batch_cache, drive, prepare_batch, set_underscore
from .options import expand

if TYPE_CHECKING:
    from ..catalog import Model
    from .magics import OmniMagics


def run_segments(magics: OmniMagics, args: Any, prompt: str) -> None:
    """--segments LENGTH: one request per window of the -a/--video recording, into a table."""
    if not args.segments:
        raise UsageError("--then asks one more question over the windows' answers of --segments: "
                         "add --segments LENGTH (10m, 90s or auto) and the -a/--audio or --video recording.")
    kind, path = _recording(args)
    concurrency = magics.concurrency if args.concurrency is None else args.concurrency
    if concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, not {concurrency}.")
    length = segments.parse_length(args.segments)
    name = path.name
    info = Attachment(kind, str(path)).probe()[0]
    model = _model(magics, args.model or magics.model)
    windows = segments.plan(info, model, length, name)
    cell, save_dir, client = prepare_batch(magics, args, prompt, "each window's")
    options = cell.request()
    if args.new:
        magics.conversation.reset()
    view.show(view.Notice(_plan_note(name, info.seconds, windows, concurrency)))

    # The batch's items name the windows; a window's speech is saved as NAME_SLUG.wav.
    items = [f"{path.stem}_{w.slug}" for w in windows]
    by_item = dict(zip(items, windows))

    def build(item: str) -> Any:  # in the batch's worker threads: the cuts encode in parallel
        attachment = segments.cut(path, kind, by_item[item], model, info=info, name=name)
        return client.prepare(prompt.strip(), **{**options, "attachments": [attachment]})

    batch = Batch(client, items, build, concurrency=concurrency, cache=batch_cache(magics),
                  save_dir=save_dir, retries=magics.max_retries)
    magics._tell_emulated(client)
    interrupted = drive(magics, batch)
    found = {row.file: row for row in batch.results()}
    rows = [found.get(item) for item in items]
    view.show(view.SegmentTable(windows, rows))
    table = segments.table(windows, rows)
    if args.out:
        magics.shell.user_ns[args.out] = table
    set_underscore(magics.shell, table)
    answers = segments.answers_text(name, windows, rows, prompt)
    if args.then and not interrupted:
        return _then(magics, args, prompt, answers, (model.id, cell.system_given), name, rows)
    _remember(magics, prompt, answers, (model.id, cell.system_given), name, rows)


def _recording(args: Any) -> tuple[str, Path]:
    """The one local recording --segments cuts, and its kind; clashes refused in one sentence."""
    clash = [flag for flag, value in (
        ("--each", args.each), ("-i/--image", args.image), ("--frames", args.frames),
        ("--replay", args.replay), ("--record", args.record), ("--dry-run", args.dry_run)) if value]
    if clash:
        raise UsageError(f"--segments cuts one -a/--audio or --video recording into windows and asks "
                         f"of each, so it cannot go with {', '.join(clash)}.")
    if bool(args.audio) == bool(args.video):
        raise UsageError("--segments cuts one recording into windows: give it exactly one -a/--audio "
                         "or --video file.")
    kind, value = ("audio", args.audio) if args.audio else ("video", args.video)
    matches = [] if is_url(value) else expand(value)
    path = Path(matches[0]).expanduser() if len(matches) == 1 else None
    if path is None or not path.is_file():
        raise UsageError(f"--segments cuts a local file, and {value!r} is not one (a URL or a variable "
                         "cannot be cut here: save it to a file first).")
    return kind, path


def _model(magics: OmniMagics, model_id: str) -> Model:
    """The catalog's model, whose limits size the windows. A model the catalog does not know is
    sent as it is (the service decides); its windows are sized by the default model's limits."""
    from ..catalog import DEFAULT_MODEL

    cat = magics._catalog()
    found = cat.resolve(model_id)
    if found is None:
        found = cat.resolve(DEFAULT_MODEL)
        view.show(view.Notice(f"{model_id} is not in omni_magic's catalog: its windows are sized by "
                              f"{found.id}'s limits, and the service decides."))
    return found


def _plan_note(name: str, seconds: float, windows: list[segments.Window], concurrency: int) -> str:
    count = len(windows)
    overlap = windows[0].end - windows[1].start if count > 1 else 0.0
    return (f"{name} ({segments.clock(seconds)}): {count} window{'s' if count != 1 else ''} of up to "
            f"{segments.length_text(max(w.seconds for w in windows))}"
            + (f", each overlapping the one before by {overlap:g} s" if overlap > 0 else "")
            + f", asked {min(concurrency, count)} at a time.")


def _remember(magics: OmniMagics, prompt: str, answers: str, turn: tuple[str, str | None], name: str,
              rows: list[Any]) -> None:
    """One text-only turn for the cell: the prompt and the labelled answers (none if none came).
    ``turn`` is the model's id and the cell's --system (None: it gave none)."""
    if not any(row is not None and row.error is None and row.answer for row in rows):
        return
    asked = f"{prompt.strip()}\n\n(Asked of each window of {name} by --segments.)"
    magics.conversation.record({"role": "user", "content": asked}, answers, turn[0],
                               key=magics._cell_id, system=turn[1])


def _then(magics: OmniMagics, args: Any, prompt: str, answers: str, turn: tuple[str, str | None], name: str,
          rows: list[Any]) -> None:
    """--then: one more question over the labelled answers, asked and shown as a cell's answer
    (streamed, recorded in the conversation in place of the plain turn). Should it fail, the
    conversation keeps the windows' answers instead."""
    then = copy.copy(args)
    then.segments = then.then = then.audio = then.video = then.out = then.concurrency = None
    then.new = False
    # The windows' speech went into the --save folder; the answer's goes there too, newly named.
    then.save = str(Path(args.save).expanduser()) + "/" if args.save else None
    turns = [id(turn) for turn in magics.conversation.turns]
    try:
        magics._cell(then, f"{answers}\n\n{args.then.strip()}")
    finally:
        if [id(turn) for turn in magics.conversation.turns] == turns:  # no answer to --then
            _remember(magics, prompt, answers, turn, name, rows)
