"""The doctor (`%omni doctor`, `python -m omni_magic.doctor`): all ✓ on the emulator, the right ✗
line and advice for each injected fault, each deviation of a local server listed as a finding,
and a report that holds the recorded streams but never the key. Loopback only."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from omni_magic.conformance import check_stream
from omni_magic.doctor import DoctorOptions, main, run
from omni_magic.emulator import Emulator, Pacing

from conftest import texts

ROOT = Path(__file__).resolve().parent.parent
CANARY = "sk-canary-5e1d0c9b8a7f6e54"
RUNS = {CANARY[i:i + 8] for i in range(len(CANARY) - 7)}  # any eight of its characters in a row


def leaks(text: str) -> list[str]:
    return sorted(run for run in RUNS if run in text)


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.delenv("DASHSCOPE_BASE_URL", raising=False)


@pytest.fixture(scope="module")
def emulator():
    with Emulator(pacing=Pacing.none()) as server:  # any key; the doctor sends the canary
        yield server


def doctor(base_url: str, **options) -> object:
    """A run against ``base_url`` with the canary key, all on qwen3-omni-flash (it speaks and thinks)."""
    options.setdefault("model", "qwen3-omni-flash")
    return run(DoctorOptions(base_url=base_url, api_key=CANARY, **options))


def lines(result) -> dict[str, str]:
    return {step.name: step.line() for step in result.steps}


# -- the emulator: all ✓ ------------------------------------------------------------------------
def test_every_step_passes_on_the_embedded_emulator_and_the_report_holds_the_streams(tmp_path):
    said: list[str] = []
    result = run(DoctorOptions(emulator_pacing=Pacing.none(), report=str(tmp_path / "doctor.json")),
                 on_step=lambda step: said.append(step.line()), on_budget=said.append)
    assert result.ok and result.findings == [] and result.stopped is None
    assert [s.name for s in result.steps] == ["key", "connect", "models", "text", "speech", "thinking"]
    assert all(s.status == "ok" for s in result.steps), [s.line() for s in result.steps]
    assert said[0].startswith("The doctor sends 3 small request(s)") and "tokens at most" in said[0]
    assert "emulator" in said[1] and "plain http://, no TLS" in said[2]
    assert "finish_reason" in said[4] and "[DONE] ✓" in said[4] and "usage ✓" in said[4]
    assert "each decodes alone" in said[5] and "24,000 Hz" in said[5] and "joined PCM whole" in said[5]
    assert "qwen3.8-omni-flash" in said[6] and "reasoning" in said[6]
    report = json.loads((tmp_path / "doctor.json").read_text())
    assert report["ok"] and {"omni_magic", "python", "httpx", "platform"} <= report["versions"].keys()
    assert [s["step"] for s in report["streams"]] == ["text", "speech", "thinking"]
    speech = report["streams"][1]["lines"]
    assert speech[0]["omni_magic_recording"] == 1 and speech[-1] == {"end": "complete"}
    assert speech[-2]["data"] == "[DONE]"
    assert "base64 characters elided" in json.dumps(speech) and len(json.dumps(report)) < 200_000


def test_the_magic_shows_each_step_then_the_summary_and_the_report(ip, tmp_path):
    with capture_output() as cap:
        ip.run_line_magic("omni", f"doctor --skip-thinking --report {tmp_path / 'doctor.md'}")
    shown = texts(cap)
    assert "✓ text request" in shown and "✓ spoken request" in shown
    assert "– thinking request: skipped (--skip-thinking)" in shown
    assert "All checks passed" in shown and f"Report written to {tmp_path / 'doctor.md'}" in shown
    assert (tmp_path / "doctor.md").read_text().startswith("# omni_magic doctor report")
    with pytest.raises(UsageError, match="unrecognized arguments: --nonsense"):
        ip.run_line_magic("omni", "doctor --nonsense")
    with pytest.raises(UsageError, match="name a .json or .md file"):
        ip.run_line_magic("omni", f"doctor --report {tmp_path / 'doctor.txt'}")


@pytest.mark.slow  # a fresh interpreter, the paced embedded emulator: about 6 s
def test_the_terminal_command_passes_on_the_emulator_and_exits_0(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    done = subprocess.run([sys.executable, "-m", "omni_magic.doctor", "--skip-speech", "--report",
                           str(tmp_path / "doctor.json")], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "embedded emulator answers" in done.stdout and "✓ thinking request" in done.stdout
    assert json.loads((tmp_path / "doctor.json").read_text())["ok"] is True


def test_the_terminal_command_exits_1_when_a_check_fails(emulator, capsys, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    emulator.inject("500")
    code = main(["--base-url", emulator.base_url, "--model", "qwen3-omni-flash"])
    out = capsys.readouterr().out
    assert code == 1 and "✗ text request" in out and "check(s) failed" in out
    assert leaks(out) == []


# -- faults: the right ✗ line and advice --------------------------------------------------------
@pytest.mark.parametrize("spec, says, advice, stops", [
    ("401", "HTTP 401 invalid_api_key", "keys belong to one region", True),
    ("429", "HTTP 429 Throttling", "throttling", True),
    ("500", "HTTP 500", "the server failed", True),
    ("503", "HTTP 503", "the server failed", True),
    ("content_filter", "HTTP 400 data_inspection_failed", "content filter", True),
    ("json_error", "nothing streamed", "not the server's stream", True),
    ("html", "nothing streamed", "not the server's stream", True),
    ("redirect", "nothing streamed", "not the server's stream", True),
    ("json_answer", "not a stream", "attach the report", False),
    ("disconnect:after=3", "StreamCutShort", "ended before it was complete", False),
    ("malformed:after=3", "ProtocolError", "cannot read", False),
    ("wrong_types:after=2", "ProtocolError", "cannot read", False),
])
def test_each_fault_shows_the_text_step_failing_with_advice(emulator, spec, says, advice, stops):
    emulator.faults.clear()
    emulator.inject(spec)
    result = doctor(emulator.base_url)
    text = lines(result)["text"]
    assert text.startswith("✗ text request") and says in text and advice in text, text
    assert not result.ok
    if stops:
        assert result.stopped and lines(result)["speech"].startswith("– spoken request: not run")
    else:
        assert result.stopped is None and lines(result)["speech"].startswith("✓ spoken request")


def test_a_speech_chunk_cut_short_fails_the_spoken_step(emulator):
    emulator.faults.clear()
    emulator.inject("truncated_audio", times=2)  # the text request has no speech to cut
    result = doctor(emulator.base_url, skip_thinking=True)
    speech = lines(result)["speech"]
    assert lines(result)["text"].startswith("✓") and speech.startswith("✗ spoken request"), speech
    assert "not valid base64" in speech or "do not decode" in speech
    assert any(f.kind == "speech" and f.breaks for f in result.findings)


@pytest.mark.parametrize("spec", ["keepalive:after=2,seconds=3", "stall:after=2,seconds=3"])
def test_a_stream_that_goes_quiet_fails_with_the_time_it_waited(emulator, spec):
    emulator.faults.clear()
    emulator.inject(spec)
    result = doctor(emulator.base_url, timeout=0.5, skip_speech=True, skip_thinking=True)
    text = lines(result)["text"]
    assert text.startswith("✗ text request") and "StreamCutShort" in text, text
    assert "run the doctor again" in text
    assert any(f.field == "[DONE]" for f in result.findings)


def test_a_refused_key_on_models_stops_the_run_before_any_request(emulator, monkeypatch):
    with Emulator(pacing=Pacing.none(), api_key="sk-the-only-key-there-is") as strict:
        result = doctor(strict.base_url)
        assert strict.request_count == 0  # no chat request was sent
    assert lines(result)["models"].startswith("✗ GET /models: HTTP 401")
    assert "refused the key" in result.stopped and lines(result)["text"].startswith("– text request: not run")


def test_an_unreachable_host_stops_at_the_connection():
    result = doctor("http://127.0.0.1:9/v1")
    assert lines(result)["connect"].startswith("✗ connection: 127.0.0.1 resolves")
    assert "cannot be reached" in result.stopped and len(result.steps) == 6


# -- a server that deviates: each deviation a finding --------------------------------------------
PCM = (b"\x01\x00" * 2401)  # 2401 samples: each chunk's base64 ends in padding, as the service's


def chunk(delta=None, finish=None, usage=None, choices=True, **extra):
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "qwen3-omni-flash",
            "system_fingerprint": None, "usage": usage, **extra,
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish, "logprobs": None}]
            if choices else []}
    return body


USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
         "prompt_tokens_details": {"text_tokens": 10}, "completion_tokens_details": {"text_tokens": 5}}


def stream(body: dict, deviation: str, key: str) -> list[str]:
    """The chunks of an answer to ``body`` with one deviation from the documented protocol."""
    audio = "audio" in (body.get("modalities") or [])
    thinking = body.get("enable_thinking")
    text = "text" if deviation == "renamed" else "content"
    out = [chunk({"role": "assistant", "content": ""})]
    reasoning = [chunk({"reasoning_content": "Adding."})] if thinking else []
    out += [] if deviation == "reasoning_after" else reasoning
    for word in ("Forty", "-two."):
        out.append(chunk({text: word}, **({"foo": 1} if deviation == "unknown" else {})))
        if audio:
            b64 = base64.b64encode(PCM).decode()
            piece = {"data": b64, "id": "audio_1", "expires_at": 1}
            if deviation == "audio_keys":
                piece = {"b64": b64, "id": "audio_1", "format": "pcm16"}
            out.append(chunk({"audio": piece}))
    out += reasoning if deviation == "reasoning_after" else []
    out.append(chunk({"audio": {"transcript": "Forty-two."}} if audio else {"content": ""}, finish="stop"))
    if deviation != "no_usage":
        usage = dict(USAGE, echoed=key) if deviation == "echo" else USAGE
        if deviation == "echo_b64":
            usage = dict(USAGE, echoed=" ".join(B64_FORMS if key == CANARY else []))
        out.append(chunk(usage=usage, choices=False))
    lines = [json.dumps(c) for c in out]
    return lines if deviation == "no_done" else lines + ["[DONE]"]


class Deviating(BaseHTTPRequestHandler):
    deviation = ""

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = (self.headers.get("Authorization") or "").partition(" ")[2]
        payload = "".join(f"data: {d}\n\n" for d in stream(body, self.server.deviation, key)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def deviating():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Deviating)
    server.deviation = ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def test_the_local_server_as_documented_passes_with_no_finding(deviating):
    deviating.deviation = ""
    result = doctor(url(deviating))
    assert result.ok and result.findings == [], [s.line() for s in result.steps] + [f.line() for f in result.findings]
    assert lines(result)["models"].startswith("– GET /models: not offered (HTTP 404")


ALL = {"text", "speech", "thinking"}


@pytest.mark.parametrize("deviation, kind, field, failing", [
    ("renamed", "unknown_field", "choices[0].delta.text", ALL),  # no request's text can be read
    ("unknown", "unknown_field", "foo", set()),  # a difference, not a failure
    ("no_usage", "missing_field", "usage", set()),
    ("no_done", "end_of_stream", "[DONE]", ALL),  # the client reports every stream cut short
    ("audio_keys", "unknown_field", "choices[0].delta.audio.b64", {"speech"}),
    ("reasoning_after", "order", "choices[0].delta.reasoning_content", set()),
])
def test_each_deviation_is_listed_as_a_finding(deviating, deviation, kind, field, failing):
    deviating.deviation = deviation
    result = doctor(url(deviating))
    found = {(f.kind, f.field) for f in result.findings}
    assert (kind, field) in found, [f.line() for f in result.findings]
    failed = {s.name for s in result.steps if s.status == "failed"}
    assert failed == failing, [s.line() for s in result.steps]
    if deviation == "renamed":
        assert ("missing_field", "choices[0].delta.content") in found
    if deviation == "audio_keys":
        assert {("missing_field", "choices[0].delta.audio.data"),
                ("unknown_field", "choices[0].delta.audio.format")} <= found
    if deviation == "unknown":
        assert next(f for f in result.findings if f.field == "foo").count >= 2  # one finding, counted


def test_conformance_names_wrong_types_and_the_usage_chunk_shape():
    usage = dict(USAGE, total_tokens="15", prompt_tokens_details={"text_tokens": 1, "cached_tokens": 0})
    payloads = [json.dumps(chunk({"content": "Hi"}, created="now")),
                json.dumps(chunk({"content": ""}, finish="stop", usage=usage)), "[DONE]", "{}"]
    found = {(f.kind, f.field): f for f in check_stream(payloads, step="text")}
    assert not found[("wrong_type", "created")].breaks
    assert found[("wrong_type", "usage.total_tokens")].breaks
    assert ("unknown_field", "usage.prompt_tokens_details.cached_tokens") in found
    assert ("order", "choices") in found  # usage rode on a chunk with a choice
    assert "1 payload(s) came after [DONE]" in found[("end_of_stream", "[DONE]")].detail


# -- the key: never in a line or a report ------------------------------------------------------
@pytest.mark.parametrize("suffix", [".json", ".md"])
def test_the_report_and_the_lines_never_hold_the_key_even_when_a_server_echoes_it(deviating, tmp_path,
                                                                                   suffix):
    deviating.deviation = "echo"  # the usage chunk carries the Bearer token back
    said: list[str] = []
    path = tmp_path / f"doctor{suffix}"
    result = run(DoctorOptions(base_url=url(deviating), api_key=CANARY, model="qwen3-omni-flash",
                               report=str(path)), on_step=lambda s: said.append(s.line()))
    assert any(f.field == "usage.echoed" for f in result.findings)  # it did come back
    report = path.read_text()
    assert "usage" in report and "********" in report
    assert leaks(report) == [] and leaks("\n".join(said)) == []
    assert "key set (********, 26 characters, starts like a DashScope key)" in said[0]


def test_an_answer_that_is_not_a_stream_is_one_finding_not_a_list_of_missing_fields(emulator):
    emulator.faults.clear()
    emulator.inject("json_answer")
    result = doctor(emulator.base_url, skip_speech=True, skip_thinking=True)
    assert [(f.kind, f.field) for f in result.findings] == [("end_of_stream", "stream")]
    assert "one JSON document" in lines(result)["text"]


# -- review fixes ------------------------------------------------------------------------------
class Forwarding(BaseHTTPRequestHandler):
    """A minimal HTTP proxy: takes absolute-form requests and forwards them to ``upstream``
    (the emulator), streaming the answer back and closing (HTTP/1.0: read to the end)."""

    upstream = ("127.0.0.1", 0, "")  # host, port, the emulator's path before /v1

    def _forward(self):
        import http.client
        from urllib.parse import urlsplit

        host, port, prefix = self.server.upstream
        self.server.seen.append(self.path)
        path = prefix + urlsplit(self.path).path  # /v1/... under the emulator's prefix
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "proxy-connection", "content-length")}
        upstream = http.client.HTTPConnection(host, port, timeout=30)
        upstream.request(self.command, path, body=body, headers=headers)
        answer = upstream.getresponse()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        while piece := answer.read1(65536):
            self.wfile.write(piece)
            self.wfile.flush()
        upstream.close()

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
              "NO_PROXY", "no_proxy")


def test_behind_a_proxy_the_connection_checks_the_proxy_and_every_step_runs(emulator, monkeypatch):
    from urllib.parse import urlsplit

    parts = urlsplit(emulator.base_url)
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Forwarding)
    proxy.upstream, proxy.seen = (parts.hostname, parts.port, parts.path.removesuffix("/v1")), []
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for name in PROXY_VARS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        emulator.faults.clear()
        result = doctor("http://omni.invalid/v1")
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert result.ok and result.stopped is None, [s.line() for s in result.steps]
    assert f"through the proxy at 127.0.0.1:{proxy.server_address[1]}" in lines(result)["connect"]
    assert all(s.status == "ok" for s in result.steps), [s.line() for s in result.steps]
    assert any(p.startswith("http://omni.invalid/v1/chat/completions") for p in proxy.seen)


def test_no_proxy_sends_the_check_on_the_direct_path(monkeypatch):
    from omni_magic.doctor.probes import proxy_for

    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal.example")
    assert proxy_for("https://dashscope-intl.aliyuncs.com/compatible-mode/v1") == "http://proxy.example:3128"
    assert proxy_for("http://dashscope-intl.aliyuncs.com/v1") is None  # HTTPS_PROXY is for https://
    assert proxy_for("https://llm.internal.example/v1") is None
    assert proxy_for("http://localhost:8000/v1") is None


@pytest.mark.parametrize("spec", ["malformed:after=3", "wrong_types:after=2"])
def test_a_stream_left_on_a_protocol_error_is_not_said_to_end_without_done(emulator, spec):
    emulator.faults.clear()
    emulator.inject(spec)
    result = doctor(emulator.base_url, skip_speech=True, skip_thinking=True)
    text = lines(result)["text"]
    assert text.startswith("✗ text request") and "ProtocolError" in text, text
    assert "[DONE] ✗" not in text and "usage ✗" not in text and "finish_reason None" not in text, text
    fields = {f.field for f in result.findings}
    assert not fields & {"[DONE]", "usage", "choices[0].finish_reason"}, [f.line() for f in result.findings]
    assert any("the stream was not read to its end: " in f.detail for f in result.findings)
    assert any(f.breaks for f in result.findings)  # the chunk that could not be read


def test_the_magic_checks_the_model_and_the_timeouts_the_cells_use(ip, emulator, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    ip.run_line_magic("config", f"OmniMagics.base_url = {emulator.base_url!r}")
    ip.run_line_magic("config", "OmniMagics.model = 'qwen3-omni-flash'")
    ip.run_line_magic("config", "OmniMagics.timeout = 0.5")
    emulator.faults.clear()
    emulator.inject("stall:after=2,seconds=3")
    with capture_output() as cap:
        ip.run_line_magic("omni", "doctor --skip-speech --skip-thinking")
    shown = texts(cap)
    assert "✗ text request: qwen3-omni-flash" in shown and "StreamCutShort" in shown, shown
    ip.run_line_magic("config", "OmniMagics.timeout = 60.0")
    ip.run_line_magic("config", "OmniMagics.first_event_timeout = 0.5")
    emulator.faults.clear()
    emulator.inject("stall:after=0,seconds=3")
    with capture_output() as cap:
        ip.run_line_magic("omni", "doctor --skip-speech --skip-thinking --model qwen3.5-omni-flash")
    shown = texts(cap)
    assert "✗ text request: qwen3.5-omni-flash: ConnectError" in shown, shown  # --model wins
    emulator.faults.clear()


def test_the_connection_tries_each_resolved_address_in_turn(monkeypatch):
    import socket

    from omni_magic.doctor import probes

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    asked = []

    def resolver(host, port, *args, **kwargs):
        asked.append(host)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),  # nothing listens
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(probes.socket, "getaddrinfo", resolver)
    try:
        step = probes.connect_step(f"http://omni.example:{port}/v1")
    finally:
        server.close()
    assert asked == ["omni.example"]
    assert step.status == "ok" and "omni.example → 127.0.0.1" in step.detail, step.line()
    assert "::1" in step.detail and step.facts["address"] == "127.0.0.1"


def test_a_wrong_region_is_a_wrong_option_and_the_lines_say_only_what_is_true(emulator, capsys):
    assert main(["--region", "bogus"]) == 2
    assert "Unknown region 'bogus'" in capsys.readouterr().err
    said: list[str] = []
    result = run(DoctorOptions(base_url=emulator.base_url, api_key=CANARY, model="qwen3-omni-flash",
                               skip_speech=True), on_step=lambda s: said.append(s.line()),
                 on_budget=said.append)
    assert "hidden speech prompt" not in said[0] and "small request(s): text" in said[0]
    assert said[1].count(emulator.base_url) == 1, said[1]
    assert result.ok


def test_throttling_advice_waits_as_long_as_the_server_says(emulator):
    emulator.faults.clear()
    emulator.inject("429:retry_after=30")
    result = doctor(emulator.base_url)
    assert "wait 30 s" in lines(result)["text"] and "a minute" not in lines(result)["text"]


B64_FORMS = [base64.b64encode(form.encode()).decode()
             for form in (CANARY, f"Bearer {CANARY}", f"user:{CANARY}", f":{CANARY}", f"ab{CANARY}")]


def b64_leaks(text: str) -> list[str]:
    return [form for form in B64_FORMS if form[4:-4] in text]


@pytest.mark.parametrize("suffix", [".json", ".md"])
def test_the_report_and_the_lines_never_hold_the_key_in_base64(deviating, tmp_path, suffix):
    deviating.deviation = "echo_b64"  # the usage chunk carries the key's base64 forms back
    said: list[str] = []
    path = tmp_path / f"doctor{suffix}"
    result = run(DoctorOptions(base_url=url(deviating), api_key=CANARY, model="qwen3-omni-flash",
                               report=str(path)), on_step=lambda s: said.append(s.line()))
    assert any(f.field == "usage.echoed" for f in result.findings)  # it did come back
    report = path.read_text()
    assert b64_leaks(report) == [] and leaks(report) == [] and b64_leaks("\n".join(said)) == []
    assert "********" in report
