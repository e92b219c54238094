"""Property tests (Hypothesis): bad bytes and bad lines meet typed errors, never a crash.

- The SSE decoder gives the same events however the bytes are split, and takes any
  garbage without raising.
- A stream of any bytes, or a valid stream with bytes flipped, through OmniClient ends
  as a complete answer, a partial answer with a StreamError, or a raised OmniError.
- Any %%omni option line ends as a request (dry run here) or a usage message.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from omni_magic import OmniClient, OmniError, StreamError
from omni_magic.sse import SSEDecoder

PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def decode_all(pieces: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    out = [event for piece in pieces for event in decoder.decode(piece)]
    return out + decoder.flush()


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


payloads = st.lists(st.dictionaries(st.sampled_from(["content", "x", "reasoning_content"]),
                                    st.text(max_size=20), max_size=3), min_size=1, max_size=8)
newlines = st.sampled_from(["\n", "\r\n", "\r"])


@PROPERTY
@given(payloads, newlines, st.lists(st.integers(min_value=0), max_size=12), st.booleans())
def test_any_split_of_a_stream_gives_the_same_events(chunks, newline, cuts, comments):
    lines = []
    for chunk in chunks:
        if comments:
            lines.append(": keep-alive")
        lines += [f"data: {json.dumps({'choices': [{'delta': chunk}]}, ensure_ascii=False)}", ""]
    stream = newline.join(lines + ["data: [DONE]", "", ""]).encode()
    expected = decode_all([stream])
    assert len(expected) == len(chunks) + 1 and expected[-1] == "[DONE]"
    assert decode_all(split_at(stream, cuts)) == expected


@PROPERTY
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_garbage_bytes_never_break_the_decoder(pieces):
    assert all(isinstance(event, str) for event in decode_all(pieces))


def valid_stream() -> bytes:
    chunks = [{"id": "chatcmpl-1", "model": "qwen3-omni-flash",
               "choices": [{"delta": {"content": w}, "index": 0, "finish_reason": None}]}
              for w in ["Hello", " there", "!"]]
    chunks.append({"choices": [{"delta": {}, "index": 0, "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 3,
                                            "total_tokens": 6}})
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"


def through_client(body: list[bytes]) -> None:
    """Stream ``body`` through OmniClient: any outcome but an untyped exception is fine."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=httpx.ByteStream(b"".join(body))))
    with OmniClient(base_url="http://test.invalid/v1", transport=transport, max_retries=0) as client:
        try:
            reply = client.chat("Hi", audio=False)
        except OmniError:
            return
        assert reply.error is None or isinstance(reply.error, StreamError)
        if reply.error is None:
            assert reply.complete


@PROPERTY
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_any_bytes_as_a_stream_end_in_a_typed_outcome(pieces):
    through_client(pieces)


@PROPERTY
@given(st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
                min_size=1, max_size=8))
def test_a_stream_with_flipped_bytes_ends_in_a_typed_outcome(flips):
    data = bytearray(valid_stream())
    for position, value in flips:
        data[position % len(data)] = value
    through_client([bytes(data)])


WORDS = ["-m", "--model", "-v", "--voice", "--think", "--no-think", "--effort", "--search",
         "--hi-res", "--workspace", "--text-only", "-i", "--image", "-a",
         "--audio", "--video", "--frames", "--rate", "--system", "--max-tokens", "--region",
         "--base-url", "-o", "--out", "--save", "--new", "--help", "-h", "--", "-", "=", "'", '"',
         "qwen-omni-turbo", "qwen3-omni-flash", "qwen3.5-omni-plus", "qwen3.8-omni-flash",
         "qwen3.5-omni-plus-2099-01-01", "gpt-4", "Cherry", "Tina", "Serena", "nobody", "none",
         "low", "max", "cn", "intl", "us", "hk", "jp", "de",
         "mars", "-1", "0", "1", "99999999999", "1e9", "nan", "x", "no_such.png", "nothing/*.jpg",
         "http://", "ftp://x", "https://example.invalid/a.png", "data:,", "{", "}", "é", "\\"]
lines = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=10).map(" ".join)


@pytest.fixture
def magics(ip):
    # Nothing may be sent: a request that gets through goes to a closed port and fails typed.
    ip.run_line_magic("config", "OmniMagics.base_url = 'http://127.0.0.1:9/v1'")
    ip.run_line_magic("config", "OmniMagics.max_retries = 0")
    return ip.magics_manager.registry["OmniMagics"]


@PROPERTY
@given(line=lines)
def test_any_option_line_gives_a_request_or_a_usage_message(magics, line):
    from IPython.utils.capture import capture_output

    with capture_output():
        for cell in ("Hello", None):  # the cell magic, then the line magic
            try:
                magics.omni(line + " --dry-run" if cell else line, cell)
            except (UsageError, OmniError) as exc:
                assert str(exc).strip()  # a message, not an empty error
            except SystemExit:  # pragma: no cover - argparse's exit must never escape
                pytest.fail(f"SystemExit on {line!r}")
