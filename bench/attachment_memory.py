"""Peak extra memory and throughput while sending a 200 MB attachment, two ways.

    python bench/attachment_memory.py [--mb 200]

Each way runs in a fresh process and POSTs the request over loopback to a sink
that reads and discards it, as a server would:

- baseline: the body built in memory the way the service's own sample does it
  (read the file, base64 it, put the string in the JSON, json.dumps).
- omni_magic: ``EncodedBody``, which base64-encodes the file chunk by chunk
  while httpx writes it.

It prints one line per way and the ratio. Not a test: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sink() -> tuple[int, threading.Thread]:
    """A one-request HTTP server that discards the body in 64 KiB reads."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            header, _, rest = head.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            remaining = length - len(rest)
            while remaining > 0:
                remaining -= len(conn.recv(min(65536, remaining)))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def child(way: str, path: str) -> None:
    import base64

    import httpx

    sys.path.insert(0, str(ROOT))
    from omni_magic.attachments import Attachment
    from omni_magic.body import EncodedBody

    port, thread = sink()
    client = httpx.Client(timeout=120)
    url = f"http://127.0.0.1:{port}/chat/completions"
    before = rss_mb()
    start = time.perf_counter()
    if way == "baseline":
        with open(path, "rb") as handle:
            encoded = base64.b64encode(handle.read()).decode("utf-8")
        body = {"model": "qwen3-omni-flash", "stream": True, "messages": [{"role": "user", "content": [
            {"type": "video_url", "video_url": {"url": f"data:;base64,{encoded}"}},
            {"type": "text", "text": "What happens?"}]}]}
        content = json.dumps(body).encode()
        size = len(content)
        client.post(url, content=content, headers={"Content-Type": "application/json"})
    else:
        part = Attachment("video", path).to_part()
        body = {"model": "qwen3-omni-flash", "stream": True, "messages": [{"role": "user", "content": [
            part, {"type": "text", "text": "What happens?"}]}]}
        content = EncodedBody(body)
        size = len(content)
        client.post(url, content=content, headers={"Content-Type": "application/json",
                                                   "Content-Length": str(size)})
    elapsed = time.perf_counter() - start
    thread.join()
    print(json.dumps({"extra_mb": peak_mb() - before, "seconds": elapsed, "body_mb": size / 2**20}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.mp4"
        with open(path, "wb") as handle:
            for _ in range(args.mb):
                handle.write(os.urandom(2**20))
        results = {}
        for way in ("baseline", "omni_magic"):
            out = subprocess.run([sys.executable, __file__, "--child", way, str(path)],
                                 capture_output=True, text=True, check=True)
            results[way] = json.loads(out.stdout)
    for way, r in results.items():
        print(f"{way:>10}: peak extra memory {r['extra_mb']:7.1f} MB, "
              f"{r['body_mb'] / r['seconds']:6.0f} MB/s of request body ({args.mb} MB file)")
    ratio = results["baseline"]["extra_mb"] / max(results["omni_magic"]["extra_mb"], 0.1)
    print(f"omni_magic needs {ratio:.0f}x less extra memory than building the JSON in memory "
          f"(target: below 64 MB; measured {results['omni_magic']['extra_mb']:.1f} MB)")


if __name__ == "__main__":
    main()
