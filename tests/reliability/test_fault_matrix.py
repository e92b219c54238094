"""Every fault the emulator can inject, through OmniClient and through the magic.

What must hold for each: the user reads one clear paragraph (never a traceback);
whatever arrived before an in-stream fault is kept on the result, with ``.error``
set; retries happen only before the first event (counted on the emulator's side);
the next request works. A canary key rides along, and must show up nowhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
from IPython.utils.capture import capture_output

from omni_magic import OmniClient, OmniError, OmniResponse
from omni_magic.emulator import Emulator, Pacing
from omni_magic.events import TextDelta

CANARY = "sk-canary-7f3a9c1e5b2d4f60"
PROMPT = "Tell me about rivers."
READ_TIMEOUT = 0.5


@dataclass(frozen=True)
class Case:
    spec: str
    times: int  # how many requests in a row get it
    # "kept": partial answer with .error | "raised": refused | "recovered": retried, complete |
    # "whole": the server sent the whole answer at once, kept with a note saying so
    outcome: str
    error: str | None  # the OmniError subclass the user sees
    requests: int  # POSTs the emulator counts: 1 + retries

    def __str__(self) -> str:
        return f"{self.spec}x{self.times}"


CASES = [
    Case("disconnect:after=6", 1, "kept", "StreamCutShort", 1),
    Case("malformed:after=4", 1, "kept", "ProtocolError", 1),
    Case("truncated_audio:after=3", 1, "kept", "ProtocolError", 1),
    Case(f"stall:after=4,seconds={READ_TIMEOUT * 4}", 1, "kept", "StreamCutShort", 1),
    Case("429:retry_after=0", 1, "recovered", None, 2),
    Case("429:retry_after=0", 3, "raised", "RateLimitError", 3),
    Case("500", 1, "recovered", None, 2),
    Case("503", 3, "raised", "ServerError", 3),
    Case("401", 1, "raised", "AuthenticationError", 1),
    Case("content_filter", 1, "raised", "ContentFilterError", 1),
    # Keep-alive comments reset httpx's read timeout; the gap between events does not.
    Case(f"keepalive:after=4,seconds={READ_TIMEOUT * 6}", 1, "kept", "StreamCutShort", 1),
    Case(f"keepalive:after=0,seconds={READ_TIMEOUT * 6}", 1, "raised", "ConnectError", 1),
    Case("wrong_types:after=4", 1, "kept", "ProtocolError", 1),
    # Not a stream at all: each told for what it is, none retried, none followed.
    Case("json_answer", 1, "whole", None, 1),
    Case("json_error", 1, "raised", "UnexpectedAnswer", 1),
    Case("html", 1, "raised", "UnexpectedAnswer", 1),
    Case("redirect", 1, "raised", "UnexpectedAnswer", 1),
]


@pytest.fixture(scope="module")
def emulator():
    with Emulator(pacing=Pacing.none()) as server:
        yield server


@pytest.fixture(scope="module")
def full(emulator) -> OmniResponse:
    """The answer with no fault: what every partial answer must be the start of."""
    with OmniClient(base_url=emulator.base_url, api_key=CANARY) as client:
        return client.chat(PROMPT)


@pytest.fixture(autouse=True)
def canary(monkeypatch, caplog, emulator):
    """The key is set for every case; afterwards no log line may carry it."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    emulator.faults.clear()
    with caplog.at_level(logging.DEBUG):
        yield
    assert_no_canary(caplog.text)
    assert emulator.authorized_count > 0  # the key really was sent


# Any eight characters of the key in a row count as a leak (a server may echo a piece of it).
PIECES = [CANARY[i:i + 8] for i in range(len(CANARY) - 7)]


def assert_no_canary(*things: object) -> None:
    for thing in things:
        for text in (str(thing), repr(thing)):
            assert not [piece for piece in PIECES if piece in text]


def assert_prefix(partial: OmniResponse, full: OmniResponse) -> None:
    assert partial.text and full.text.startswith(partial.text)
    assert np.array_equal(partial.audio, full.audio[: partial.audio.size])


@pytest.mark.parametrize("case", CASES, ids=str)
def test_through_the_client(case, emulator, full):
    with OmniClient(base_url=emulator.base_url, timeout=READ_TIMEOUT, backoff=0.01) as client:
        emulator.inject(case.spec, case.times)
        before = emulator.request_count
        if case.outcome == "raised":
            with pytest.raises(Exception) as info:
                client.chat(PROMPT)
            assert type(info.value).__name__ == case.error
            assert_no_canary(info.value, info.value._render_traceback_())
        else:
            reply = client.chat(PROMPT)
            assert_no_canary(reply, reply.error, reply.usage, reply.request)
            if case.outcome == "kept":
                assert type(reply.error).__name__ == case.error
                assert_prefix(reply, full)
                assert reply.audio_seconds > 0  # speech that arrived is kept too
            else:
                assert reply.error is None and reply.text == full.text
                assert bool(reply.notes) == (case.outcome == "whole")
        assert emulator.request_count - before == case.requests
        # The next request on the same client works.
        assert client.chat(PROMPT, audio=False).complete


# Truncated speech is found where the pieces are joined (OmniResponse), not in the stream.
STREAM_CASES = [case for case in CASES if not case.spec.startswith("truncated_audio")]


@pytest.mark.parametrize("case", STREAM_CASES, ids=str)
def test_through_a_stream_in_a_with_block(case, emulator, full):
    # Real sockets: what the server's fault becomes in httpx (a reset, an incomplete chunked
    # body, a read timeout) reaches the reader as the same OmniError as through chat().
    with OmniClient(base_url=emulator.base_url, timeout=READ_TIMEOUT, backoff=0.01) as client:
        emulator.inject(case.spec, case.times)
        before = emulator.request_count
        seen = []
        error = None
        try:
            with client.stream(PROMPT) as events:
                seen.extend(events)
        except OmniError as exc:
            error = exc
        text = "".join(e.text for e in seen if isinstance(e, TextDelta))
        if case.outcome in ("recovered", "whole"):
            assert error is None and text == full.text
        else:
            assert type(error).__name__ == case.error
            assert_no_canary(error, error._render_traceback_())
            assert full.text.startswith(text) and bool(text) == (case.outcome == "kept")
        assert emulator.request_count - before == case.requests
        assert client.chat(PROMPT, audio=False).complete


def test_leaving_streams_early_frees_the_connection_for_the_next_request(emulator):
    # One connection in the pool, and a pool timeout as short as the read timeout: a stream
    # left open would hold the connection, and the next request would fail with a timeout.
    one = httpx.HTTPTransport(limits=httpx.Limits(max_connections=1))
    with OmniClient(base_url=emulator.base_url, timeout=READ_TIMEOUT, transport=one,
                    max_retries=0) as client:
        for _ in range(3):
            with client.stream(PROMPT) as events:
                for event in events:
                    if isinstance(event, TextDelta):
                        break
        with pytest.raises(RuntimeError, match="the reader failed"), \
                client.stream(PROMPT) as events:
            next(events)
            raise RuntimeError("the reader failed")
        assert client.chat(PROMPT, audio=False).complete


@pytest.fixture
def shell(ip, emulator, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)  # ip unsets it, after canary set it
    ip.run_line_magic("config", f"OmniMagics.base_url = {emulator.base_url!r}")
    ip.run_line_magic("config", f"OmniMagics.timeout = {READ_TIMEOUT}")
    return ip


def everything_shown(cap) -> str:
    return cap.stdout + cap.stderr + "".join(str(o.data) for o in cap.outputs)


@pytest.mark.parametrize("mode", ["widgets", "text"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_through_the_magic(case, mode, shell, emulator, full):
    shell.run_line_magic("config", f"OmniMagics.display_mode = {mode!r}")
    magics = shell.magics_manager.registry["OmniMagics"]
    emulator.inject(case.spec, case.times)
    before = emulator.request_count
    with capture_output() as cap:
        result = shell.run_cell(f"%%omni --out reply\n{PROMPT}")
    shown = everything_shown(cap)
    assert emulator.request_count - before == case.requests
    assert "Traceback" not in shown and 'File "' not in shown
    assert_no_canary(shown, shell.user_ns["reply"])
    reply = shell.user_ns["reply"]
    if case.outcome == "raised":
        assert type(result.error_in_exec).__name__ == case.error
        assert f"{case.error}: " in shown  # one paragraph: what happened and what to do
        assert reply.error is result.error_in_exec and reply.text == ""
    else:
        assert result.error_in_exec is None
        assert shell.user_ns["_"] is reply
        if case.outcome == "kept":
            assert type(reply.error).__name__ == case.error
            assert f"{case.error}: " in shown
            assert_prefix(reply, full)
            assert reply.text in shown  # the partial answer is on screen
        else:
            assert reply.error is None and reply.text == full.text
            if case.outcome == "whole":
                assert "instead of streaming it" in shown  # said, not only kept
    # The next cell works.
    with capture_output() as cap:
        again = shell.run_cell(f"%%omni --out again --text-only\n{PROMPT}")
    assert again.error_in_exec is None and shell.user_ns["again"].complete
    assert_no_canary(everything_shown(cap))
    assert CANARY not in repr(magics.conversation.turns)
