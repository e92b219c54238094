"""The client against servers that misbehave on the wire (issue 15, items 1-8, 19, 20, 22).

Each test names the defect it pins down; each failed before its fix. Servers are
``httpx.MockTransport`` handlers where a socket does not matter, and ``Deviant``, a local
HTTP server answering from a script, where it does (deadlines, aborts, what was sent).
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import httpx
import pytest
from IPython.utils.capture import capture_output

from omni_magic import OmniClient
from omni_magic.emulator import Emulator, Pacing
from omni_magic.errors import (
    ConnectError,
    Interrupted,
    InvalidRequest,
    ProtocolError,
    StreamCutShort,
    UnexpectedAnswer,
)
from omni_magic.recording import Recording
from omni_magic.response import collect
from omni_magic.sse import SSEDecoder

from conftest import sse

KEY = "sk-canary-0a1b2c3d4e5f6789"
BASE = "http://test/v1"


def chunk(content: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {"id": "c1", "model": "qwen3-omni-flash", "choices": [{"delta": delta, "finish_reason": None}]}


END = {"id": "c1", "choices": [{"delta": {}, "finish_reason": "stop"}]}


def client_for(reply: Callable[[httpx.Request], httpx.Response], **options: Any) -> OmniClient:
    options.setdefault("dialect", "dashscope")
    return OmniClient(api_key=KEY, base_url=BASE, transport=httpx.MockTransport(reply),
                      max_retries=0, **options)


class Deviant:
    """A local HTTP server that answers every request with ``script(handler)`` and keeps what it
    was sent: ``requests`` holds (method, path, headers) of each."""

    def __init__(self, script: Callable[[BaseHTTPRequestHandler], None]) -> None:
        requests = self.requests = []
        self.stopping = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                requests.append((self.command, self.path, dict(self.headers)))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                try:
                    script(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Deviant:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def send_stream(handler: BaseHTTPRequestHandler, pieces: list[bytes], *, pause: float = 0.0,
                stopping: threading.Event | None = None) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for piece in pieces:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.flush()
        if pause and stopping is not None and stopping.wait(pause):
            return
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


# -- 1. the key in a Verbose traceback ---------------------------------------------------------

def test_no_frame_of_the_client_holds_the_key_in_plain_text():
    # %xmode Verbose prints the values on each frame's failing line, so any local of the
    # client's (or httpx's) whose repr holds the key can end up in a traceback, and in the
    # saved notebook. Seen from inside the transport, while the request is on its way:
    # the request's headers used to be a plain dict in OmniClient._attempt.
    shown: list[str] = []

    def transport(request: httpx.Request) -> httpx.Response:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_globals.get("__name__", "").startswith(("omni_magic", "httpx", "httpcore")):
                shown.extend(f"{frame.f_code.co_name}.{name} = {value!r}"
                             for name, value in frame.f_locals.items())
            frame = frame.f_back
        return httpx.Response(200, content=sse(chunk("Hi"), END))

    with client_for(transport) as client:
        assert client.chat("Hi", audio=False).complete
    assert any("_attempt." in line for line in shown)  # the client's frames were seen
    assert [line for line in shown if KEY in line or KEY[8:] in line] == []


def test_an_unparsable_base_url_is_one_paragraph_without_the_key(ip, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    ip.run_line_magic("xmode", "Verbose")
    try:
        with capture_output() as cap:
            result = ip.run_cell("%%omni --base-url http://[::1/v1 --text-only\nHi")
    finally:
        ip.run_line_magic("xmode", "Context")
    assert isinstance(result.error_in_exec, InvalidRequest)
    shown = cap.stdout + cap.stderr
    assert "is not a valid URL" in shown and "Traceback" not in shown and KEY not in shown


# -- 2. a dry run sends nothing ------------------------------------------------------------------

def test_a_dry_run_with_a_base_url_sends_nothing_not_even_get_models(ip, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    with Deviant(lambda h: h.send_error(404)) as server:
        with capture_output() as cap:
            result = ip.run_cell(f"%%omni --base-url {server.base_url} --dry-run --text-only\nHi")
        assert result.error_in_exec is None
        assert server.requests == []
    shown = cap.stdout + "".join(str(o.data) for o in cap.outputs)
    assert "nothing was sent" in shown and "a dry run asks nothing" in shown


# -- 3. a piece of the key echoed ----------------------------------------------------------------

@pytest.mark.parametrize("piece", [KEY[2:18], KEY[-8:], KEY])
def test_any_run_of_eight_characters_of_the_key_is_masked(piece):
    body = sse(chunk("Hi"), f'{{"echo": "{piece}" broken', done=False)
    with client_for(lambda r: httpx.Response(200, content=body,
                                             headers={"Content-Type": "text/event-stream"})) as client:
        reply = client.chat("Hi", audio=False)
    assert isinstance(reply.error, ProtocolError) and reply.text == "Hi"
    assert piece not in str(reply.error) and "********" in str(reply.error)


def test_a_piece_of_the_key_in_an_error_answer_is_masked_in_the_message_and_the_body():
    body = json.dumps({"error": {"code": "invalid_api_key", "message": f"bad key {KEY[3:20]}"}})
    with client_for(lambda r: httpx.Response(401, content=body.encode())) as client, \
            pytest.raises(Exception) as info:
        client.chat("Hi", audio=False)
    assert KEY[3:20] not in str(info.value) and KEY[3:20] not in info.value.server_text


# -- 4. answers that are not a stream ------------------------------------------------------------

def test_a_whole_json_answer_is_kept_and_said_to_be_one():
    whole = {"id": "c9", "object": "chat.completion", "model": "qwen3-omni-flash",
             "choices": [{"index": 0, "finish_reason": "stop",
                          "message": {"role": "assistant", "content": "All at once."}}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    with client_for(lambda r: httpx.Response(200, json=whole)) as client:
        reply = client.chat("Hi", audio=False)
    assert reply.complete and reply.text == "All at once." and reply.usage.total == 7
    assert reply.notes and "instead of streaming" in reply.notes[0]


def test_a_json_error_with_status_200_gives_its_message():
    body = {"error": {"code": "InvalidParameter", "message": "The model is busy elsewhere."}}
    with client_for(lambda r: httpx.Response(200, json=body)) as client, \
            pytest.raises(UnexpectedAnswer, match="The model is busy elsewhere") as info:
        client.chat("Hi", audio=False)
    assert "ended before it was complete" not in str(info.value)


def test_an_html_page_gives_its_status_and_title():
    page = b"<html><head><title>Sign in to the guest network</title></head></html>"
    with client_for(lambda r: httpx.Response(200, content=page,
                                             headers={"Content-Type": "text/html"})) as client, \
            pytest.raises(UnexpectedAnswer, match="200 with a web page .Sign in to the guest network"):
        client.chat("Hi", audio=False)


def test_a_redirect_says_where_to_and_the_key_is_never_sent_there():
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "test":
            return httpx.Response(302, headers={"Location": "https://evil.example/v1/chat/completions"})
        return httpx.Response(200, content=sse(chunk("stolen"), END))

    with client_for(reply) as client, pytest.raises(UnexpectedAnswer) as info:
        client.chat("Hi", audio=False)
    assert "https://evil.example/v1/chat/completions" in str(info.value)
    assert "not followed" in str(info.value)
    assert [r.url.host for r in seen] == ["test"]


# -- 5. wrong JSON types, corrupt compression --------------------------------------------------------

WRONG = {
    "audio.data a number": chunk(audio={"data": 12345}),
    "usage values as strings": {"id": "c1", "choices": [],
                                "usage": {"prompt_tokens": "3", "completion_tokens": "4"}},
    "reasoning_content a list": chunk(reasoning_content=["thinking"]),
    "content an object": chunk(content={"text": "x"}),
    "model a list": {**chunk("late"), "model": ["qwen"]},
}


@pytest.mark.parametrize("bad", WRONG.values(), ids=WRONG.keys())
def test_a_field_of_the_wrong_type_is_the_streams_error_and_what_arrived_is_kept(bad):
    first = bad if "model" in bad and not isinstance(bad["model"], str) else chunk("Kept ")
    if first is bad:  # the first chunk's model: nothing arrived before it
        with client_for(lambda r: httpx.Response(200, content=sse(bad, END), headers={
                "Content-Type": "text/event-stream"})) as client:
            reply = client.chat("Hi")
        assert isinstance(reply.error, ProtocolError) and reply.text == ""
        return
    body = sse(first, chunk("so far."), bad, END)
    with client_for(lambda r: httpx.Response(200, content=body,
                                             headers={"Content-Type": "text/event-stream"})) as client:
        reply = client.chat("Hi")
    assert isinstance(reply.error, ProtocolError)
    assert reply.text == "Kept so far."
    str(reply)  # and the answer can still be shown


def test_a_corrupt_gzip_body_is_a_protocol_error_keeping_nothing_lost():
    good = gzip.compress(sse(chunk("Hi"), END))
    corrupt = good[:20] + b"\x00garbage\x00" * 8
    with client_for(lambda r: httpx.Response(200, content=corrupt, headers={
            "Content-Type": "text/event-stream", "Content-Encoding": "gzip"})) as client:
        reply = client.chat("Hi", audio=False)
    assert isinstance(reply.error, ProtocolError) and "could not be decoded" in str(reply.error)


# -- 6. a huge error message ---------------------------------------------------------------------

def test_a_huge_error_message_is_cut_in_what_is_shown_and_kept_whole_in_the_exception():
    message = "x" * (20 * 1024 * 1024)
    body = json.dumps({"error": {"code": "InvalidParameter", "message": message}}).encode()
    with client_for(lambda r: httpx.Response(400, content=body)) as client, \
            pytest.raises(Exception) as info:
        client.chat("Hi", audio=False)
    assert len(str(info.value)) < 2000 and "more characters" in str(info.value)
    assert message in info.value.server_text


def test_a_huge_error_mid_stream_is_cut_too():
    body = sse(chunk("Hi"), {"error": {"message": "y" * 5_000_000}}, done=False)
    with client_for(lambda r: httpx.Response(200, content=body,
                                             headers={"Content-Type": "text/event-stream"})) as client:
        reply = client.chat("Hi", audio=False)
    assert isinstance(reply.error, StreamCutShort) and len(str(reply.error)) < 2000
    assert len(reply.error.server_text) > 5_000_000


# -- 7. long lines ---------------------------------------------------------------------------------

def test_a_line_of_48_mb_read_in_small_pieces_is_decoded_in_one_pass():
    # Not a timing claim: quadratic decoding of this line (the old decoder joined the line so
    # far on every read: ~70 GB copied) takes minutes, linear well under a second. The bound
    # only keeps a regression from hanging the suite. Measured ratios: bench/long_lines.py.
    line = b"data: " + b"A" * (48 * 1024 * 1024) + b"\n\n"
    found: list[str] = []

    def decode() -> None:
        decoder = SSEDecoder()
        for start in range(0, len(line), 16 * 1024):
            found.extend(decoder.decode(line[start:start + 16 * 1024]))

    worker = threading.Thread(target=decode, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive() and len(found) == 1 and len(found[0]) == 48 * 1024 * 1024


# -- 8. deadlines, not only per-read timeouts ------------------------------------------------------

def test_keep_alives_before_the_first_event_do_not_hold_a_request_past_its_deadline():
    # Comments every 0.1 s for 20 s, then the answer: each read is quick, so httpx's read
    # timeout never fires; the first-event deadline does.
    def script(handler: BaseHTTPRequestHandler) -> None:
        send_stream(handler, [b": keep-alive\n\n"] * 200 + [sse(chunk("late"), END)],
                    pause=0.1, stopping=server.stopping)

    with Deviant(script) as server, OmniClient(base_url=server.base_url, dialect="dashscope",
                                               first_event_timeout=1.0, max_retries=0) as client:
        with pytest.raises(ConnectError, match="no event within 1 s"):
            client.chat("Hi", audio=False)


def test_keep_alives_between_events_count_against_the_read_timeout():
    def script(handler: BaseHTTPRequestHandler) -> None:
        send_stream(handler, [sse(chunk("Hi"), done=False)] + [b": ping\n\n"] * 200
                    + [sse(chunk(" late"), END)], pause=0.05, stopping=server.stopping)

    with Deviant(script) as server, OmniClient(base_url=server.base_url, dialect="dashscope",
                                               timeout=0.5, max_retries=0) as client:
        reply = client.chat("Hi", audio=False)
    assert isinstance(reply.error, StreamCutShort) and reply.text == "Hi"


def test_dialect_detection_has_a_deadline_for_the_whole_answer(monkeypatch):
    # A /models listing of vLLM's, trickled a few bytes every 0.2 s: each read is quick, but
    # the whole listing would take 30 s. Cut off at the deadline, the dialect falls back to
    # DashScope's; read to the end (the old per-read timeout), it would have been vLLM's.
    listing = json.dumps({"data": [{"id": "Qwen/Qwen2.5-Omni-7B", "owned_by": "vllm"}]}).encode()
    sent: list[int] = []

    def script(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(listing)))
        handler.end_headers()
        for i in range(0, len(listing), 1):
            handler.wfile.write(listing[i:i + 1])
            handler.wfile.flush()
            sent.append(i)
            if server.stopping.wait(30 / len(listing)):
                return

    monkeypatch.setattr("omni_magic.client.DETECT_SECONDS", 0.5)
    with Deviant(script) as server, OmniClient(base_url=server.base_url) as client:
        assert client.dialect == "dashscope"
        assert len(sent) < len(listing)


def test_the_timeout_trait_sets_the_read_timeout_and_keeps_the_others(ip):
    ip.run_line_magic("config", "OmniMagics.timeout = 7.5")
    magics = ip.magics_manager.registry["OmniMagics"]
    args = type("Args", (), {"region": None, "base_url": None, "workspace": None, "dialect": None})()
    timeout = magics._settings(args)[1]["timeout"]
    assert (timeout.read, timeout.connect, timeout.write, timeout.pool) == (7.5, 10.0, 60.0, 10.0)


# -- 19. threads sharing a fresh client --------------------------------------------------------------

def test_threads_sharing_a_fresh_client_start_one_emulator_and_all_reach_it(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    client = OmniClient(emulator_pacing=Pacing.none())
    start = threading.Barrier(20)
    results: list[Any] = []

    def ask() -> None:
        start.wait()
        try:
            results.append(client.chat("Hi", audio=False))
        except Exception as exc:  # noqa: BLE001 - the failure itself is what is counted
            results.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert [type(r).__name__ for r in results] == ["OmniResponse"] * 20
    assert all(r.complete for r in results)


# -- 20. cancel from another thread ----------------------------------------------------------------

def test_cancel_ends_a_stalled_stream_at_once_keeping_what_arrived():
    with Emulator(auth=False, pacing=Pacing.none()) as emulator, \
            OmniClient(base_url=emulator.base_url, dialect="dashscope") as client:
        emulator.inject("stall:after=3,seconds=60")
        request = client.prepare("Tell me about rivers.", audio=False)
        events = client.send(request)
        response = client.new_response(request)
        got_three = threading.Event()
        seen: list[Any] = []

        def read() -> None:
                collect(events, response, on_event=lambda e: (seen.append(e), len(seen) >= 3
                                                          and got_three.set()))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert got_three.wait(30)
        events.cancel()
        reader.join(30)
        assert not reader.is_alive()  # the 60 s stall did not have to pass
    assert isinstance(response.error, Interrupted) and response.text


def test_a_stream_cancelled_before_it_starts_sends_nothing():
    calls: list[httpx.Request] = []
    with client_for(lambda r: calls.append(r) or httpx.Response(200, content=sse(chunk("x"), END))) as client:
        events = client.stream("Hi", audio=False)
        events.cancel()
        with pytest.raises(Interrupted):
            next(events)
    assert calls == []


# -- 22. recordings say how the stream really ended ------------------------------------------------

@pytest.mark.parametrize("body, end", [
    (sse(chunk("Hi"), "{not json", done=False), "error"),  # a protocol error
    (sse(chunk("Hi"), END, done=False), "error"),  # no [DONE]
    (sse(chunk("Hi"), END), "complete"),
], ids=["protocol error", "cut short", "complete"])
def test_a_recording_ends_the_way_the_stream_did(tmp_path, body, end):
    path = tmp_path / "call.jsonl"
    with client_for(lambda r: httpx.Response(200, content=body,
                                             headers={"Content-Type": "text/event-stream"})) as client:
        request = client.prepare("Hi", audio=False)
        collect(client.send(request, record=path), client.new_response(request))
    recording = Recording.load(path)
    assert recording.end["end"] == end
    assert (end == "complete") == recording.complete


def test_a_recording_that_cannot_be_written_never_costs_the_answer(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with client_for(lambda r: httpx.Response(200, content=sse(chunk("Hi"), END),
                                             headers={"Content-Type": "text/event-stream"})) as client:
        request = client.prepare("Hi", audio=False)
        reply = collect(client.send(request, record=blocker / "call.jsonl"),
                        client.new_response(request))
    assert reply.complete and reply.text == "Hi"
    assert any("Not recorded" in note for note in reply.notes)


def test_the_key_is_masked_in_a_recording_even_in_pieces(tmp_path):
    path = tmp_path / "call.jsonl"
    body = sse(chunk(f"echo {KEY[4:20]}"), END)
    with client_for(lambda r: httpx.Response(200, content=body,
                                             headers={"Content-Type": "text/event-stream"})) as client:
        request = client.prepare("Hi", audio=False)
        collect(client.send(request, record=path), client.new_response(request))
    assert KEY[4:20] not in path.read_text() and "********" in path.read_text()


def test_a_recording_folder_that_does_not_exist_yet_is_made_a_folder(tmp_path):
    folder = tmp_path / "calls"
    with client_for(lambda r: httpx.Response(200, content=sse(chunk("Hi"), END),
                                             headers={"Content-Type": "text/event-stream"})) as client:
        request = client.prepare("Hi", audio=False)
        collect(client.send(request, record=f"{folder}/"), client.new_response(request))
    assert folder.is_dir() and len(list(folder.glob("*.jsonl"))) == 1


def test_a_cancel_before_the_server_sends_its_headers_ends_the_wait():
    # The server reads the request, then waits 20 s before its headers: a cancel at the
    # first event of that wait must end it (the new connection's socket is known from the
    # moment it opens), not when the headers finally come with the whole answer.
    arrived = threading.Event()

    def script(handler: BaseHTTPRequestHandler) -> None:
        arrived.set()
        if not server.stopping.wait(20):
            send_stream(handler, [sse(chunk("Hi"), END)])

    with Deviant(script) as server, OmniClient(base_url=server.base_url, dialect="dashscope",
                                               max_retries=0) as client:
        request = client.prepare("Hi", audio=False)
        events = client.send(request)
        response = client.new_response(request)
        reader = threading.Thread(target=collect, args=(events, response), daemon=True)
        reader.start()
        assert arrived.wait(10)
        events.cancel()
        reader.join(10)
        assert not reader.is_alive()  # the 20 s wait did not have to pass
    assert isinstance(response.error, Interrupted) and response.text == ""


def test_a_long_event_still_arriving_is_not_an_idle_stream():
    # One event of ~1 MB trickled over ~1.5 s in small pieces, with a read timeout of 0.5 s
    # between *events*: the event in progress counts, so the answer completes.
    event = sse(chunk("A" * 1_000_000), done=False)
    pieces = [event[i:i + 40_000] for i in range(0, len(event), 40_000)]

    def script(handler: BaseHTTPRequestHandler) -> None:
        send_stream(handler, pieces + [sse(END)], pause=0.06, stopping=server.stopping)

    with Deviant(script) as server, OmniClient(base_url=server.base_url, dialect="dashscope",
                                               timeout=0.5, max_retries=0) as client:
        reply = client.chat("Hi", audio=False)
    assert reply.complete and len(reply.text) == 1_000_000


def test_the_first_event_deadline_starts_once_the_body_is_sent():
    # An upload that takes 2 s (a transport pacing the body before it goes out), then a quick
    # answer: a 1 s first-event deadline counted from the start would abort it; counted from
    # the end of the upload (httpcore's trace: http11.send_request_body.complete), it does not.
    class SlowUpload(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            threading.Event().wait(2.0)
            return super().handle_request(request)

    def script(handler: BaseHTTPRequestHandler) -> None:
        send_stream(handler, [sse(chunk("Hi"), END)])

    with Deviant(script) as server, OmniClient(base_url=server.base_url, dialect="dashscope",
                                               first_event_timeout=1.0, max_retries=0,
                                               transport=SlowUpload()) as client:
        reply = client.chat("Hi", audio=False)
    assert reply.complete and reply.text == "Hi"
