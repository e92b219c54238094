"""Load: 100 spoken cells in a row in one real kernel, and 50 clients at once on one emulator.

Sequential: after a warm-up, the kernel's open sockets and threads must not grow and its
resident memory must grow by less than 10 MB over 100 cells. One spoken answer holds about
0.7 MB of speech (15 s at 24 kHz) and more as the audio element, so a response, connection,
widget or handler thread kept per cell would show. The 1,000-cell figure is a benchmark:
``python bench/long_session.py``. Concurrent: every answer complete and correct. Figures are
printed (``pytest -s``); nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from omni_magic import OmniClient
from omni_magic.emulator import Emulator, Pacing

from conftest import execute, printed

pytestmark = pytest.mark.slow  # load tests: -m "not slow" leaves them out

SEQUENTIAL = 100  # probed cells, after the warm-up
WARM_UP = 20
RSS_GROWTH_MB = 10  # over SEQUENTIAL cells: 0.1 MB per cell, a seventh of one answer's speech
CONCURRENT = 50

PROBE = """
import os, threading, json
def _omni_probe():
    fds = os.listdir("/proc/self/fd")
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return {"sockets": sockets, "threads": threading.active_count(), "rss": rss}
"""


def probe(client) -> dict:
    _, messages = execute(client, "import gc; gc.collect(); print(json.dumps(_omni_probe()))")
    text = printed(messages)
    return json.loads(text)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open sockets through /proc (Linux)")
def test_a_hundred_spoken_cells_in_one_kernel_leak_nothing(kernel):
    _, client = kernel
    reply, _ = execute(client, "%load_ext omni_magic\n%config OmniMagics.emulator_first_token = 0.0\n"
                           "%config OmniMagics.emulator_per_chunk = 0.0\n" + PROBE)
    assert reply["status"] == "ok"
    cell = "%%omni --new --out last\nCount the rivers of Europe."

    def ask(n: int) -> None:
        for _ in range(n):
            reply, _ = execute(client, cell)
            assert reply["status"] == "ok"

    ask(WARM_UP)
    before = probe(client)
    ask(SEQUENTIAL)
    after = probe(client)
    reply, messages = execute(client, "print(last.complete, last.audio_seconds > 1, len(last.text) > 50)")
    assert printed(messages).split() == ["True", "True", "True"]
    growth_mb = (after["rss"] - before["rss"]) / 1e6
    print(f"\n{SEQUENTIAL} spoken cells in one kernel: sockets {before['sockets']} -> {after['sockets']}, "
          f"threads {before['threads']} -> {after['threads']}, RSS {before['rss'] / 1e6:.1f} -> "
          f"{after['rss'] / 1e6:.1f} MB ({growth_mb:+.1f} MB after {WARM_UP} warm-up cells)")
    assert after["sockets"] <= before["sockets"]
    assert after["threads"] <= before["threads"]
    assert growth_mb < RSS_GROWTH_MB


def test_fifty_concurrent_clients_all_get_their_whole_answer():
    with Emulator(auth=False, pacing=Pacing(first_token=0.05, per_chunk=0.002)) as emulator:
        def one(i: int):
            with OmniClient(base_url=emulator.base_url) as client:
                return i, client.chat(f"Client {i} asks about rivers.", voice="Ethan")

        with ThreadPoolExecutor(CONCURRENT) as pool:
            results = list(pool.map(one, range(CONCURRENT)))
        assert emulator.request_count == CONCURRENT and emulator.abandoned_count == 0
    for i, reply in results:
        assert reply.error is None and reply.complete and reply.finish_reason == "stop"
        assert f"\u201cClient {i} asks about rivers.\u201d" in reply.text  # its own answer, whole
        usage = reply.usage
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        # All the speech arrived: qwen3.5-omni-plus (the default) bills 12.5 tokens per second of it.
        assert usage["completion_tokens_details"]["audio_tokens"] == int(np.ceil(reply.audio_seconds * 12.5))
    print(f"\n{CONCURRENT} concurrent clients: {CONCURRENT} complete answers, "
          f"{sum(r.audio_seconds for _, r in results):.0f} s of speech in all")
