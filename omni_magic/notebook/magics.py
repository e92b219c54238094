"""OmniMagics: the ``%%omni`` cell magic and ``%omni`` line magic. Glue only.

Options are declared with ``@magic_arguments`` so ``%%omni?`` prints real help;
every default is a trait, so ``%config OmniMagics.model = "qwen-omni-turbo"``
works with no code. The instance owns its client and conversation: no globals.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Float, Int, Unicode, default

from .. import backend, catalog
from ..batch import DEFAULT_CONCURRENCY
from ..body import EncodedBody
from ..conversation import Conversation
from ..errors import Interrupted, InvalidRequest, OmniError
from ..recording import Recording, fingerprint
from ..request import elide_media
from ..response import collect
from . import live, reply, targets, view
from .each import run_batch, set_underscore
from .examples import EXAMPLES
from .frontend import anchor_comm, has_widget_frontend
from .options import CellOptions, speed, unquote
from .segments import run_segments

if TYPE_CHECKING:
    from ..client import OmniClient

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
    system = Unicode("", help="System message when the conversation has none (a cell's --system "
                     "holds for its conversation).").tag(config=True)
    history_media = Enum(["keep", "text"], "keep", help="Earlier turns' media: keep sends them again "
                         "with each later request (billed again); text sends a line naming each.").tag(config=True)
    max_tokens = Int(0, help="Cap on output tokens; 0 means the model's own limit.").tag(config=True)
    fit = Bool(False, help="Transform a local file that breaks a limit a transformation can cure "
               "(too large to send inline, too many pixels or frames) instead of refusing it; a "
               "note says what was done.").tag(config=True)
    region = Unicode("auto", help="DashScope region: intl (Singapore), cn (Beijing), us (Virginia), "
                     "hk (Hong Kong), jp and de (workspace endpoints only); auto: the region of "
                     "DASHSCOPE_BASE_URL, else intl.").tag(config=True)
    workspace = Unicode("", help="A Model Studio workspace ID: requests go to its endpoint in the "
                        "region, https://{ID}.{region code}.maas.aliyuncs.com/compatible-mode/v1.").tag(config=True)
    base_url = Unicode("", help="An OpenAI-compatible server; requests go to {base_url}/chat/completions.").tag(config=True)
    dialect = Enum(["auto", "dashscope", "vllm-omni", "vllm"], "auto",
                   help="How the server writes speech and reads media: auto asks a base URL's "
                   "/models (vLLM answers owned_by vllm); dashscope; vllm-omni (alias vllm).").tag(config=True)
    timeout = Float(60.0, help="Seconds to wait for the next bytes of an answer, and for the next "
                    "event however many keep-alives come between (httpx's read timeout; connect, "
                    "write and pool keep their own).").tag(config=True)
    first_event_timeout = Float(180.0, help="Seconds from sending a request to its first event, "
                                "however the server trickles.").tag(config=True)
    max_retries = Int(2, help="Retries of 408/409/429/5xx and connection failures before the first event.").tag(config=True)
    show_usage = Bool(True, help="Show the token table after each answer.").tag(config=True)
    autoplay = Bool(False, help="When the live player is off (live_audio = False, or a frontend "
                    "without widgets): play the answer's audio element by itself once the answer "
                    "is complete. The live player plays the speech as it streams whatever this says. "
                    "The element keeps the setting in a saved notebook.").tag(config=True)
    live_audio = Bool(help="Play the speech in the page while it streams (the live player, a widget; needs "
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
        self._live: Any = None  # the last answer's live widget, which may still be speaking
        self._replies: list[Any] = []  # reply recorders under answers, until the next cell (reply.py)
        self._anchor = anchor_comm(shell)
        if shell is not None:
            shell.events.register("pre_run_cell", self._note_cell)

    # -- the magic -------------------------------------------------------------------------------
    @magic_arguments()
    @argument("command", nargs="*", help="Line magic only: models | voices [MODEL] | history | reset | config | record NAME | doctor [--report FILE ...].")
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
    @argument("--frames", nargs="+", metavar="SOURCE", help="Attach a video as a list of frames: paths, URLs, globs (natural order) or a variable; "
              "or one video file, which becomes the frames the service would sample (2 a second).")
    @argument("--rate", type=int, help="Sample rate of audio given as a numpy array.")
    @argument("--fit", action="store_true", default=None, help="Transform media that break a limit a transformation can cure (downscale, "
              "re-encode, the frames the service samples) instead of refusing them; a note says what was done.")
    @argument("--system", help='System message: it holds for the conversation until --new, %%omni reset or another --system ("" for none).')
    @argument("--history-media", choices=["keep", "text"], help="Earlier turns' media: sent again (keep) or as a line naming each (text).")
    @argument("--max-tokens", type=int, help="Cap on output tokens.")
    @argument("--region", help="DashScope region: intl, cn, us, hk (jp, de with --workspace).")
    @argument("--workspace", metavar="ID", help="A Model Studio workspace ID: its endpoint in the region.")
    @argument("--base-url", help="An OpenAI-compatible server instead of DashScope.")
    @argument("--dialect", choices=["auto", "dashscope", "vllm-omni", "vllm"],
              help="The server's dialect: dashscope, or vllm-omni for vLLM and vllm-omni (default auto).")
    @argument("--each", metavar="GLOB", help="A batch: send the prompt once per matching file (image, audio or video by its type).")
    @argument("--segments", metavar="LENGTH", help="10m, 90s, 1h or auto: ask the cell's prompt of each window of the -a/--video recording, --concurrency at a time, into a table.")
    @argument("--then", metavar="PROMPT", help="With --segments: ask PROMPT over all the windows' answers (labelled with their time ranges) as the cell's answer.")
    @argument("--concurrency", type=int, metavar="N", help="Batch requests in flight at once (default 4).")
    @argument("-o", "--out", metavar="NAME", help="Store the OmniResponse (a batch: its table) in this variable.")
    @argument("--save", metavar="FILE", help="Save the speech to this .wav, .flac or .ogg file; into a folder (a name ending "
              "in /): a new omni-DATE-TIME.wav (a batch: one .wav per file in this folder). Checked before sending.")
    @argument("--record", metavar="FILE", help="Save the raw stream of this call as JSON lines (a folder: named by the request's fingerprint).")
    @argument("--replay", metavar="FILE", help="Play a recording back instead of sending anything.")
    @argument("--speed", help="Replay speed: 1 is the original pace, 4 four times faster, max at once.")
    @argument("--new", action="store_true", help="Start a fresh conversation.")
    @argument("--dry-run", action="store_true", help="Check and show the request; send nothing.")
    @line_cell_magic
    def omni(self, line: str, cell: str | None = None) -> None:
        if cell is None and line.split()[:1] == ["doctor"]:  # its own options; imported when asked
            from .doctor import run_doctor
            return run_doctor(self, line.strip()[len("doctor"):])
        try:
            args = parse_argstring(self.omni, line)
        except UsageError:
            raise
        except Exception as exc:  # argparse can raise odd things on odd lines
            raise UsageError(f"Could not read the options: {exc}. See %%omni? for help.") from None
        unquote(args)
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
        if args.each or args.segments or args.then:  # --segments refuses --each, and --then alone
            return (run_segments if args.segments or args.then else run_batch)(self, args, prompt)
        if args.concurrency is not None:
            raise UsageError("--concurrency sets how many requests of a batch run at once: add --each GLOB or --segments LENGTH.")
        options = CellOptions.resolve(args, self, self._catalog(), namespace=self.shell.user_ns)
        notes = list(options.notes)
        if args.replay and args.record:
            raise UsageError("--replay plays a recording and sends nothing, so there is nothing "
                             "to --record: use one or the other.")
        if args.speed and not args.replay:
            raise UsageError("--speed sets the pace of a --replay: add --replay FILE.")
        pace = speed(args.speed or "1")
        # Where the speech and the recording go is checked now, while a mistake costs nothing.
        save_to = targets.speech_file(args.save) if args.save else None
        record = targets.recording(args.record) if args.record else \
            targets.record_folder("" if args.replay else self.record_to)  # a replay records nothing
        recording = Recording.load(args.replay) if args.replay else None
        client = self._client_for(args)
        if args.new:
            self.conversation.reset()
        # A re-run of a cell replaces its turn and sees only the turns before it.
        key = self._cell_id
        context = self.conversation.before(key)
        unasked = args.dry_run and client.known_dialect is None  # a dry run asks nothing
        request = client.prepare(
            prompt.strip(), **{**options.request(), **context.carried(options.system_given, self.system)},
            **({"dialect": "dashscope"} if unasked else {}),
        )
        if unasked:
            notes.append("The server's dialect is not known yet and a dry run asks nothing: the "
                         "body is shown in DashScope's. The first real request asks GET /models "
                         "(or set --dialect).")
        if request.attachments:  # what is sent: --fit and --frames VIDEO transform what was given
            view.show_previews(request.attachments)
        for warning in request.warnings:
            view.show(view.Notice(warning, "warn"))
        notes += request.notes
        if args.dry_run:
            for note in notes:
                view.show(view.Notice(note))
            return self._dry_run(client, request)

        if recording is not None:
            label = f"replay of {recording.path.name}"
            events = recording.events(pace)
            if recording.fingerprint != fingerprint(EncodedBody(request.body)):
                notes.append(f"{recording.path.name} was recorded for a different request (the "
                             "prompt, options or media differ): it replays as it was recorded.")
        else:
            label = client.backend.label
            events = client.send(request, record=record)
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
            stream_view.stop()  # the speech in the page goes silent now, not seconds later
            response.close(Interrupted("The stream was stopped; the partial answer is kept."))
        except OmniError as exc:  # failed before any event: nothing to keep but the error
            stream_view.abort()
            response.close(exc)
            raise
        except Exception:  # a defect: the widget still gives its place back, never saved as is
            stream_view.abort()
            raise
        saved = [view.Notice(note, "warn") for note in response.notes]
        saved += [targets.save_speech(response, save_to)] if save_to else []
        stream_view.finish(response, show_usage=self.show_usage, autoplay=self.autoplay, notes=saved)
        set_underscore(self.shell, response)
        if response.error is None and response.text:
            self.conversation.record(
                request.user_message, response.text, request.model, key=key,
                attachments=request.attachments, system=options.system_given,
            )
            reply.offer(self, args, options, stream_view)  # a spoken answer in a page: a recorder

    def _dry_run(self, client: OmniClient, request: Any) -> None:
        endpoint = ("(the embedded emulator, started by the first real request)/chat/completions"
                    if client.emulated else f"{client.base_url}/chat/completions")
        view.show(view.Notice("Dry run: nothing was sent."))
        view.show(view.EstimateTable(request.estimate))
        view.show(view.RequestPreview(endpoint, client.headers(), elide_media(request.body)))

    # -- line forms ------------------------------------------------------------------------------
    def _line(self, args: Any) -> None:
        words = args.command or []
        if not words:
            raise UsageError("Use %%omni as a cell magic, or %omni models | voices [MODEL] | history | reset | config | record NAME.")
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
            view.show(view.Table.history(self.conversation, default_system=self.system))
        elif command == "reset":
            self.conversation.reset()
            view.show(view.Notice("Conversation cleared: the next cell starts fresh."))
        elif command == "config":
            view.show(view.Table.config(self))
        elif command == "record":  # anywidget is imported when a recorder is first asked for
            from .recorder import record
            record(self, rest)
        else:
            raise UsageError(f"Unknown %omni command {command!r}: use models, voices, history, reset, config, record or doctor.")

    # -- helpers ---------------------------------------------------------------------------------
    def _catalog(self) -> catalog.Catalog:
        """The shipped catalog with ``catalog_file`` merged over it (read again when it changes)."""
        try:
            return catalog.load_catalog(self.catalog_file or None)
        except catalog.CatalogError as exc:
            raise UsageError(str(exc)) from None

    def _settings(self, args: Any) -> tuple[backend.Backend, dict[str, Any]]:
        """What the cell's client is built from: the backend it resolves to (the key and the
        environment included) and the OmniClient keywords (endpoint, timeout, retries, emulator
        pacing and recordings, dialect, catalog)."""
        from ..client import timeouts  # httpx: imported on the first cell, not at load
        from ..emulator import Pacing

        region = args.region or self.region
        options = dict(
            region=None if region == "auto" else region,
            base_url=args.base_url or self.base_url or None,
            workspace=args.workspace or self.workspace or None,
            timeout=timeouts(self.timeout), first_event_timeout=self.first_event_timeout,
            max_retries=self.max_retries,
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

    def _display_mode(self) -> str:
        if self.display_mode == "auto":
            return "widgets" if has_widget_frontend(self.shell) else "text"
        return self.display_mode

    def _view(self, label: str, thinking: bool = False, speech: bool = False) -> Any:
        if self._display_mode() != "widgets":
            return live.TextView(label)
        speaking = speech and self.live_audio
        if speaking and self._live is not None:  # a new spoken answer stops the previous one's
            self._live.retire()
        view = live.WidgetView(label, thinking=thinking, speech=speaking,
                               filename=f"omni-{self.shell.execution_count}.wav")
        if speaking:  # a text-only answer's widget closes itself when its stream ends
            self._live = view.widget
        return view

    def _note_cell(self, info: Any) -> None:
        # JupyterLab, Notebook 7 and VS Code send each cell's id with its execution;
        # terminals and nbclient send none, and their turns are simply appended.
        self._cell_id = getattr(info, "cell_id", None)
        reply.retire_all(self)  # earlier answers' recorders become their replies, static

    def close(self) -> None:
        try:
            self.shell.events.unregister("pre_run_cell", self._note_cell)
        except ValueError:  # never registered, or already closed
            pass
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._live is not None:
            self._live.retire()
            self._live = None
        if self._anchor is not None:
            self._anchor.close()
            self._anchor = None

