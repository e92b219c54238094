"""The emulator's fault injection: specs, the header, the queue, the admin endpoints."""

from __future__ import annotations

import base64
import binascii
import json

import httpx
import pytest

from omni_magic.emulator import Emulator, Pacing
from omni_magic.emulator.faults import KINDS, Fault, FaultSpecError

BODY = {"model": "qwen3-omni-flash", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture(scope="module")
def emulator():
    with Emulator(auth=False, pacing=Pacing.none()) as server:
        yield server


@pytest.fixture
def http(emulator):
    emulator.faults.clear()
    with httpx.Client(base_url=emulator.base_url.rsplit("/compatible-mode", 1)[0], timeout=5) as client:
        yield client


def post(http, headers=None):
    return http.post("/compatible-mode/v1/chat/completions", json=BODY, headers=headers or {})


def test_specs_parse_with_their_parameters():
    assert Fault.parse("stall:after=3,seconds=2.5") == Fault("stall", after=3, seconds=2.5)
    assert Fault.parse("429:retry_after=7").headers == {"Retry-After": "7"}
    assert Fault.parse("content_filter").refusal.status == 400
    assert Fault.parse("disconnect").refusal is None
    assert set(KINDS) >= {"disconnect", "malformed", "truncated_audio", "stall", "401", "429", "500", "503"}


@pytest.mark.parametrize("spec, says", [
    ("explode", "Unknown fault 'explode'; use one of: 401, 429"),
    ("stall:wait=3", "Unknown fault parameter 'wait'"),
    ("stall:after=x", "needs a number"),
])
def test_bad_specs_say_what_is_accepted(spec, says):
    with pytest.raises(FaultSpecError, match=says):
        Fault.parse(spec)


def test_the_header_chooses_the_fault_of_one_request(http):
    refused = post(http, {"X-Omni-Fault": "429:retry_after=3"})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3"
    assert refused.json()["error"]["code"] == "Throttling"
    assert post(http).status_code == 200  # the next request is left alone
    bad = post(http, {"X-Omni-Fault": "nonsense"})
    assert bad.status_code == 400 and "X-Omni-Fault: Unknown fault" in bad.json()["error"]["message"]


def test_the_admin_endpoint_queues_faults_for_the_next_requests(http, emulator):
    assert http.post("/_emulator/faults", json={"fault": "503", "times": 2}).json() == {"faults_queued": 2}
    assert [post(http).status_code for _ in range(3)] == [503, 503, 200]
    http.post("/_emulator/faults", json={"fault": "401"})
    assert http.get("/_emulator/stats").json()["faults_queued"] == 1
    assert http.delete("/_emulator/faults").json() == {"faults_queued": 0}
    assert post(http).status_code == 200
    assert http.post("/_emulator/faults", json={"fault": "boom"}).status_code == 400


def test_disconnect_drops_the_connection_mid_stream(http):
    with pytest.raises(httpx.RemoteProtocolError):
        with http.stream("POST", "/compatible-mode/v1/chat/completions", json=BODY,
                         headers={"X-Omni-Fault": "disconnect:after=2"}) as response:
            lines = []
            for line in response.iter_lines():
                lines.append(line)
    assert sum(1 for line in lines if line.startswith("data: ")) == 2


def test_malformed_and_truncated_audio_chunks(http):
    text = post(http, {"X-Omni-Fault": "malformed:after=1"}).text
    assert 'data: {"choices":[{"delta":{"content":"cut her\n' in text and "data: [DONE]" in text
    speech = dict(BODY, modalities=["text", "audio"], audio={"voice": "Cherry", "format": "wav"})
    stream = http.post("/compatible-mode/v1/chat/completions", json=speech,
                       headers={"X-Omni-Fault": "truncated_audio"}).text
    audio = [json.loads(line[6:])["choices"][0]["delta"]["audio"]["data"]
             for line in stream.splitlines()
             if line.startswith("data: {") and '"audio":{"data"' in line]
    broken = []
    for b64 in audio:
        try:
            base64.b64decode(b64, validate=True)
        except binascii.Error:
            broken.append(b64)
    assert len(broken) == 1 and broken[0] == audio[0]  # exactly one, the first at or after 0
