"""Load: 1,000 requests in a row in one real kernel, and 50 clients at once on one emulator.

Sequential: after a warm-up, the kernel's open sockets and threads must not grow and its
resident memory must grow by less than 20 MB (a leaked response, connection or handler
thread would show). Concurrent: every answer complete and correct. Figures are printed
(``pytest -s``) for the README; nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import execute, printed
from omni_magic import OmniClient
from omni_magic.emulator import Emulator, Pacing

SEQUENTIAL = 1_000
WARM_UP = 100
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
def test_a_thousand_requests_in_one_kernel_leak_nothing(kernel):
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
    ask(SEQUENTIAL - WARM_UP)
    after = probe(client)
    reply, messages = execute(client, "print(last.complete, last.audio_seconds > 1, len(last.text) > 50)")
    assert printed(messages).split() == ["True", "True", "True"]
    growth_mb = (after["rss"] - before["rss"]) / 1e6
    print(f"\n{SEQUENTIAL} requests in one kernel: sockets {before['sockets']} -> {after['sockets']}, "
          f"threads {before['threads']} -> {after['threads']}, RSS {before['rss'] / 1e6:.1f} -> "
          f"{after['rss'] / 1e6:.1f} MB ({growth_mb:+.1f} MB after {WARM_UP} warm-up requests)")
    assert after["sockets"] <= before["sockets"]
    assert after["threads"] <= before["threads"]
    assert growth_mb < 20


def test_fifty_concurrent_clients_all_get_their_whole_answer():
    with Emulator(pacing=Pacing(first_token=0.05, per_chunk=0.002)) as emulator:
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
