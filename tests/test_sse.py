"""SSEDecoder: bytes in, event data out, however the socket happens to split them."""

from __future__ import annotations

import json

import pytest

from omni_magic.sse import DONE, SSEDecoder

from conftest import DATA


def decode(*pieces: bytes) -> list[str]:
    """Feed the pieces in order, then flush: every event the stream carried."""
    decoder = SSEDecoder()
    events: list[str] = []
    for piece in pieces:
        events += decoder.decode(piece)
    return events + decoder.flush()


def two_piece_splits(data: bytes):
    """Every way to cut ``data`` in two (including an empty first or last piece)."""
    for i in range(len(data) + 1):
        yield i, (data[:i], data[i:])


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


# -- line endings and dispatch --------------------------------------------------------------

@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_each_line_ending_ends_lines_and_a_blank_line_ends_the_event(eol):
    stream = eol.join([b"data: first", b"", b"data: second", b"", b""])
    assert decode(stream) == ["first", "second"]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_multi_line_data_is_joined_with_newline(eol):
    stream = eol.join([b"data: one", b"data: two", b"data: three", b"", b""])
    assert decode(stream) == ["one\ntwo\nthree"]


def test_an_event_is_returned_by_the_chunk_that_completes_it():
    decoder = SSEDecoder()
    assert decoder.decode(b"data: hel") == []
    assert decoder.decode(b"lo\n") == []  # the line is complete, the event is not
    assert decoder.decode(b"\n") == ["hello"]


def test_extra_blank_lines_make_no_empty_events():
    assert decode(b"\n\n\ndata: x\n\n\n\n") == ["x"]


def test_comments_and_other_fields_are_ignored():
    stream = (
        b": keep-alive\n"
        b"event: message\n"
        b"id: 42\n"
        b"retry: 1000\n"
        b"data: payload\n"
        b": another comment\n"
        b"\n"
        b": keep-alive\n\n"  # a comment-only block is not an event
    )
    assert decode(stream) == ["payload"]


@pytest.mark.parametrize(
    "line, expected",
    [
        (b"data: value", "value"),
        (b"data:value", "value"),
        (b"data:  two spaces", " two spaces"),  # only one space belongs to the syntax
        (b"data: [DONE]", DONE),
        (b"data:[DONE]", DONE),
    ],
)
def test_data_field_with_and_without_the_space(line, expected):
    assert decode(line + b"\n\n") == [expected]


# -- UTF-8 and chunk boundaries --------------------------------------------------------------

def test_multibyte_characters_split_across_chunks():
    text = "こんにちは 🎤 ça va"
    payload = json.dumps({"content": text}, ensure_ascii=False)
    data = f"data: {payload}\n\n".encode()
    start = data.index("🎤".encode())
    # Cut inside the 4-byte emoji at each of its three inner boundaries.
    for cut in range(start + 1, start + 4):
        events = decode(data[:cut], data[cut:])
        assert events == [payload]
        assert json.loads(events[0])["content"] == text


def test_crlf_split_between_two_chunks_is_one_line_ending():
    decoder = SSEDecoder()
    assert decoder.decode(b"data: a\r") == []
    # The \n completes the \r\n above; it is not a blank line that would end the event.
    assert decoder.decode(b"\ndata: b\r\n\r\n") == ["a\nb"]


def test_an_empty_read_between_cr_and_lf_changes_nothing():
    # httpx can deliver empty chunks; one must not make the \n look like a blank line.
    assert decode(b"data: a\r", b"", b"\ndata: b\r\n\r\n") == ["a\nb"]


def test_cr_then_crlf_is_two_line_endings():
    assert decode(b"data: a\r", b"\r\ndata: b\r\n\r\n") == ["a", "b"]


# -- end of stream ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "tail", [b"data: last", b"data: last\n", b"data: last\r", b"data: last\r\n"]
)
def test_flush_returns_a_final_event_without_its_blank_line(tail):
    decoder = SSEDecoder()
    assert decoder.decode(b"data: first\n\n" + tail) == ["first"]
    assert decoder.flush() == ["last"]


def test_flush_of_a_finished_stream_returns_nothing():
    decoder = SSEDecoder()
    assert decoder.decode(b"data: x\n\n") == ["x"]
    assert decoder.flush() == []


def test_flush_ignores_a_trailing_comment():
    assert decode(b"data: x\n\n: bye") == ["x"]


# -- the leniency for the service's transcripts ----------------------------------------------

def test_consecutive_single_line_json_events_without_blank_lines_are_separate():
    stream = b'data: {"a": 1}\ndata: {"b": 2}\ndata: {"c": 3}\n'
    assert decode(stream) == ['{"a": 1}', '{"b": 2}', '{"c": 3}']


def test_each_lenient_event_is_returned_as_soon_as_the_next_one_starts():
    decoder = SSEDecoder()
    assert decoder.decode(b'data: {"a": 1}\n') == []  # it may still continue
    assert decoder.decode(b'data: {"b": 2}\n') == ['{"a": 1}']


def test_done_after_a_pending_json_line_is_its_own_event():
    assert decode(b'data: {"a": 1}\ndata: [DONE]\n') == ['{"a": 1}', DONE]


def test_json_spread_over_several_data_lines_is_still_joined():
    stream = b'data: {"a":\ndata: 1}\n\n'
    events = decode(stream)
    assert events == ['{"a":\n1}']
    assert json.loads(events[0]) == {"a": 1}


def test_non_json_consecutive_lines_follow_the_sse_rule():
    assert decode(b"data: hello\ndata: world\n\n") == ["hello\nworld"]


# -- the same events however the stream is cut -----------------------------------------------

def _seed(name: str) -> bytes:
    return (DATA / f"seed_{name}.sse").read_bytes()


STREAMS = {
    "lf": (b"data: one\n\ndata: two\n\n", ["one", "two"]),
    "crlf-multiline": (
        b": keep-alive\r\ndata: line1\r\ndata: line2\r\n\r\ndata: {\"x\": 1}\r\n\r\n",
        ["line1\nline2", '{"x": 1}'],
    ),
    "cr-multiline": (b"data: a\rdata: b\r\rid: 7\rdata: c\r\r", ["a\nb", "c"]),
    "utf8-mixed-endings": (
        'data: {"t": "日本語🎤"}\r\n\r\ndata: é\ndata: ß\n\n'.encode(),
        ['{"t": "日本語🎤"}', "é\nß"],
    ),
    "lenient-no-blank-lines": (
        b'data: {"a": 1}\r\ndata: {"b": 2}\r\ndata: [DONE]\r\n',
        ['{"a": 1}', '{"b": 2}', DONE],
    ),
    "no-final-blank-line": (b"event: x\ndata: p\ndata: q", ["p\nq"]),
    "seed-who-are-you": (_seed("who_are_you"), None),
    "seed-thinking": (_seed("thinking"), None),
}


def _expected(name: str) -> list[str]:
    data, expected = STREAMS[name]
    if expected is None:  # the seeds: one event per line, as the documentation prints them
        expected = [line[len("data: "):] for line in data.decode().splitlines()]
    return expected


@pytest.mark.parametrize("name", STREAMS)
def test_whole_stream_gives_the_expected_events(name):
    assert decode(STREAMS[name][0]) == _expected(name)


@pytest.mark.parametrize("name", STREAMS)
def test_split_at_every_byte_boundary_gives_the_same_events(name):
    data, expected = STREAMS[name][0], _expected(name)
    for i, pieces in two_piece_splits(data):
        assert decode(*pieces) == expected, f"split at byte {i}: {data[:i][-20:]!r}|{data[i:][:20]!r}"
        # ... and with the empty reads a socket may also deliver around the cut.
        assert decode(b"", pieces[0], b"", pieces[1], b"") == expected, f"split at byte {i}"


@pytest.mark.parametrize("name", STREAMS)
def test_one_byte_at_a_time_gives_the_same_events(name):
    data = STREAMS[name][0]
    assert decode(*byte_by_byte(data)) == _expected(name)


@pytest.mark.parametrize("eol", [b"\r\n", b"\r"], ids=["CRLF", "CR"])
@pytest.mark.parametrize("seed_name", ["who_are_you", "thinking"])
def test_seed_with_other_line_endings_and_blank_lines_gives_the_same_events(seed_name, eol):
    lines = _seed(seed_name).split(b"\n")
    with_blank_lines = (eol + eol).join(lines)
    assert decode(with_blank_lines) == _expected(f"seed-{seed_name.replace('_', '-')}")
    assert decode(*byte_by_byte(with_blank_lines)) == decode(with_blank_lines)
