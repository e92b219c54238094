"""OmniMagics: the ``%%omni`` cell magic and ``%omni`` line magic. Glue only.

Options are declared with ``@magic_arguments`` so ``%%omni?`` prints real help;
every default is a trait, so ``%config OmniMagics.model = "qwen-omni-turbo"``
works with no code. The instance owns its client and conversation: no globals.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Float, Int, Unicode, default

from .. import backend, catalog

from . import live, progress, view
from .options import expand, from_options, natural_key
from ..attachments import Attachment
from ..batch import DEFAULT_CONCURRENCY, Batch, Cache, as_table, default_cache_dir, kind_of
from ..body import EncodedBody
from ..conversation import Conversation
from ..errors import Interrupted, InvalidRequest, OmniError
from ..recording import Recording, fingerprint
from ..request import elide_media
from ..response import collect

if TYPE_CHECKING:
    from ..client import OmniClient

REDRAW_BATCH = 0.1  # seconds between progress redraws of a batch

EXAMPLES = """
Examples::

    %%omni
    Who are you?

    %%omni -m qwen-omni-turbo -v Serena --out reply
    Tell me a joke about notebooks.

    %%omni --think
    Why is the sky blue? Think it through.

    %%omni --dry-run --system "Answer in French."
    What is a Jupyter kernel?

    %%omni -i cat.png -i https://example.com/dog.jpg
    What do these two pictures have in common?

    %%omni -a interview.mp3
    Summarize this recording.

    %%omni --frames "frames/*.jpg"
    Describe what happens.

    %%omni --record hello.jsonl
    Say hello.

    %%omni --replay hello.jsonl --speed 2
    Say hello.

    %%omni --each "photos/*.jpg" --concurrency 8 --out captions
    Write a one-line caption.

Line forms: ``%omni models``, ``%omni voices [MODEL]``, ``%omni history``,
``%omni reset``, ``%omni config``.

With no DASHSCOPE_API_KEY and no base URL the embedded emulator answers.
"""


@magics_class
class OmniMagics(Magics):
    """Talk to Qwen-Omni from a cell: the body is the prompt."""

    model = Unicode(catalog.DEFAULT_MODEL, help="Model id or alias (%omni models).").tag(config=True)
    voice = Unicode("", help="Voice; empty means the model's default (Tina on Qwen3.5-Omni, "
                    "Cherry on Qwen3-Omni-Flash and Turbo).").tag(config=True)
    audio = Bool(True, help="Ask for speech along with the text (models that answer in text "
                 "only, like qwen3.8-omni-flash, turn it off with a note).").tag(config=True)
    thinking = Bool(None, allow_none=True, help="Thinking: None is the model's default (on for "
                    "qwen3.8-omni-flash, off for qwen3-omni-flash); True or False forces it.").tag(config=True)
    effort = Unicode("", help="reasoning_effort for qwen3.8-omni-flash: none, minimal, low, medium, "
                     "high, xhigh (its default) or max; empty sends none of it.").tag(config=True)
    search = Bool(False, help="Web search (enable_search; qwen3.5-omni and qwen3.8-omni-flash).").tag(config=True)
    hi_res = Bool(False, help="vl_high_resolution_images: images up to 16,384 tokens instead of "
                  "1,280 (qwen3.5-omni and qwen3.8-omni-flash).").tag(config=True)
    multichannel = Bool(False, help="use_multichannel: stereo or 4-channel (FOA) audio read as such "
                        "(qwen3.8-omni-flash).").tag(config=True)
    catalog_file = Unicode(help="A catalog file (JSON, or TOML on Python 3.11+) merged over the "
                           "shipped one, to add or change models (env OMNI_CATALOG).").tag(config=True)
    system = Unicode("", help="System message for every request.").tag(config=True)
    max_tokens = Int(0, help="Cap on output tokens; 0 means the model's own limit.").tag(config=True)
    region = Unicode("auto", help="DashScope region: intl (Singapore), cn (Beijing), us (Virginia), "
                     "hk (Hong Kong), jp and de (workspace endpoints only); auto: the region of "
                     "DASHSCOPE_BASE_URL, else intl.").tag(config=True)
    workspace = Unicode("", help="A Model Studio workspace ID: requests go to its endpoint in the "
                        "region, https://{ID}.{region code}.maas.aliyuncs.com/compatible-mode/v1.").tag(config=True)
    base_url = Unicode("", help="An OpenAI-compatible server; requests go to {base_url}/chat/completions.").tag(config=True)
    dialect = Enum(["auto", "dashscope", "vllm-omni", "vllm"], "auto",
                   help="How the server writes speech and reads media: auto asks a base URL's "
                   "/models (vLLM answers owned_by vllm); dashscope; vllm-omni (alias vllm).").tag(config=True)
    timeout = Float(60.0, help="Seconds to wait for the next bytes of an answer.").tag(config=True)
    max_retries = Int(2, help="Retries of 408/409/429/5xx and connection failures before the first event.").tag(config=True)
    show_usage = Bool(True, help="Show the token table after each answer.").tag(config=True)
    autoplay = Bool(False, help="Start playing the speech as soon as the answer is complete.").tag(config=True)
    live_audio = Bool(help="Play the speech in the page while it streams (a widget; needs "
                      "ipywidgets in the frontend). Default on; env OMNI_LIVE_AUDIO=0 turns it off.").tag(config=True)
    display_mode = Enum(["auto", "widgets", "text"], "auto", help="Live view: widgets, plain text, or auto.").tag(config=True)
    emulator_first_token = Float(0.3, help="Emulator: seconds before the first token.").tag(config=True)
    emulator_per_chunk = Float(0.03, help="Emulator: seconds between chunks.").tag(config=True)
    concurrency = Int(DEFAULT_CONCURRENCY, help="Batches (--each): requests in flight at once.").tag(config=True)
    batch_cache = Bool(True, help="Batches: keep finished items on disk, so a re-run resumes.").tag(config=True)
    cache_dir = Unicode(help="Batches: where finished items are kept (default: the user cache, "
                        "~/.cache/omni_magic/batches, or env OMNI_CACHE_DIR).").tag(config=True)
    record_to = Unicode(help="Record every call's raw stream into this folder (env OMNI_RECORD).").tag(config=True)
    recordings = Unicode(help="A folder of recordings the embedded emulator answers with, for "
                         "offline demos (env OMNI_RECORDINGS).").tag(config=True)

    @default("live_audio")
    def _default_live_audio(self) -> bool:
        return os.environ.get("OMNI_LIVE_AUDIO", "1").strip().lower() not in ("0", "false", "no", "off")

    @default("catalog_file")
    def _default_catalog_file(self) -> str:
        return os.environ.get(catalog.CATALOG_ENV, "")

    @default("record_to")
    def _default_record_to(self) -> str:
        return os.environ.get("OMNI_RECORD", "")

    @default("recordings")
    def _default_recordings(self) -> str:
        return os.environ.get("OMNI_RECORDINGS", "")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.conversation = Conversation()
        self._client: OmniClient | None = None
        self._client_settings: tuple[Any, ...] | None = None
        self._cell_id: str | None = None
        self._told_emulated = False
        self._player: Any = None  # the live speech player of the last answer
        if shell is not None:
            shell.events.register("pre_run_cell", self._note_cell)

    # -- the magic -------------------------------------------------------------------------------
    @magic_arguments()
    @argument("command", nargs="*", help="Line magic only: models | voices [MODEL] | history | reset | config.")
    @argument("-m", "--model", help="Model id or alias (default: %%config OmniMagics.model).")
    @argument("-v", "--voice", help="Voice for the speech (%%omni voices MODEL lists them).")
    @argument("--think", action="store_true", default=None, help="Thinking mode: reasoning shown apart; text only (qwen3.8-omni-flash thinks by default).")
    @argument("--no-think", action="store_true", help="No thinking (qwen3.8-omni-flash: reasoning_effort none).")
    @argument("--effort", metavar="LEVEL", help="reasoning_effort for qwen3.8-omni-flash: none, minimal, low, medium, high, xhigh, max.")
    @argument("--search", action="store_true", default=None, help="Web search (enable_search, agent strategy).")
    @argument("--hi-res", action="store_true", default=None, help="vl_high_resolution_images: up to 16,384 tokens per image.")
    @argument("--multichannel", action="store_true", default=None, help="use_multichannel: stereo or 4-channel audio read as such (qwen3.8-omni-flash).")
    @argument("--text-only", action="store_true", help="No speech for this cell.")
    @argument("-i", "--image", action="append", metavar="SOURCE",
              help="Attach an image: path, URL, glob, or a variable (PIL image, array, bytes). Repeatable.")
    @argument("-a", "--audio", metavar="SOURCE", help="Attach one audio file: path, URL, or a variable (array with --rate, (samples, rate), bytes).")
    @argument("--video", metavar="SOURCE", help="Attach one video file: path, URL, or a variable holding bytes.")
    @argument("--frames", nargs="+", metavar="SOURCE", help="Attach a video as a list of frames: paths, URLs, globs (natural order) or a variable.")
    @argument("--rate", type=int, help="Sample rate of audio given as a numpy array.")
    @argument("--system", help="System message for this cell.")
    @argument("--max-tokens", type=int, help="Cap on output tokens.")
    @argument("--region", help="DashScope region: intl, cn, us, hk (jp, de with --workspace).")
    @argument("--workspace", metavar="ID", help="A Model Studio workspace ID: its endpoint in the region.")
    @argument("--base-url", help="An OpenAI-compatible server instead of DashScope.")
    @argument("--dialect", choices=["auto", "dashscope", "vllm-omni", "vllm"],
              help="The server's dialect: dashscope, or vllm-omni for vLLM and vllm-omni (default auto).")
    @argument("--each", metavar="GLOB", help="A batch: send the prompt once per matching file (image, audio or video by its type).")
    @argument("--concurrency", type=int, metavar="N", help="Batch requests in flight at once (default 4).")
    @argument("-o", "--out", metavar="NAME", help="Store the OmniResponse (a batch: its table) in this variable.")
    @argument("--save", metavar="FILE", help="Save the speech to this .wav file (a batch: one .wav per file in this folder).")
    @argument("--record", metavar="FILE", help="Save the raw stream of this call as JSON lines (a folder: named by the request's fingerprint).")
    @argument("--replay", metavar="FILE", help="Play a recording back instead of sending anything.")
    @argument("--speed", help="Replay speed: 1 is the original pace, 4 four times faster, max at once.")
    @argument("--new", action="store_true", help="Start a fresh conversation.")
    @argument("--dry-run", action="store_true", help="Check and show the request; send nothing.")
    @line_cell_magic
    def omni(self, line: str, cell: str | None = None) -> None:
        try:
            args = parse_argstring(self.omni, line)
        except UsageError:
            raise
        except Exception as exc:  # argparse can raise odd things on odd lines
            raise UsageError(f"Could not read the options: {exc}. See %%omni? for help.") from None
        _unquote(args)
        if cell is None:
            return self._line(args)
        if args.command:
            raise UsageError(
                f"Unexpected words on the %%omni line: {' '.join(args.command)!r}. "
                "Put the prompt in the cell body; quote option values with spaces."
            )
        return self._cell(args, cell)

    omni.__doc__ = (omni.__doc__ or "") + EXAMPLES

    def _cell(self, args: Any, prompt: str) -> None:
        if args.each:
            return self._batch(args, prompt)
        if args.concurrency is not None:
            raise UsageError("--concurrency sets how many requests of a batch run at once: add --each GLOB.")
        output = self._output(args)
        notes = list(output.pop("notes"))
        if args.replay and args.record:
            raise UsageError("--replay plays a recording and sends nothing, so there is nothing "
                             "to --record: use one or the other.")
        if args.speed and not args.replay:
            raise UsageError("--speed sets the pace of a --replay: add --replay FILE.")
        speed = _speed(args.speed or "1")
        recording = Recording.load(args.replay) if args.replay else None
        client = self._client_for(args)
        if args.new:
            self.conversation.reset()
        # A re-run of a cell replaces its turn and sees only the turns before it.
        key = self._cell_id
        context = self.conversation.before(key)
        attachments = from_options(
            images=args.image, audio=args.audio, video=args.video, frames=args.frames,
            rate=args.rate, namespace=self.shell.user_ns,
        )
        request = client.prepare(
            prompt.strip(), attachments=attachments, history=context.messages(),
            history_tokens=context.media_tokens(), **output,
        )
        if attachments:
            view.show_previews(attachments)
        for warning in request.warnings:
            view.show(view.Notice(warning, "warn"))
        notes += request.notes
        if args.dry_run:
            for note in notes:
                view.show(view.Notice(note))
            return self._dry_run(client, request)

        if recording is not None:
            label = f"replay of {recording.path.name}"
            events = recording.events(speed)
            if recording.fingerprint != fingerprint(EncodedBody(request.body)):
                notes.append(f"{recording.path.name} was recorded for a different request (the "
                             "prompt, options or media differ): it replays as it was recorded.")
        else:
            label = client.backend.label
            events = client.send(request, record=args.record or self._record_folder())
            self._tell_emulated(client)
        response = client.new_response(request)
        if args.out:  # the same object fills in as the answer streams, and keeps a failure
            self.shell.user_ns[args.out] = response
        stream_view = self._view(label, request.thinking, speech=request.audio)
        for note in notes:
            view.show(view.Notice(note))
        stream_view.start(response)
        try:
            collect(events, response, on_event=stream_view.update)
        except KeyboardInterrupt:
            response.close(Interrupted("Interrupted: the stream was stopped; the partial answer is kept."))
        except OmniError as exc:  # failed before any event: nothing to keep but the error
            stream_view.abort()
            response.close(exc)
            raise
        saved = [_save_speech(response, args.save)] if args.save else []
        stream_view.finish(response, show_usage=self.show_usage, autoplay=self.autoplay, notes=saved)
        _set_underscore(self.shell, response)
        if response.error is None and response.text:
            self.conversation.record(
                request.user_message, response.text, request.model, key=key,
                media_tokens=request.media_tokens,
            )

    def _batch(self, args: Any, prompt: str) -> None:
        """--each: one request per file, ``--concurrency`` at a time, into a table."""
        clash = [flag for flag, value in (
            ("-i/--image", args.image), ("-a/--audio", args.audio), ("--video", args.video),
            ("--frames", args.frames), ("--record", args.record), ("--replay", args.replay),
            ("--new", args.new), ("--dry-run", args.dry_run)) if value]
        if clash:
            raise UsageError(f"--each attaches each file itself and runs apart from the conversation, "
                             f"so it cannot go with {', '.join(clash)}.")
        concurrency = self.concurrency if args.concurrency is None else args.concurrency
        if concurrency < 1:
            raise UsageError(f"--concurrency must be at least 1, not {concurrency}.")
        files = _batch_files(args.each)
        # Speech is asked for only when it is kept: a batch does not hold answers' audio.
        options = self._output(args, speech=args.save is not None and self.audio and not args.text_only)
        notes = options.pop("notes")
        if args.save is not None and not options["audio"]:
            raise UsageError("--save DIR keeps each file's speech, but this batch asks for text only "
                             "(--text-only, --think, a model that answers in text, or "
                             "%config OmniMagics.audio = False).")
        speech = options["audio"]
        client = self._client_for(args)
        for note in notes + client.prepare(prompt.strip(), **options).notes:  # bad options fail now
            view.show(view.Notice(note))

        def build(path: str) -> Any:
            kind = kind_of(path)
            if kind is None:
                raise InvalidRequest(f"{Path(path).name}: not an image, audio or video file by its name.")
            return client.prepare(prompt.strip(), attachments=[Attachment(kind, path)], **options)

        batch = Batch(
            client, files, build, concurrency=concurrency,
            cache=Cache(self.cache_dir or default_cache_dir()) if self.batch_cache else None,
            save_dir=Path(args.save).expanduser() if speech else None, retries=self.max_retries,
        )
        self._tell_emulated(client)
        bar = self._progress(len(files))
        interrupted = False
        batch.start()
        try:
            while not batch.wait(REDRAW_BATCH):
                bar.update(batch.progress())
        except KeyboardInterrupt:
            batch.stop()
            interrupted = True
        rows = batch.results()
        bar.finish(batch.progress(), interrupted)
        view.show(view.BatchTable(rows))
        table = as_table(rows)
        if args.out:
            self.shell.user_ns[args.out] = table
        _set_underscore(self.shell, table)

    def _progress(self, total: int) -> Any:
        if self._display_mode() == "widgets":
            return progress.BatchProgressBar(total)
        return progress.BatchProgressLine(total)

    def _dry_run(self, client: OmniClient, request: Any) -> None:
        endpoint = (
            "(the embedded emulator, started by the first real request)/chat/completions"
            if client.emulated else f"{client.base_url}/chat/completions"
        )
        view.show(view.Notice("Dry run: nothing was sent."))
        view.show(view.EstimateTable(request.estimate))
        view.show(view.RequestPreview(endpoint, client.headers(masked=True), elide_media(request.body)))

    # -- line forms ------------------------------------------------------------------------------
    def _line(self, args: Any) -> None:
        words = args.command or []
        if not words:
            raise UsageError("Use %%omni as a cell magic, or %omni models | voices [MODEL] | history | reset | config.")
        command, rest = words[0], words[1:]
        if command == "models":
            view.show(view.Table.models(self._catalog()))
        elif command == "voices":
            try:
                view.show(view.Table.voices(rest[0] if rest else args.model or self.model,
                                            self._catalog()))
            except InvalidRequest as exc:
                raise UsageError(str(exc)) from None
        elif command == "history":
            view.show(view.Table.history(self.conversation))
        elif command == "reset":
            self.conversation.reset()
            view.show(view.Notice("Conversation cleared: the next cell starts fresh."))
        elif command == "config":
            view.show(view.Table.config(self))
        else:
            raise UsageError(f"Unknown %omni command {command!r}: use models, voices, history, reset or config.")

    # -- helpers ---------------------------------------------------------------------------------
    def _catalog(self) -> catalog.Catalog:
        """The shipped catalog with ``catalog_file`` merged over it (read again when it changes)."""
        try:
            return catalog.load_catalog(self.catalog_file or None)
        except catalog.CatalogError as exc:
            raise UsageError(str(exc)) from None

    def _output(self, args: Any, speech: bool | None = None) -> dict[str, Any]:
        """What the cell asks of the model, from its options and the traits, with the notes
        for what was turned off on the user's behalf. ``speech`` overrides the wish for speech."""
        model = args.model or self.model
        info = self._catalog().resolve(model)
        if args.think and args.no_think:
            raise UsageError("--think and --no-think contradict each other: keep one.")
        thinking = True if args.think else False if args.no_think else self.thinking
        effort = args.effort or self.effort or None
        if speech is None:
            speech = self.audio and not args.text_only
        notes: list[str] = []
        if speech and info is not None and not info.family.speaks:
            if args.voice:
                raise UsageError(f"{info.id} answers in text only, so -v/--voice cannot go with it. "
                                 "Drop -v, or use -m qwen3.5-omni-plus to hear the answer.")
            speech = False
            notes.append(f"{info.id} answers in text only: speech is off for this cell "
                         "(qwen3.5-omni-plus speaks).")
        thinks = thinking is True or (thinking is None and info is not None
                                      and info.family.thinking.mode == "default" and effort != "none")
        if speech and thinks:
            if args.voice:
                raise UsageError(
                    "--think answers in text only, so -v/--voice cannot go with it. "
                    "Drop -v, or drop --think to hear the answer."
                )
            speech = False
            notes.append("Thinking mode answers in text only: speech is off for this cell.")
        return dict(
            model=model, voice=(args.voice or self.voice or None) if speech else None, audio=speech,
            thinking=thinking, effort=effort, search=bool(args.search) or self.search,
            hi_res=bool(args.hi_res) or self.hi_res,
            multichannel=bool(args.multichannel) or self.multichannel,
            system=(args.system if args.system is not None else self.system) or None,
            max_tokens=args.max_tokens if args.max_tokens is not None else (self.max_tokens or None),
            notes=notes,
        )

    def _settings(self, args: Any) -> tuple[backend.Backend, dict[str, Any]]:
        """What the cell's client is built from: the backend it resolves to (the key and the
        environment included) and the OmniClient keywords (endpoint, timeout, retries, emulator
        pacing and recordings, dialect, catalog)."""
        from ..emulator import Pacing

        region = args.region or self.region
        options = dict(
            region=None if region == "auto" else region,
            base_url=args.base_url or self.base_url or None,
            workspace=args.workspace or self.workspace or None,
            timeout=self.timeout, max_retries=self.max_retries,
            emulator_pacing=Pacing(self.emulator_first_token, self.emulator_per_chunk),
            emulator_recordings=self.recordings or None, dialect=args.dialect or self.dialect,
            catalog=self._catalog(),
        )
        chosen = backend.resolve(None, options["region"], options["base_url"], options["workspace"],
                                 options["catalog"])
        return chosen, options

    def _client_for(self, args: Any) -> OmniClient:
        """The client for the cell's settings, rebuilt when any of them changed."""
        settings = self._settings(args)
        if self._client is None or settings != self._client_settings:
            if self._client is not None:
                self._client.close()
            from ..client import OmniClient  # httpx: imported on the first request, not at load

            self._client = OmniClient(**settings[1])
            self._client_settings = settings
        return self._client

    def _tell_emulated(self, client: OmniClient) -> None:
        """Say once per session that the emulator answers; the status line says it after."""
        if client.emulated and not self._told_emulated:
            view.show(view.Notice(backend.EMULATOR_NOTICE))
            self._told_emulated = True

    def _record_folder(self) -> Path | None:
        """``record_to`` as a folder (made now), so each call gets its own file in it."""
        if not self.record_to:
            return None
        folder = Path(self.record_to).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _display_mode(self) -> str:
        if self.display_mode == "auto":
            return "widgets" if _has_widget_frontend(self.shell) else "text"
        return self.display_mode

    def _view(self, label: str, thinking: bool = False, speech: bool = False) -> Any:
        if self._display_mode() != "widgets":
            return live.TextView(label)
        player = None
        if speech and self.live_audio:
            from .player import LivePlayer

            if self._player is not None:  # a new spoken answer stops the previous one's speech
                self._player.retire()
            player = self._player = LivePlayer(filename=f"omni-{self.shell.execution_count}.wav")
        return live.WidgetView(label, thinking=thinking, player=player)

    def _note_cell(self, info: Any) -> None:
        # JupyterLab, Notebook 7 and VS Code send each cell's id with its execution;
        # terminals and nbclient send none, and their turns are simply appended.
        self._cell_id = getattr(info, "cell_id", None)

    def close(self) -> None:
        try:
            self.shell.events.unregister("pre_run_cell", self._note_cell)
        except ValueError:  # never registered, or already closed
            pass
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._player is not None:
            self._player.retire()
            self._player = None


def _set_underscore(shell: Any, response: Any) -> None:
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


def _save_speech(response: Any, path: str) -> view.Notice:
    """Save the speech for --save; the note that says where (or why not) goes under the player."""
    if not response.audio_chunks:
        return view.Notice("No speech to save: this answer was text only.", "warn")
    try:
        return view.Notice(f"Speech saved to {response.save_audio(path)}")
    except (OSError, RuntimeError) as exc:  # soundfile reports an unwritable path as RuntimeError
        return view.Notice(f"Could not save the speech to {path}: {exc}. Choose another path "
                           "and call .save_audio(path) on the answer.", "warn")


def _batch_files(pattern: str) -> list[str]:
    """The files of --each: a glob's matches (natural order), or every file in a folder."""
    path = Path(pattern).expanduser()
    if path.is_dir():
        files = sorted((str(p) for p in path.iterdir() if p.is_file() and kind_of(p)), key=natural_key)
    else:
        files = [f for f in expand(pattern) if Path(f).is_file()]
    if not files:
        raise UsageError(f"--each {pattern!r} matches no media file.")
    return files


def _speed(value: str) -> float:
    """--speed: a factor above 0, or ``max`` for no waiting at all."""
    if value.lower() in ("max", "inf"):
        return math.inf
    try:
        speed = float(value)
    except ValueError:
        speed = 0.0
    if not 0 < speed < math.inf:
        raise UsageError(f"--speed takes a number above 0 (1 is the recorded pace) or max, not {value!r}.")
    return speed


def _unquote(args: Any) -> None:
    """Drop the quotes IPython's option splitter leaves on values ('a b', "x/*.png")."""

    def strip(value: Any) -> Any:
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            return value[1:-1]
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    for name, value in vars(args).items():
        setattr(args, name, strip(value))


def _has_widget_frontend(shell: Any) -> bool:
    """A kernel with a comm manager can show widgets; terminal IPython cannot."""
    return getattr(shell, "kernel", None) is not None and "TerminalInteractiveShell" not in type(shell).__name__

