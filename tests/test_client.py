"""OmniClient over httpx.MockTransport: retries, errors a user can act on, streams cut short,
responses always released, the key never shown, and where requests go."""

from __future__ import annotations

import email.utils
import json
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
import pytest

from omni_magic import catalog
from omni_magic.client import EventStream, OmniClient
from omni_magic.errors import (
    AccountError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ContentFilterError,
    InvalidRequest,
    NotFoundError,
    OmniError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamCutShort,
)
from omni_magic.events import Finished, Started, TextDelta, Usage
from omni_magic.keywords import PASS_THROUGH
from omni_magic.response import collect

from conftest import ChunkStream, sse

KEY = "sk-test-5f1e2d3c4b5a69788796a5b4"
BASE = "http://test/v1"
USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch):
    monkeypatch.delenv(catalog.API_KEY_ENV, raising=False)
    monkeypatch.delenv(catalog.BASE_URL_ENV, raising=False)


REGIONS = catalog.default().regions
INTL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
CN = "https://dashscope.aliyuncs.com/compatible-mode/v1"
US = "https://dashscope-us.aliyuncs.com/compatible-mode/v1"
HK = "https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1"


# -- a scripted server -----------------------------------------------------------------------

def chunk(delta: dict | None = None, finish: str | None = None) -> dict:
    return {
        "choices": [{"delta": delta or {}, "finish_reason": finish, "index": 0, "logprobs": None}],
        "object": "chat.completion.chunk", "usage": None, "model": "qwen3-omni-flash",
        "id": "chatcmpl-1",
    }


def answer_chunks(*texts: str, finish: str | None = "stop", usage: dict | None = USAGE) -> list:
    chunks: list[Any] = [chunk({"role": "assistant", "content": None})]
    chunks += [chunk({"content": t}) for t in texts]
    if finish:
        chunks.append(chunk({"content": ""}, finish))
    if usage:
        chunks.append({"choices": [], "usage": usage, "id": "chatcmpl-1"})
    return chunks


def answer(*texts: str, done: bool = True, **kwargs: Any) -> bytes:
    """A complete (or, with done=False, truncated) stream answering with ``texts``."""
    return sse(*answer_chunks(*texts, **kwargs), done=done)


def events_of(body: bytes) -> list[bytes]:
    """The body cut into its SSE events, each a separate network read."""
    return [part + b"\n\n" for part in body.split(b"\n\n") if part]


def error_body(code: str, message: str, kind: str = "invalid_request_error") -> bytes:
    return json.dumps({
        "error": {"code": code, "param": None, "message": message, "type": kind},
        "id": "chatcmpl-err", "request_id": "req-42",
    }).encode()


Reply = Callable[[], httpx.Response]


def ok(*texts: str) -> Reply:
    return lambda: httpx.Response(200, content=answer(*(texts or ("Hello", " there"))))


def status(code: int, body: bytes = b"", headers: dict | None = None) -> Reply:
    return lambda: httpx.Response(code, content=body or error_body("Err", "failed"), headers=headers)


def streamed(stream: ChunkStream, code: int = 200) -> Reply:
    return lambda: httpx.Response(code, stream=stream)


def fail(exc: Exception) -> Reply:
    def reply() -> httpx.Response:
        raise exc
    return reply


class Server:
    """A MockTransport handler that plays the given replies in order (the last one repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests), len(self.replies)) - 1
        return self.replies[index]()

    @property
    def calls(self) -> int:
        return len(self.requests)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connect(sleeps):
    """``connect(server, **options)`` -> an OmniClient on that server that never really waits."""
    clients: list[OmniClient] = []

    def make(server: Server, **options: Any) -> OmniClient:
        options.setdefault("base_url", BASE)
        # The scripted replies are DashScope's wire, one per POST; detecting the dialect
        # (a GET /models) is tested in test_dialects.py.
        options.setdefault("dialect", "dashscope")
        client = OmniClient(transport=httpx.MockTransport(server), **options)
        client._sleep = sleeps.append
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -- retries before the first event ----------------------------------------------------------

RETRYABLE = [408, 409, 429, 500, 502, 503, 504]


@pytest.mark.parametrize("code", RETRYABLE)
def test_a_transient_status_is_retried_then_the_answer_arrives(connect, sleeps, code):
    server = Server(status(code), ok("Hello"))
    response = connect(server).chat("Hi")
    assert response.text == "Hello"
    assert response.error is None
    assert server.calls == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("code", [429, 503])
def test_up_to_max_retries_are_made(connect, sleeps, code):
    server = Server(status(code), status(code), ok("Finally"))
    assert connect(server, max_retries=2).chat("Hi").text == "Finally"
    assert server.calls == 3
    assert len(sleeps) == 2


def test_retry_after_in_seconds_is_honoured(connect, sleeps):
    server = Server(status(429, error_body("Throttling", "slow down"), {"Retry-After": "7"}), ok())
    connect(server).chat("Hi")
    assert sleeps == [7.0]


def test_retry_after_as_an_http_date_is_honoured(connect, sleeps):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    header = email.utils.format_datetime(when, usegmt=True)
    server = Server(status(503, headers={"Retry-After": header}), ok())
    connect(server).chat("Hi")
    assert len(sleeps) == 1
    assert 20 < sleeps[0] <= 30  # the date has whole seconds; the clock moved on a little


def test_retry_after_in_the_past_means_no_wait(connect, sleeps):
    server = Server(status(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), ok())
    connect(server).chat("Hi")
    assert sleeps == [0.0]


def test_an_unreadable_retry_after_falls_back_to_backoff(connect, sleeps):
    server = Server(status(429, headers={"Retry-After": "soon"}), ok("Hello"))
    assert connect(server, backoff=1.0).chat("Hi").text == "Hello"
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0


def test_a_huge_retry_after_is_capped(connect, sleeps):
    server = Server(status(429, headers={"Retry-After": "3600"}), ok())
    connect(server).chat("Hi")
    assert sleeps == [60.0]


def test_backoff_grows_between_retries(connect, sleeps):
    server = Server(status(503), status(503), status(503), ok())
    connect(server, max_retries=3, backoff=1.0).chat("Hi")
    # Exponential with jitter: retry n waits between half and all of backoff * 2**(n-1).
    assert len(sleeps) == 3
    for n, slept in enumerate(sleeps):
        assert 0.5 * 2**n <= slept <= 2**n, (n, slept)


@pytest.mark.parametrize(
    "code, error_class", [(429, RateLimitError), (500, ServerError), (502, ServerError),
                          (503, ServerError), (504, ServerError)]
)
def test_exhausted_retries_raise_the_status_error(connect, sleeps, code, error_class):
    server = Server(status(code, error_body("Throttling.RateQuota", "busy")))
    with pytest.raises(error_class, match="after 2 retries") as info:
        connect(server, max_retries=2).chat("Hi")
    assert server.calls == 3
    assert info.value.status == code
    assert info.value.code == "Throttling.RateQuota"
    assert "busy" in str(info.value)


def test_one_retry_is_worded_in_the_singular(connect):
    with pytest.raises(RateLimitError, match="after 1 retry "):
        connect(Server(status(429)), max_retries=1).chat("Hi")


def test_max_retries_zero_makes_one_attempt(connect, sleeps):
    server = Server(status(503))
    with pytest.raises(ServerError) as info:
        connect(server, max_retries=0).chat("Hi")
    assert server.calls == 1 and sleeps == []
    assert "retr" not in str(info.value)


@pytest.mark.parametrize("code", [400, 401, 404])
def test_a_client_error_is_not_retried(connect, sleeps, code):
    server = Server(status(code), ok())
    with pytest.raises(APIError):
        connect(server).chat("Hi")
    assert server.calls == 1
    assert sleeps == []


# -- errors a user can act on ----------------------------------------------------------------

def test_401_names_the_region_the_endpoint_the_key_variable_and_the_other_regions(connect):
    body = error_body("invalid_api_key", "Incorrect API key provided.")
    with pytest.raises(AuthenticationError) as info:
        connect(Server(status(401, body)), api_key=KEY, base_url=None).chat("Hi")
    message = str(info.value)
    assert f"This request went to Singapore (intl) at {INTL}." in message
    assert "A key works only in its own region and billing plan" in message
    assert "DASHSCOPE_API_KEY" in message
    assert "--region cn|us|hk" in message
    assert "--workspace ID" in message and "DASHSCOPE_BASE_URL" in message
    assert "Incorrect API key provided." in message
    assert "req-42" in message  # the request id helps support find the call


def test_401_in_the_cn_region_suggests_intl(connect):
    with pytest.raises(AuthenticationError, match=r"Beijing \(cn\) at https://dashscope\.aliyuncs"
                                                  r"\.com/compatible-mode/v1.*--region intl"):
        connect(Server(status(401)), api_key=KEY, region="cn", base_url=None).chat("Hi")


def test_401_on_a_workspace_endpoint_names_its_region_and_endpoint(connect):
    with pytest.raises(AuthenticationError) as info:
        connect(Server(status(401)), api_key=KEY, region="jp", workspace="ws-7",
                base_url=None).chat("Hi", model="qwen3.8-omni-flash")
    message = str(info.value)
    assert ("Tokyo (jp) at https://ws-7.ap-northeast-1.maas.aliyuncs.com/compatible-mode/v1"
            in message)
    assert "own region and billing plan" in message and "workspace" in message


def test_401_from_an_endpoint_of_no_known_region_names_the_endpoint(connect, monkeypatch):
    monkeypatch.setenv(catalog.BASE_URL_ENV, "https://gateway.example.com/compatible-mode/v1")
    with pytest.raises(AuthenticationError) as info:
        connect(Server(status(401)), api_key=KEY, base_url=None).chat("Hi")
    message = str(info.value)
    assert "This request went to https://gateway.example.com/compatible-mode/v1." in message
    assert "own region and billing plan" in message


def test_401_from_a_self_hosted_server_does_not_talk_about_regions(connect):
    with pytest.raises(AuthenticationError) as info:
        connect(Server(status(401)), api_key=KEY).chat("Hi")
    assert "rejected the credentials" in str(info.value)
    assert "region" not in str(info.value)


def test_content_filter(connect):
    body = error_body("data_inspection_failed", "Input data may contain inappropriate content.")
    with pytest.raises(ContentFilterError, match="Rephrase the prompt") as info:
        connect(Server(status(400, body))).chat("Hi")
    assert "inappropriate content" in str(info.value)


@pytest.mark.parametrize("code", [400, 429])
def test_arrearage_is_an_account_error_and_never_retried(connect, sleeps, code):
    body = error_body("Arrearage", "Access denied, please make sure your account is in good standing.")
    server = Server(status(code, body), ok())
    with pytest.raises(AccountError, match="balance"):
        connect(server).chat("Hi")
    assert server.calls == 1 and sleeps == []


def test_400_invalid_parameter_is_a_bad_request_with_the_servers_message(connect):
    body = error_body("invalid_parameter_error", "This model only support stream mode")
    with pytest.raises(BadRequestError, match="only support stream mode"):
        connect(Server(status(400, body))).chat("Hi")


@pytest.mark.parametrize("base_url", ["http://test/v1", "http://test/api/compatible-mode/v1"])
def test_404_names_the_url_requests_go_to(connect, base_url):
    body = error_body("model_not_found", "The model does not exist.")
    with pytest.raises(NotFoundError) as info:
        connect(Server(status(404, body)), base_url=base_url).chat("Hi")
    assert f"{base_url}/chat/completions" in str(info.value)
    assert "%omni models" in str(info.value)


@pytest.mark.parametrize(
    "body, expected", [(b"<html><body>Bad Gateway</body></html>", "Bad Gateway"), (b"", "(empty body)")]
)
def test_a_non_json_error_body_still_gives_a_useful_message(connect, body, expected):
    server = Server(lambda: httpx.Response(502, content=body))
    with pytest.raises(ServerError) as info:
        connect(server, max_retries=0).chat("Hi")
    assert "502" in str(info.value) and expected in str(info.value)


@pytest.mark.parametrize(
    "body, expected",
    [({"detail": "Not Found"}, "Not Found"), ({"error": "model 'omni' not found"}, "model 'omni' not found")],
    ids=["fastapi-detail", "error-string"],
)
def test_a_json_error_body_without_a_message_field_is_shown(connect, body, expected):
    # What self-hosted servers answer at a wrong path or for a wrong model name.
    with pytest.raises(NotFoundError) as info:
        connect(Server(status(404, json.dumps(body).encode()))).chat("Hi")
    assert expected in str(info.value)


def test_dashscope_native_error_body(connect):
    body = json.dumps({"code": "Throttling.AllocationQuota", "message": "Quota exceeded",
                       "request_id": "req-7"}).encode()
    with pytest.raises(RateLimitError, match="Throttling.AllocationQuota: Quota exceeded") as info:
        connect(Server(status(429, body)), max_retries=0).chat("Hi")
    assert info.value.request_id == "req-7"


# -- transport errors ------------------------------------------------------------------------

def test_a_connection_error_is_retried_then_reported(connect, sleeps):
    server = Server(fail(httpx.ConnectError("Connection refused")))
    with pytest.raises(ConnectError, match=r"could not be reached \(tried 3 times\)") as info:
        connect(server).chat("Hi")
    assert server.calls == 3 and len(sleeps) == 2
    assert f"{BASE}/chat/completions" in str(info.value)


def test_a_timeout_is_reported_as_such(connect):
    with pytest.raises(ConnectError, match="did not answer in time"):
        connect(Server(fail(httpx.ConnectTimeout("slow"))), max_retries=0).chat("Hi")


def test_a_connection_error_then_success(connect):
    server = Server(fail(httpx.ConnectError("refused")), ok("Back"))
    assert connect(server).chat("Hi").text == "Back"
    assert server.calls == 2


def test_a_stream_that_dies_before_any_event_is_retried(connect):
    dead = ChunkStream([b'data: {"choi'], error=httpx.ReadError("reset"))
    server = Server(streamed(dead), ok("Whole"))
    response = connect(server).chat("Hi")
    assert response.text == "Whole" and response.error is None
    assert server.calls == 2
    assert dead.closed


# -- every httpx error becomes an OmniError ---------------------------------------------------

def gzipped(body: bytes) -> bytes:
    """``body`` gzip-compressed and flushed, so it decodes on its own: a stream's first part."""
    packer = zlib.compressobj(wbits=31)
    return packer.compress(body) + packer.flush(zlib.Z_SYNC_FLUSH)


@pytest.mark.parametrize(
    "exc, retried",
    [(httpx.ConnectError("refused"), True), (httpx.ReadTimeout("slow"), True),
     (httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
     (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."), False),
     (httpx.TooManyRedirects("Exceeded maximum allowed redirects."), False),
     (httpx.HTTPError("anything else httpx may raise"), False)],
    ids=["connect", "read-timeout", "remote-protocol", "unsupported-protocol", "redirects", "http-error"],
)
def test_an_httpx_error_before_the_first_event_is_a_connect_error(connect, sleeps, exc, retried):
    server = Server(fail(exc))
    with pytest.raises(ConnectError) as info:
        connect(server, max_retries=2).chat("Hi")
    # A passing fault is tried again; one that would fail the same way is not.
    assert server.calls == (3 if retried else 1) and len(sleeps) == server.calls - 1
    assert type(exc).__name__ in str(info.value) and f"{BASE}/chat/completions" in str(info.value)
    assert info.value.__suppress_context__  # a traceback shows our paragraph, not httpx's


def test_a_remote_protocol_error_mid_stream_is_a_cut_keeping_the_partial_answer(connect):
    # What httpx raises when a chunked body stops short ("incomplete chunked read").
    error = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    stream = ChunkStream(events_of(answer("Hello", " there"))[:3], error=error)
    server = Server(streamed(stream), ok("second try"))
    response = connect(server).chat("Hi")
    assert response.text == "Hello there"
    assert isinstance(response.error, StreamCutShort)
    assert "closed the connection mid-answer (RemoteProtocolError)" in str(response.error)
    assert server.calls == 1 and stream.closed


def test_a_body_that_cannot_be_decoded_is_a_protocol_error_keeping_what_arrived(connect):
    stream = ChunkStream([gzipped(b"".join(events_of(answer("Hello"))[:2])), b"\xff\xfe not gzip"])
    server = Server(lambda: httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=stream))
    response = connect(server).chat("Hi")
    assert response.text == "Hello"
    assert isinstance(response.error, ProtocolError)
    assert "could not be decoded" in str(response.error) and "partial" in str(response.error)
    assert server.calls == 1 and stream.closed


def test_a_decoding_error_before_any_event_is_not_retried(connect, sleeps):
    server = Server(lambda: httpx.Response(200, headers={"Content-Encoding": "gzip"},
                                           content=b"not gzip at all"), ok())
    response = connect(server).chat("Hi")
    assert isinstance(response.error, ProtocolError) and response.text == ""
    assert "nothing arrived" in str(response.error)
    assert server.calls == 1 and sleeps == []


def test_a_decoding_error_raised_by_the_transport_is_a_protocol_error(connect):
    stream = ChunkStream(events_of(answer("Hello"))[:2], error=httpx.DecodingError("bad deflate"))
    response = connect(Server(streamed(stream))).chat("Hi")
    assert response.text == "Hello" and isinstance(response.error, ProtocolError)
    assert "bad deflate" in str(response.error) and stream.closed


@pytest.mark.parametrize("dialect", ["dashscope", "auto"])
def test_a_base_url_httpx_cannot_parse_is_an_invalid_request_not_httpx_invalid_url(connect, dialect):
    server = Server(ok())
    # "auto" asks GET /models first: that failure must not escape either.
    client = connect(server, base_url="http://[::1/v1", dialect=dialect)
    with pytest.raises(InvalidRequest) as info:
        client.chat("Hi")
    assert "'http://[::1/v1' is not a valid URL" in str(info.value)
    assert "base_url" in str(info.value)
    assert server.calls == 0
    with pytest.raises(OmniError), client.stream("Hi") as events:  # the stream too
        list(events)


@pytest.mark.parametrize(
    "reply",
    [fail(httpx.ConnectError(f"refused {KEY}")),
     streamed(ChunkStream(events_of(answer("Hi"))[:2], error=httpx.ReadError(f"reset {KEY}"))),
     streamed(ChunkStream(events_of(answer("Hi"))[:2], error=httpx.DecodingError(f"bad {KEY}"))),
     fail(httpx.InvalidURL(f"Invalid URL {KEY}")),
     fail(httpx.HTTPError(f"odd {KEY}"))],
    ids=["connect", "read", "decoding", "invalid-url", "http-error"],
)
def test_no_mapped_error_shows_the_key(connect, reply):
    client = connect(Server(reply), api_key=KEY, max_retries=0)
    try:
        error = client.chat("Hi").error
    except OmniError as exc:
        error = exc
    assert isinstance(error, OmniError)
    assert KEY not in str(error) and KEY not in repr(error)
    assert KEY not in "".join(error._render_traceback_())


# -- streams cut short -----------------------------------------------------------------------

def test_a_stream_that_dies_after_events_is_not_retried_and_keeps_the_partial_answer(connect):
    pieces = events_of(answer("I am", " Qwen", ", a model"))
    stream = ChunkStream(pieces[:3], error=httpx.ReadError("Connection reset by peer"))
    server = Server(streamed(stream), ok("second try"))
    response = connect(server).chat("Hi")
    assert server.calls == 1
    assert response.text == "I am Qwen"
    assert isinstance(response.error, StreamCutShort)
    assert "closed the connection mid-answer" in str(response.error)
    assert not response.complete
    assert stream.closed


def test_stream_raises_the_cut_after_yielding_what_arrived(connect):
    pieces = events_of(answer("I am"))
    server = Server(streamed(ChunkStream(pieces[:2], error=httpx.ReadError("reset"))))
    seen = []
    with pytest.raises(StreamCutShort):
        for event in connect(server).stream("Hi"):
            seen.append(event)
    assert [type(e) for e in seen] == [Started, TextDelta]
    assert seen[1].text == "I am"


@pytest.mark.parametrize(
    "body, missing",
    [
        (answer("Half", done=False), "no [DONE] arrived"),
        (answer("Half", finish=None, usage=None, done=False), "no finish_reason and [DONE] arrived"),
        (answer("Half", finish=None), "no finish_reason arrived"),
    ],
    ids=["no-done", "no-finish-no-done", "no-finish"],
)
def test_a_clean_eof_without_the_end_markers_is_a_cut(connect, body, missing):
    server = Server(lambda: httpx.Response(200, content=body))
    response = connect(server).chat("Hi")
    assert response.text == "Half"
    assert isinstance(response.error, StreamCutShort)
    assert missing in str(response.error)
    assert server.calls == 1


def test_a_malformed_chunk_mid_stream_is_a_protocol_error_keeping_earlier_text(connect):
    pieces = events_of(answer("Before"))
    stream = ChunkStream(pieces[:2] + [b'data: {"choices": [{"delta": {"content": "Aft\n\n'] + pieces[2:])
    server = Server(streamed(stream))
    response = connect(server).chat("Hi")
    assert response.text == "Before"
    assert isinstance(response.error, ProtocolError)
    assert "not JSON" in str(response.error)
    assert server.calls == 1
    assert stream.closed


@pytest.mark.parametrize(
    "bad", [{"choices": ["oops"]}, {"choices": [{"delta": "text"}]},
            {"choices": [{"delta": {"audio": "AAAA"}}]}, {"choices": [], "usage": [1, 2]}],
    ids=["choice-not-object", "delta-not-object", "audio-not-object", "usage-not-object"],
)
def test_a_chunk_of_the_wrong_shape_is_a_protocol_error_keeping_earlier_text(connect, bad):
    body = sse(*answer_chunks("Before", finish=None, usage=None), bad)
    response = connect(Server(lambda: httpx.Response(200, content=body))).chat("Hi")
    assert response.text == "Before"
    assert isinstance(response.error, ProtocolError)
    assert "unexpected shape" in str(response.error)


def test_a_read_timeout_mid_stream_says_the_server_stopped_sending(connect):
    stream = ChunkStream(events_of(answer("Hello"))[:2], error=httpx.ReadTimeout("timed out"))
    server = Server(streamed(stream))
    response = connect(server).chat("Hi")
    assert response.text == "Hello"
    assert isinstance(response.error, StreamCutShort)
    assert "stopped sending (read timeout)" in str(response.error)
    assert server.calls == 1


def test_an_error_reported_mid_stream_keeps_earlier_text(connect):
    body = sse(*answer_chunks("Before", finish=None, usage=None),
               {"error": {"message": "Internal error", "code": "InternalError"}})
    response = connect(Server(lambda: httpx.Response(200, content=body))).chat("Hi")
    assert response.text == "Before"
    assert isinstance(response.error, StreamCutShort)
    assert "Internal error" in str(response.error)


# -- the response is always released ---------------------------------------------------------

def test_closed_after_success(connect):
    stream = ChunkStream(events_of(answer("Hello")))
    assert connect(Server(streamed(stream))).chat("Hi").text == "Hello"
    assert stream.closed


def test_closed_after_an_error_status(connect):
    stream = ChunkStream([error_body("invalid_parameter_error", "bad")])
    with pytest.raises(BadRequestError):
        connect(Server(streamed(stream, 400))).chat("Hi")
    assert stream.closed


def test_each_retried_response_is_closed(connect):
    failed = [ChunkStream([error_body("Throttling", "busy")]) for _ in range(2)]
    good = ChunkStream(events_of(answer("Hello")))
    server = Server(streamed(failed[0], 429), streamed(failed[1], 429), streamed(good))
    connect(server).chat("Hi")
    assert [s.closed for s in (*failed, good)] == [True, True, True]


def test_closed_after_a_mid_stream_transport_error(connect):
    stream = ChunkStream(events_of(answer("Hello"))[:2], error=httpx.ReadError("reset"))
    connect(Server(streamed(stream))).chat("Hi")
    assert stream.closed


def test_closed_when_the_consumer_stops_early(connect):
    stream = ChunkStream(events_of(answer("one", "two", "three")))
    events = connect(Server(streamed(stream))).stream("Hi")
    assert isinstance(next(events), Started)
    assert isinstance(next(events), TextDelta)
    assert not stream.closed  # still streaming
    events.close()
    assert stream.closed


def test_closed_when_the_consumer_is_interrupted_mid_answer(connect):
    # e.g. the user interrupts the kernel while the view is drawing an event
    stream = ChunkStream(events_of(answer("one", "two", "three")))
    client = connect(Server(streamed(stream)))
    request = client.prepare("Hi")

    def interrupt(event) -> None:
        if isinstance(event, TextDelta):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        collect(client.send(request), client.new_response(request), on_event=interrupt)
    # IPython keeps the traceback (sys.last_traceback), so garbage collection would not close
    # the stream in time: it must be closed explicitly.
    assert info.traceback and stream.closed


# -- streams are context managers, as httpx's are ------------------------------------------

def test_breaking_out_of_a_with_block_releases_the_connection(connect):
    stream = ChunkStream(events_of(answer("one", "two", "three")))
    with connect(Server(streamed(stream))).stream("Hi") as events:
        for event in events:
            if isinstance(event, TextDelta):
                break
        assert not stream.closed  # as with httpx: the block, not the loop, owns the response
    assert event.text == "one"
    assert stream.closed


def test_an_exception_in_a_with_block_releases_the_connection_and_propagates(connect):
    stream = ChunkStream(events_of(answer("one", "two")))
    with pytest.raises(RuntimeError, match="the reader failed"), \
            connect(Server(streamed(stream))).stream("Hi") as events:
        for event in events:
            if isinstance(event, TextDelta):
                raise RuntimeError("the reader failed")
    assert stream.closed


def test_a_with_block_around_a_stream_that_breaks_releases_it_and_raises_the_cut(connect):
    stream = ChunkStream(events_of(answer("one", "two"))[:2], error=httpx.ReadError("reset"))
    seen = []
    with pytest.raises(StreamCutShort), connect(Server(streamed(stream))).stream("Hi") as events:
        seen.extend(events)
    assert [type(e) for e in seen] == [Started, TextDelta]
    assert stream.closed


def test_a_with_block_that_reads_nothing_sends_nothing(connect):
    server = Server(ok())
    with connect(server).stream("Hi") as events:
        assert isinstance(events, EventStream)
    assert server.calls == 0
    assert list(events) == []  # closed: nothing more is read, nothing is sent


def test_a_stream_still_works_as_a_plain_iterator_and_releases_at_its_end(connect):
    stream = ChunkStream(events_of(answer("Hel", "lo")))
    events = connect(Server(streamed(stream))).stream("Hi")
    assert iter(events) is events
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["Hel", "lo"]
    assert stream.closed
    events.close()  # closing again is harmless
    with pytest.raises(StopIteration):
        next(events)


def test_send_returns_a_stream_that_is_a_context_manager_too(connect):
    stream = ChunkStream(events_of(answer("one", "two")))
    client = connect(Server(streamed(stream)))
    with client.send(client.prepare("Hi")) as events:
        assert isinstance(next(events), Started)
    assert stream.closed


# -- keywords: options, pass-through fields, extra_body, and nothing else -------------------

@pytest.mark.parametrize("method", ["chat", "stream", "prepare"])
def test_an_unknown_keyword_is_refused_by_name_and_nothing_is_sent(connect, method):
    server = Server(ok())
    client = connect(server)
    with pytest.raises(InvalidRequest) as info:
        getattr(client, method)("Hi", temprature=0.2)
    assert str(info.value).startswith(
        f"OmniClient.{method}() got an unexpected keyword argument 'temprature' "
        "(did you mean 'temperature'?); pass extra body fields with extra_body={...}.")
    assert server.calls == 0


def test_several_unknown_keywords_are_all_named(connect):
    with pytest.raises(InvalidRequest, match=r"unexpected keyword arguments 'colour', 'flavour'"):
        connect(Server(ok())).chat("Hi", flavour=1, colour=2)


def test_a_client_setting_passed_to_a_request_says_where_it_belongs(connect):
    with pytest.raises(InvalidRequest, match=r"'region' is set on the client: OmniClient\(region=\.\.\.\)"):
        connect(Server(ok())).chat("Hi", region="cn")


def test_the_documented_sampling_fields_pass_through_into_the_body(connect):
    server = Server(ok())
    fields = {"temperature": 0.2, "top_p": 0.9, "top_k": 20, "seed": 7, "stop": ["\n\n"],
              "presence_penalty": 0.5, "repetition_penalty": 1.05}
    assert fields.keys() <= PASS_THROUGH
    connect(server).chat("Hi", **fields)
    body = json.loads(server.requests[0].content)
    assert {k: body[k] for k in fields} == fields


def test_extra_body_adds_fields_the_client_does_not_know(connect):
    server = Server(ok())
    connect(server).chat("Hi", temperature=0.1, extra_body={"translation_options": {"to": "fr"}})
    body = json.loads(server.requests[0].content)
    assert body["translation_options"] == {"to": "fr"} and body["temperature"] == 0.1
    assert "extra_body" not in body


@pytest.mark.parametrize(
    "extra, message",
    [({"model": "other"}, (r"extra_body cannot set 'model': omni_magic decides it from the "
                           r"options of OmniClient\.chat\(\)")),
     ({"max_tokens": 5, "audio": {}}, r"extra_body cannot set 'audio', 'max_tokens'"),
     ({"messages": []}, r"messages cannot be passed through"),
     ({"stream": False}, r"stream cannot be passed through"),
     ({"seed": 1}, r"'seed' given both as a keyword and in extra_body"),
     (["temperature"], r"extra_body must be a dict")],
    ids=["option", "options", "messages", "stream", "twice", "not-a-dict"],
)
def test_extra_body_cannot_set_what_the_checks_decide(connect, extra, message):
    server = Server(ok())
    with pytest.raises(InvalidRequest, match=message):
        connect(server).chat("Hi", seed=2, extra_body=extra)
    assert server.calls == 0


def test_every_option_of_build_request_is_still_accepted(connect):
    server = Server(ok())
    connect(server).chat("Hi", model="qwen3.5-omni-plus", voice="Ethan", audio=True,
                         thinking=False, effort=None, search=False, hi_res=False,
                         multichannel=False, attachments=(), history=[], system="Be brief.",
                         max_tokens=50, history_media="keep", earlier_media=(), dialect="dashscope",
                         catalog=catalog.default())
    assert server.calls == 1


# -- what is sent, and where -----------------------------------------------------------------

def test_the_request_carries_the_key_and_the_exact_body(connect):
    server = Server(ok())
    connect(server, api_key=KEY, base_url="http://test/v1/").chat("Who are you?", voice="Ethan")
    (request,) = server.requests
    assert request.method == "POST"
    assert str(request.url) == "http://test/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "qwen3.5-omni-plus",
        "messages": [{"role": "user", "content": "Who are you?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text", "audio"],
        "audio": {"voice": "Ethan", "format": "wav"},
    }


def test_no_key_sends_no_authorization(connect):
    server = Server(ok())
    connect(server).chat("Hi")
    assert "Authorization" not in server.requests[0].headers


def test_stream_yields_typed_events_in_order(connect):
    events = list(connect(Server(ok("Hel", "lo"))).stream("Hi"))
    assert events[0] == Started("chatcmpl-1", "qwen3-omni-flash")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert [type(e) for e in events[-2:]] == [Finished, Usage]
    assert events[-1].raw == USAGE


def test_chat_collects_text_and_usage(connect):
    response = connect(Server(ok("Hel", "lo"))).chat("Hi")
    assert (response.text, response.usage, response.finish_reason) == ("Hello", USAGE, "stop")
    assert response.complete and response.error is None
    assert response.model == "qwen3-omni-flash" and response.id == "chatcmpl-1"


# -- the key never shows ---------------------------------------------------------------------

def test_the_key_is_not_in_the_clients_repr_or_masked_headers(connect):
    server = Server(ok())
    client = connect(server, api_key=KEY)
    assert KEY not in repr(client)
    assert KEY not in repr(client.backend)
    assert "api_key=<set>" in repr(client)
    masked = client.headers()
    assert KEY not in json.dumps(masked)
    assert masked["Authorization"] == "Bearer ********"
    client.chat("Hi")
    assert server.requests[-1].headers["Authorization"] == f"Bearer {KEY}"  # what was sent


def client_sent_key(client: OmniClient) -> str:
    """The Authorization header the client sends: one request to a transport that keeps it."""
    seen: list[httpx.Request] = []
    client._http._transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(
        200, content=sse({"choices": [{"delta": {"content": "Hi"}, "finish_reason": "stop"}]})))
    client.chat("Hi", audio=False, dialect="dashscope")
    return seen[-1].headers["Authorization"]


ECHOES = {
    "400": status(400, error_body("invalid_parameter_error", f"bad key {KEY} here")),
    "401": status(401, error_body("invalid_api_key", f"Incorrect API key provided: {KEY}")),
    "404": status(404, error_body("model_not_found", f"no model for {KEY}")),
    "503-non-json": status(503, f"upstream said {KEY}".encode()),
}


@pytest.mark.parametrize("name", ECHOES)
def test_a_key_echoed_in_an_error_answer_is_masked(connect, name):
    with pytest.raises(OmniError) as info:
        connect(Server(ECHOES[name]), api_key=KEY, max_retries=0).chat("Hi")
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)
    assert "********" in str(info.value)


@pytest.mark.parametrize(
    "tail",
    [
        b'data: {"choices": [], "error": {"message": "bad key %s"}}\n\n',
        b'data: {"echo": "%s", broken\n\n',
    ],
    ids=["error-chunk", "malformed-chunk"],
)
def test_a_key_echoed_mid_stream_is_masked(connect, tail):
    body = events_of(answer("Hi"))[:2] + [tail.replace(b"%s", KEY.encode())]
    response = connect(Server(streamed(ChunkStream(body))), api_key=KEY).chat("Hi")
    assert response.text == "Hi"
    assert response.error is not None
    assert KEY not in str(response.error)


def test_the_key_is_not_in_a_connection_error(connect):
    with pytest.raises(ConnectError) as info:
        connect(Server(fail(httpx.ConnectError(f"refused {KEY}"))), api_key=KEY, max_retries=0).chat("Hi")
    assert KEY not in str(info.value)


# -- where requests go -----------------------------------------------------------------------

def test_the_environment_key_selects_dashscope_intl(monkeypatch):
    monkeypatch.setenv(catalog.API_KEY_ENV, KEY)
    with OmniClient() as client:
        assert client.backend.kind == "dashscope"
        assert client.base_url == INTL
        assert client.region == "intl"
        assert client.backend.label == "DashScope Singapore (intl)"
        assert not client.emulated
        assert client_sent_key(client) == f"Bearer {KEY}"


def test_region_cn_selects_beijing():
    with OmniClient(api_key=KEY, region="cn") as client:
        assert client.base_url == CN
        assert client.backend.label == "DashScope Beijing (cn)"


@pytest.mark.parametrize("region, url, name", [("us", US, "US (Virginia)"), ("hk", HK, "Hong Kong"),
                                               ("intl", INTL, "Singapore"), ("cn", CN, "Beijing")])
def test_regions_with_a_shared_domain(region, url, name):
    with OmniClient(api_key=KEY, region=region) as client:
        assert client.backend.kind == "dashscope"
        assert client.base_url == url == REGIONS[region].base_url
        assert client.region == region and client.backend.region_name == name
        assert client.backend.origin == "region"
        assert client.backend.label == f"DashScope {name} ({region})"


@pytest.mark.parametrize("region, name", [("jp", "Tokyo"), ("de", "Frankfurt")])
def test_regions_without_a_shared_domain_need_a_workspace(region, name):
    with pytest.raises(InvalidRequest, match=rf"{name} \({region}\) has workspace endpoints only: "
                                             r"pass --workspace ID"):
        OmniClient(api_key=KEY, region=region)


@pytest.mark.parametrize(
    "region, code",
    [(None, "ap-southeast-1"), ("intl", "ap-southeast-1"), ("cn", "cn-beijing"), ("us", "us-east-1"),
     ("hk", "cn-hongkong"), ("jp", "ap-northeast-1"), ("de", "eu-central-1")],
)
def test_a_workspace_selects_its_endpoint_in_the_region(region, code):
    with OmniClient(api_key=KEY, region=region, workspace="ws-123abc") as client:
        assert client.backend.kind == "dashscope"
        assert client.base_url == f"https://ws-123abc.{code}.maas.aliyuncs.com/compatible-mode/v1"
        assert client.region == (region or "intl")
        assert client.backend.origin == "workspace ws-123abc"
        assert client.backend.label.startswith("DashScope workspace ws-123abc in ")


def test_a_workspace_request_goes_to_the_workspace_endpoint(connect):
    server = Server(ok())
    connect(server, api_key=KEY, region="cn", workspace="ws-9", base_url=None).chat("Hi")
    assert str(server.requests[0].url) == (
        "https://ws-9.cn-beijing.maas.aliyuncs.com/compatible-mode/v1/chat/completions")


@pytest.mark.parametrize("bad", ["ws_1", "ws.1", "-ws", "ws 1", "https://ws1.cn-beijing.maas.aliyuncs.com"])
def test_a_workspace_id_of_the_wrong_shape_is_refused(bad):
    with pytest.raises(InvalidRequest, match="is not a workspace ID"):
        OmniClient(api_key=KEY, workspace=bad)


def test_a_base_url_wins_over_a_workspace_and_a_region():
    with OmniClient(api_key=KEY, base_url=HK, workspace="ws-1", region="cn") as client:
        assert client.base_url == HK


@pytest.mark.parametrize(
    "env, region",
    [(CN, "cn"), (f"{US}/", "us"), (HK, "hk"),
     ("https://ws-5.eu-central-1.maas.aliyuncs.com/compatible-mode/v1", "de")],
)
def test_dashscope_base_url_is_honoured_with_a_key(monkeypatch, env, region):
    monkeypatch.setenv(catalog.BASE_URL_ENV, env)
    with OmniClient(api_key=KEY) as client:
        assert client.backend.kind == "dashscope"
        assert client.base_url == env.rstrip("/")
        assert client.region == region
        assert client.backend.origin == "DASHSCOPE_BASE_URL"
        assert client.backend.label.endswith("(from DASHSCOPE_BASE_URL)")


def test_dashscope_base_url_requests_go_there(connect, monkeypatch):
    monkeypatch.setenv(catalog.BASE_URL_ENV, CN)
    server = Server(ok())
    connect(server, api_key=KEY, base_url=None).chat("Hi")
    assert str(server.requests[0].url) == f"{CN}/chat/completions"


def test_dashscope_base_url_of_an_unknown_host_is_dashscope_without_a_region(monkeypatch):
    monkeypatch.setenv(catalog.BASE_URL_ENV, "https://gateway.example.com/compatible-mode/v1")
    with OmniClient(api_key=KEY) as client:
        assert client.backend.kind == "dashscope"
        assert client.region is None
        assert client.base_url == "https://gateway.example.com/compatible-mode/v1"


@pytest.mark.parametrize("region, url", [("intl", INTL), ("us", US)])
def test_dashscope_base_url_is_ignored_when_a_region_is_given(monkeypatch, region, url):
    monkeypatch.setenv(catalog.BASE_URL_ENV, CN)
    with OmniClient(api_key=KEY, region=region) as client:
        assert client.base_url == url
        assert client.region == region
        assert client.backend.origin == "region"


def test_dashscope_base_url_is_ignored_when_a_workspace_is_given(monkeypatch):
    monkeypatch.setenv(catalog.BASE_URL_ENV, CN)
    with OmniClient(api_key=KEY, workspace="ws-2", region="hk") as client:
        assert client.base_url == "https://ws-2.cn-hongkong.maas.aliyuncs.com/compatible-mode/v1"


def test_dashscope_base_url_without_a_key_leaves_the_emulator(monkeypatch):
    monkeypatch.setenv(catalog.BASE_URL_ENV, CN)
    with OmniClient() as client:
        assert client.backend.kind == "emulator"


def test_a_dashscope_base_url_without_a_scheme_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(catalog.BASE_URL_ENV, "dashscope.aliyuncs.com/compatible-mode/v1")
    with pytest.raises(InvalidRequest, match="DASHSCOPE_BASE_URL.*http://"):
        OmniClient(api_key=KEY)


@pytest.mark.parametrize("url, region", [(US, "us"), (f"{CN}/chat/completions", "cn"),
                                         ("https://ws-3.ap-northeast-1.maas.aliyuncs.com/compatible-mode/v1", "jp")])
def test_a_dashscope_base_url_with_a_key_is_dashscope_in_its_region(url, region):
    with OmniClient(api_key=KEY, base_url=url) as client:
        assert client.backend.kind == "dashscope"
        assert client.region == region
        assert client.backend.origin == "base URL"


def test_an_unknown_region_is_refused():
    with pytest.raises(InvalidRequest, match=r"Unknown region 'xx': use one of intl \(Singapore\), "
                                             r"cn \(Beijing\), us \(US \(Virginia\)\), hk \(Hong Kong\), "
                                             r"jp \(Tokyo\), de \(Frankfurt\)"):
        OmniClient(api_key=KEY, region="xx")


def test_an_unknown_region_is_refused_without_a_key_too():
    with pytest.raises(InvalidRequest, match="Unknown region 'xx'"):
        OmniClient(region="xx")


def test_requests_to_dashscope_go_to_the_region_url(connect):
    server = Server(ok())
    connect(server, api_key=KEY, base_url=None).chat("Hi")
    assert str(server.requests[0].url) == f"{REGIONS['intl'].base_url}/chat/completions"


def test_a_base_url_selects_a_custom_server_that_names_its_models_freely(connect):
    server = Server(ok())
    client = connect(server, base_url="http://localhost:8000/v1")
    assert client.backend.kind == "custom" and not client.emulated
    client.chat("Hi", model="Qwen/Qwen2.5-Omni-7B")
    assert json.loads(server.requests[0].content)["model"] == "Qwen/Qwen2.5-Omni-7B"


def test_dashscope_checks_regions_strictly_and_lets_unknown_models_through_with_a_note(connect):
    server = Server(ok())
    client = connect(server, api_key=KEY, base_url=None)
    with pytest.raises(InvalidRequest, match="--region cn"):
        client.chat("Hi", model="qwen-omni-turbo-0119")
    assert server.calls == 0
    request = client.prepare("Hi", model="Qwen/Qwen2.5-Omni-7B")
    assert ("Qwen/Qwen2.5-Omni-7B is not in omni_magic's catalog: limits and estimates not "
            "checked; the service decides.") in request.notes
    client.chat("Hi", model="Qwen/Qwen2.5-Omni-7B")
    assert server.calls == 1
    assert json.loads(server.requests[0].content)["model"] == "Qwen/Qwen2.5-Omni-7B"


def test_a_self_hosted_server_gets_no_catalog_note(connect):
    client = connect(Server(ok()), base_url="http://localhost:8000/v1")
    assert client.prepare("Hi", model="Qwen/Qwen2.5-Omni-7B").notes == []


def test_neither_key_nor_base_url_selects_the_emulator():
    client = OmniClient()  # the emulator starts only on first use; it is not used here
    try:
        assert client.backend.kind == "emulator"
        assert client.emulated
        assert client.backend.api_key is None
    finally:
        client.close()


@pytest.mark.parametrize(
    "given",
    ["http://test/v1", "http://test/v1/", "http://test/v1/chat/completions",
     "http://test/v1/chat/completions/", "  http://test/v1  "],
)
def test_base_url_normalization(connect, given):
    server = Server(ok())
    client = connect(server, base_url=given)
    assert client.base_url == "http://test/v1"
    client.chat("Hi")
    assert str(server.requests[0].url) == "http://test/v1/chat/completions"


def test_a_base_url_without_a_scheme_is_refused():
    with pytest.raises(InvalidRequest, match="http://"):
        OmniClient(base_url="localhost:8000/v1")


# -- stream() checks before sending ----------------------------------------------------------

@pytest.mark.parametrize(
    "prompt, options",
    [("", {}),
     ("Hi", {"thinking": True}),
     ("Hi", {"model": "qwen3-omni-flash", "thinking": True, "audio": True}),
     ("Hi", {"model": "qwen3-omni-flash-2025-09-15", "voice": "Nobody"}),
     ("Hi", {"model": "qwen3.8-omni-flash", "audio": True}),
     ("Hi", {"model": "qwen3-omni-flash", "search": True}),
     ("Hi", {"max_tokens": 0})],
    ids=["empty", "thinking-on-qwen3.5", "thinking-with-audio", "bad-voice", "speech-on-qwen3.8",
         "search-on-qwen3-flash", "max-tokens-0"],
)
def test_stream_validates_at_call_time_and_sends_nothing(connect, prompt, options):
    server = Server(ok())
    client = connect(server, api_key=KEY, base_url=None)
    with pytest.raises(InvalidRequest):
        client.stream(prompt, **options)  # no iteration needed
    assert server.calls == 0


def test_stream_sends_when_iterated(connect):
    server = Server(ok())
    events = connect(server).stream("Hi")
    assert server.calls == 0
    list(events)
    assert server.calls == 1


@pytest.mark.parametrize("bad", ["sk-abc def", "sk-ключ", "sk-abc\t1"])
def test_a_key_that_cannot_go_into_a_header_is_refused_without_showing_it(monkeypatch, bad):
    monkeypatch.setenv("DASHSCOPE_API_KEY", bad)
    with pytest.raises(InvalidRequest, match="DASHSCOPE_API_KEY") as caught:
        OmniClient()
    assert bad not in str(caught.value)


def test_surrounding_whitespace_in_the_key_is_dropped(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "  sk-clean-key\n")
    client = OmniClient()
    assert client_sent_key(client) == "Bearer sk-clean-key"
    client.close()
