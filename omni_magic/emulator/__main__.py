"""``python -m omni_magic.emulator``: serve the emulator until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
import threading

from ..catalog import default, load_catalog
from ..dialects import DASHSCOPE, DIALECTS
from ..errors import InvalidRequest
from .markdown import HEADER as WORDS_HEADER
from .markdown import MAX_WORDS
from .pacing import Pacing
from .server import Emulator


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _words(value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_WORDS:
        raise argparse.ArgumentTypeError(f"give a whole number from 1 to {MAX_WORDS:,}, "
                                         f"not {value!r}")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    default = Pacing()
    p = argparse.ArgumentParser(
        prog="python -m omni_magic.emulator",
        description="A local stand-in for DashScope's Qwen-Omni streaming API. It is not a "
        "model: it answers by describing what it received, and speaks that answer.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host (anyone who can reach it may use it)")
    p.add_argument("--no-pacing", action="store_true", help="stream without any delay")
    p.add_argument("--first-token", type=float, default=default.first_token, metavar="S",
                   help=f"seconds before the first event (default {default.first_token})")
    p.add_argument("--per-chunk", type=float, default=default.per_chunk, metavar="S",
                   help=f"seconds between text chunks (default {default.per_chunk})")
    p.add_argument("--dialect", default=DASHSCOPE, metavar="NAME",
                   help=f"the protocol to speak: {' or '.join(DIALECTS)} (alias vllm): "
                   f"vllm-omni streams speech as a WAV file per chunk (default {DASHSCOPE})")
    p.add_argument("--recordings", metavar="PATH",
                   help="a recording (--record FILE) or a folder of them: a request whose body "
                   "matches one byte for byte gets the recorded stream")
    p.add_argument("--replay-speed", type=float, default=1.0, metavar="X",
                   help="pace of recordings: 1 as recorded (default), 4 four times faster")
    p.add_argument("--max-streams", type=int, metavar="N",
                   help="answer at most N requests at once; more get 429 with Retry-After")
    p.add_argument("--retry-after", type=float, default=1.0, metavar="S",
                   help="the Retry-After of those 429s (default 1)")
    p.add_argument("--words", type=_words, metavar="N",
                   help="answer every request with about N words of sample Markdown (headings, "
                   "lists, code, a table, math), speaking only its first paragraph; a request's "
                   f"{WORDS_HEADER} header asks the same for itself")
    p.add_argument("--offline", action="store_true",
                   help="fetch media URLs from loopback hosts only (127.0.0.1, ::1, localhost); "
                   "any other host gets 400")
    p.add_argument("--no-auth", action="store_true",
                   help="answer requests without an API key too (by default, as the service does, "
                   "it needs `Authorization: Bearer KEY`; any non-empty KEY is accepted)")
    p.add_argument("--catalog", metavar="FILE",
                   help="a catalog file merged over the shipped one: the models it adds are served "
                   "(default: env OMNI_CATALOG)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not _is_loopback(args.host) and not args.allow_remote:
        print(f"Refusing to listen on {args.host}: it is not a loopback address. "
              "Pass --allow-remote to expose the emulator on the network.", file=sys.stderr)
        return 2
    pacing = Pacing.none() if args.no_pacing else Pacing(args.first_token, args.per_chunk)
    # The server's log (request fields the service does not document, by name) goes to stderr.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    log = logging.getLogger("omni_magic.emulator")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    stop = threading.Event()
    # SIGTERM ends the wait like Ctrl-C does, so both paths shut down cleanly.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        served = load_catalog(args.catalog) if args.catalog else default()
        emulator = Emulator(args.host, args.port, pacing, dialect=args.dialect,
                            recordings=args.recordings, replay_speed=args.replay_speed,
                            max_streams=args.max_streams, retry_after=args.retry_after,
                            catalog=served, words=args.words, offline=args.offline,
                            auth=not args.no_auth)
    except InvalidRequest as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        url = emulator.start()
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    speaks = "" if emulator.dialect == DASHSCOPE else f", speaking {emulator.dialect}"
    served = f", serving {len(emulator.recordings)} recordings" if len(emulator.recordings) else ""
    print(f"omni_magic emulator listening on {url}{speaks}{served}", flush=True)
    # It holds no key of its own, so there is nothing secret to print: any token does.
    print("No API key needed (--no-auth): requests without one are answered too." if args.no_auth else
          "Send any API key, as the service wants one: `Authorization: Bearer any-key`, or "
          f"OpenAI(base_url=\"{url}\", api_key=\"any-key\"). --no-auth accepts none.",
          flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
