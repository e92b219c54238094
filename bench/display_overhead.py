"""Display overhead: the magic's live widget view against the client alone, same stream.

    python bench/display_overhead.py [--repeat 7]

The stream is bench/long_stream.py's (5,003 events, 100 s of speech), served from memory.

- time: ``OmniClient.chat`` alone, against a ``%%omni`` cell on an in-process IPython shell
  with the widget view (redraws, then the static Markdown, audio element and token table),
  reading the same bytes from the same kind of client. Best of ``--repeat`` each.
- redraws per second: the same cell over the stream paced across 2 s, so that the
  throttle (at most one redraw per 50 ms) is what limits them, not the stream's end.

Not a test: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from omni_magic import OmniClient  # noqa: E402
from omni_magic.notebook import live  # noqa: E402

from long_stream import BASE_URL, make_stream, transport  # noqa: E402

PROMPT = "Tell me a long story."


def client_alone(stream: bytes) -> float:
    with OmniClient(base_url=BASE_URL, transport=transport(stream)) as client:
        start = time.perf_counter()
        reply = client.chat(PROMPT)
        elapsed = time.perf_counter() - start
    assert reply.complete
    return elapsed


class Cell:
    """A shell with the extension loaded, its client reading ``stream`` from memory."""

    def __init__(self) -> None:
        self.shell = InteractiveShell.instance()
        self.shell.run_line_magic("load_ext", "omni_magic")
        self.shell.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
        self.magics = self.shell.magics_manager.registry["OmniMagics"]
        self.views: list[live.WidgetView] = []
        make_view = self.magics._view
        self.magics._view = lambda *args: self.views.append(make_view(*args)) or self.views[-1]

    def run(self, stream: bytes, seconds: float = 0.0) -> float:
        m = self.magics
        m._client = OmniClient(base_url=BASE_URL, transport=transport(stream, seconds))
        m._client_settings = m._settings("intl", BASE_URL)
        self.shell.run_line_magic("config", f"OmniMagics.base_url = {BASE_URL!r}")
        with capture_output():
            start = time.perf_counter()
            result = self.shell.run_cell(f"%%omni --new\n{PROMPT}")
            elapsed = time.perf_counter() - start
        result.raise_error()
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    stream, n_events, _, _ = make_stream(4000, 100.0)
    cell = Cell()
    cell.run(stream)  # warm up both paths once
    client_alone(stream)
    alone, magic = [], []
    for _ in range(args.repeat):
        alone.append(client_alone(stream))
        magic.append(cell.run(stream))
    best_alone, best_magic = min(alone), min(magic)
    # The same text with no speech: what the view costs without the audio element to build.
    text_only, *_ = make_stream(4000, 0.0)
    alone_t = min(client_alone(text_only) for _ in range(args.repeat))
    magic_t = min(cell.run(text_only) for _ in range(args.repeat))
    cell.run(stream, seconds=2.0)
    view = cell.views[-1]
    # From the first answer text drawn to the last redraw: the stretch the throttle governs.
    span = view._last - view.first_text_at
    redraws = view.redraws - 2  # not the waiting line drawn at start, nor the draw that opened the span
    print(f"stream: {n_events:,} events, 100 s of speech; best of {args.repeat}")
    print(f"  client alone (OmniClient.chat)      {best_alone * 1000:7.1f} ms")
    print(f"  %%omni cell, widget view, to the end {best_magic * 1000:7.1f} ms")
    print(f"%%omni cell / client alone: {best_magic / best_alone:.2f}x (target <= 1.2x)")
    print(f"same text, no speech: client {alone_t * 1000:.1f} ms, cell {magic_t * 1000:.1f} ms, "
          f"{magic_t / alone_t:.2f}x")
    print(f"paced over 2 s: {redraws} redraws in {span:.2f} s of streaming text = "
          f"{redraws / span:.1f} per second (target <= 20)")


if __name__ == "__main__":
    main()
