"""``%%omni --each GLOB``: a cell's prompt once per file, ``--concurrency`` requests at a time,
with a progress bar and a table of the answers (the library's ``Batch`` does the work)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..attachments import Attachment
from ..batch import Batch, Cache, as_table, default_cache_dir, kind_of
from ..errors import InvalidRequest
from . import progress, targets, view
from .options import CellOptions, batch_files

if TYPE_CHECKING:
    from .magics import OmniMagics

REDRAW_BATCH = 0.1  # seconds between progress redraws of a batch


def run_batch(magics: OmniMagics, args: Any, prompt: str) -> None:
    """--each: one request per file, ``--concurrency`` at a time, into a table."""
    clash = [flag for flag, value in (
        ("-i/--image", args.image), ("-a/--audio", args.audio), ("--video", args.video),
        ("--frames", args.frames), ("--record", args.record), ("--replay", args.replay),
        ("--new", args.new), ("--dry-run", args.dry_run)) if value]
    if clash:
        raise UsageError(f"--each attaches each file itself and runs apart from the conversation, "
                         f"so it cannot go with {', '.join(clash)}.")
    concurrency = magics.concurrency if args.concurrency is None else args.concurrency
    if concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, not {concurrency}.")
    files = batch_files(args.each)
    cell, save_dir, client = prepare_batch(magics, args, prompt, "each file's")
    options = cell.request()

    def build(path: str) -> Any:
        kind = kind_of(path)
        if kind is None:
            raise InvalidRequest(f"{Path(path).name}: neither its bytes nor its name say it is an image, audio or video.")
        return client.prepare(prompt.strip(), **{**options, "attachments": [Attachment(kind, path)]})

    batch = Batch(client, files, build, concurrency=concurrency, cache=batch_cache(magics),
                  save_dir=save_dir, retries=magics.max_retries)
    magics._tell_emulated(client)
    drive(magics, batch)
    rows = batch.results()
    view.show(view.BatchTable(rows))
    table = as_table(rows)
    if args.out:
        magics.shell.user_ns[args.out] = table
    set_underscore(magics.shell, table)


def prepare_batch(magics: OmniMagics, args: Any, prompt: str, whose: str) -> tuple[CellOptions, Any, Any]:
    """A batch's options (speech asked for only when --save DIR keeps it: a batch holds no
    answers' audio), its --save folder (checked now) and its client; the prompt checked with
    them before anything is sent, its notes shown."""
    cell = CellOptions.resolve(args, magics, magics._catalog(),
                               speech=args.save is not None and magics.audio and not args.text_only)
    if args.save is not None and not cell.audio:
        raise UsageError(f"--save DIR keeps {whose} speech, but this cell asks for text only "
                         "(--text-only, --think, a model that answers in text, or "
                         "%config OmniMagics.audio = False).")
    save_dir = targets.batch_folder(args.save) if args.save is not None else None
    client = magics._client_for(args)
    for note in [*cell.notes, *client.prepare(prompt.strip(), **cell.request()).notes]:  # fail now
        view.show(view.Notice(note))
    return cell, save_dir, client


def drive(magics: OmniMagics, batch: Batch) -> bool:
    """Run ``batch`` with a progress bar until it is over or interrupted (then stopped, its
    finished rows kept); True when it was interrupted."""
    bar = _progress(magics, len(batch.files))
    interrupted = False
    batch.start()
    try:
        while not batch.wait(REDRAW_BATCH):
            bar.update(batch.progress())
    except KeyboardInterrupt:
        batch.stop()
        interrupted = True
    bar.finish(batch.progress(), interrupted)
    return interrupted


def batch_cache(magics: OmniMagics) -> Cache | None:
    """The batch cache, when it is on and its folder can be written; else a note, and none."""
    if not magics.batch_cache:
        return None
    folder = Path(magics.cache_dir).expanduser() if magics.cache_dir else default_cache_dir()
    problem = targets.folder_problem(folder)
    if problem is not None:
        view.show(view.Notice(f"The batch cache cannot be kept: {problem}. This batch runs without "
                              "it (a re-run asks again); set %config OmniMagics.cache_dir to a "
                              "folder you can write.", "warn"))
        return None
    return Cache(folder)


def _progress(magics: OmniMagics, total: int) -> Any:
    if magics._display_mode() == "widgets":
        return progress.BatchProgressBar(total)
    return progress.BatchProgressLine(total)


def set_underscore(shell: Any, response: Any) -> None:
    """Make the answer ``_`` (even a partial one), rotating ``__`` and ``___`` as usual.

    The displayhook also files it as ``Out[N]``/``_N``; those are dropped again, because the
    cell showed no Out and because a session of spoken answers would otherwise keep up to
    1,000 of them (~0.7 MB of speech each) alive in the output cache.
    """
    hook = shell.displayhook
    hook.update_user_ns(response)
    count = hook.prompt_count
    if shell.user_ns.get("_oh", {}).get(count) is response:
        shell.user_ns["_oh"].pop(count)
        for namespace in (shell.user_ns, shell.user_ns_hidden):  # push() files _N in both
            namespace.pop(f"_{count}", None)
