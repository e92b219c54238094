"""First token: from the first byte of the answer on the socket to its first text in the view.

    python bench/first_token.py [--runs 30]

A raw loopback server answers each request with the stream's headers, waits, notes the time
and writes the first two events (the role chunk and the first word) in one send; the rest
follows 150 ms later, so that nothing else can trigger the first draw. Measured two ways,
``--runs`` times each, median:

- omni_magic: a ``%%omni`` cell on an in-process IPython shell with the widget view, until
  the view has drawn the first word (``WidgetView.first_text_at``);
- floor: raw httpx ``iter_lines`` until the first word's line is parsed with ``json.loads``.

Not a test: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402
from display_overhead import Cell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n")


def event(data: dict | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    payload = f"data: {text}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def delta(d: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-1", "model": "qwen3-omni-flash", "object": "chat.completion.chunk",
            "choices": [{"delta": d, "finish_reason": finish, "index": 0}]}


FIRST = event(delta({"role": "assistant", "content": ""})) + event(delta({"content": "Hello"}))
REST = (event(delta({"content": " there."})) + event(delta({}, "stop"))
        + event({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})
        + event("[DONE]") + b"0\r\n\r\n")


class Server:
    """Answers every request as above; ``sent_at`` holds when each first byte went out."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.sent_at: list[float] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(HEAD)
                time.sleep(0.05)
                self.sent_at.append(time.perf_counter())
                conn.sendall(FIRST)
                time.sleep(0.15)
                conn.sendall(REST)


def floor_once(server: Server) -> float:
    with httpx.Client() as client:
        with client.stream("POST", f"{server.base_url}/chat/completions", json={"stream": True}) as r:
            seen = None
            for line in r.iter_lines():  # read to the end, noting the first word
                if (seen is None and line.startswith("data: {")
                        and json.loads(line[6:])["choices"][0]["delta"].get("content")):
                    seen = time.perf_counter()
    return seen - server.sent_at[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    server = Server()
    cell = Cell()
    cell.shell.run_line_magic("config", f"OmniMagics.base_url = {server.base_url!r}")
    cell.shell.run_line_magic("config", "OmniMagics.show_usage = False")
    omni, floor = [], []
    for i in range(args.runs + 2):  # the first two warm up both paths
        with capture_output():
            cell.shell.run_cell("%%omni --new --text-only\nSay hello.").raise_error()
        view = cell.views[-1]
        if i >= 2:
            omni.append(view.first_text_at - server.sent_at[-1])
        lag = floor_once(server)
        if i >= 2:
            floor.append(lag)
    o, f = statistics.median(omni), statistics.median(floor)
    print(f"first byte on the socket -> first text, median of {args.runs} (loopback)")
    print(f"  omni_magic, drawn in the widget view   {o * 1000:6.2f} ms  (target < 5 ms)")
    print(f"  floor, httpx iter_lines + json.loads   {f * 1000:6.2f} ms")
    print(f"omni_magic / floor: {o / f:.2f}x")


if __name__ == "__main__":
    main()
