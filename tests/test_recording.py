"""Record a call's raw stream, replay it with no network, and serve it from the emulator."""

from __future__ import annotations

import json
import math

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from omni_magic import ContentFilterError, InvalidRequest, OmniClient, OmniResponse, StreamCutShort
from omni_magic.body import EncodedBody
from omni_magic.emulator import Emulator, Pacing
from omni_magic.recording import Recording, Recordings, fingerprint
from omni_magic.response import collect

CANARY = "sk-canary-recording-0123456789"


@pytest.fixture(scope="module")
def emulator():
    with Emulator(auth=False, pacing=Pacing.none()) as server:
        yield server


def record(emulator, path, prompt="Say hello", **options):
    with OmniClient(base_url=emulator.base_url) as client:
        request = client.prepare(prompt, **options)
        return collect(client.send(request, record=path), client.new_response(request)), request


def replay(path, speed=math.inf):
    return collect(Recording.load(path).events(speed), OmniResponse("replay"))


def same_answer(a, b):
    assert a.text == b.text and a.reasoning == b.reasoning
    assert a.audio.tobytes() == b.audio.tobytes()
    assert a.usage == b.usage and a.finish_reason == b.finish_reason and a.id == b.id


def test_a_replay_gives_the_recorded_answer_sample_for_sample(emulator, tmp_path):
    original, request = record(emulator, tmp_path / "hello.jsonl", audio=True)
    recording = Recording.load(tmp_path / "hello.jsonl")
    lines = (tmp_path / "hello.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["omni_magic_recording"] == 1 and lines[-1] == '{"end":"complete"}'
    assert recording.payloads[-1][1] == "[DONE]"  # the raw stream, [DONE] included
    assert recording.fingerprint == fingerprint(EncodedBody(request.body).to_bytes())
    assert original.audio_seconds > 1
    same_answer(replay(tmp_path / "hello.jsonl"), original)


def test_a_folder_target_names_the_file_by_the_request(emulator, tmp_path):
    record(emulator, f"{tmp_path}/", audio=False)
    (found,) = tmp_path.glob("*.jsonl")
    assert Recording.load(found).fingerprint.startswith(found.stem)


def test_replay_keeps_the_recorded_pace_divided_by_the_speed(emulator, tmp_path):
    record(emulator, tmp_path / "r.jsonl", audio=False)
    recording = Recording.load(tmp_path / "r.jsonl")
    recording.payloads = [(0.5, data) for _, data in recording.payloads[:-1]] + \
        [(2.0, recording.payloads[-1][1])]
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    list(recording.events(2.0, sleep=sleep, clock=lambda: now[0]))
    assert slept == [0.25, 0.75]  # to 0.5/2, then from there to 2.0/2
    slept.clear()
    list(recording.events(math.inf, sleep=sleep, clock=lambda: now[0]))
    assert slept == []
    with pytest.raises(InvalidRequest, match="above 0"):
        list(recording.events(0))


def test_a_stream_cut_short_replays_as_partial_as_it_was(emulator, tmp_path):
    emulator.inject("disconnect:after=6")
    original, _ = record(emulator, tmp_path / "cut.jsonl", audio=False)
    assert isinstance(original.error, StreamCutShort) and original.text
    again = replay(tmp_path / "cut.jsonl")
    assert again.text == original.text and isinstance(again.error, StreamCutShort)
    assert "recording ends where the original stream stopped" in str(again.error)
    assert (tmp_path / "cut.jsonl").read_text().splitlines()[-1].startswith('{"end":"error"')


def test_a_refused_request_leaves_no_recording(emulator, tmp_path):
    emulator.inject("content_filter")
    with OmniClient(base_url=emulator.base_url, max_retries=0) as client:
        with pytest.raises(ContentFilterError):
            list(client.send(client.prepare("Hi", audio=False), record=tmp_path / "no.jsonl"))
    assert not (tmp_path / "no.jsonl").exists()


def test_the_key_never_reaches_a_recording(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    with OmniClient(base_url=emulator.base_url) as client:
        before = emulator.authorized_count
        request = client.prepare("Repeat after me", audio=True)
        collect(client.send(request, record=tmp_path / "k.jsonl"), client.new_response(request))
        assert emulator.authorized_count == before + 1
    assert CANARY not in (tmp_path / "k.jsonl").read_text()
    assert "Authorization" not in (tmp_path / "k.jsonl").read_text()


def test_damaged_or_foreign_files_are_refused_with_the_reason(tmp_path):
    with pytest.raises(InvalidRequest, match="No recording"):
        Recording.load(tmp_path / "absent.jsonl")
    (tmp_path / "other.jsonl").write_text('{"hello": 1}\n')
    with pytest.raises(InvalidRequest, match="not an omni_magic recording"):
        Recording.load(tmp_path / "other.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"omni_magic_recording": 1}\n{"t": 0.1, "da\n')
    with pytest.raises(InvalidRequest, match="Line 2"):
        Recording.load(tmp_path / "bad.jsonl")


def test_the_emulator_serves_a_recording_to_the_request_that_made_it(emulator, tmp_path):
    original, _ = record(emulator, tmp_path / "one.jsonl", prompt="Tell me about the garden", audio=True)
    with Emulator(auth=False, pacing=Pacing.none(), recordings=tmp_path, replay_speed=math.inf) as server, \
            OmniClient(base_url=server.base_url) as client:
        served = client.chat("Tell me about the garden", audio=True)
        assert server.replayed_count == 1
        same_answer(served, original)
        other = client.chat("Something never recorded", audio=False)
        assert server.replayed_count == 1 and "Something never recorded" in other.text
    assert len(Recordings.load(tmp_path)) == 1
    with pytest.raises(InvalidRequest, match="No recordings"):
        Recordings.load(tmp_path / "nowhere")


# -- the magic -------------------------------------------------------------------------------
def run(shell, line, cell):
    with capture_output() as cap:
        shell.run_cell_magic("omni", line, cell)
    return cap


def test_magic_records_then_replays_into_the_same_result(ip, tmp_path):
    run(ip, f"--record {tmp_path}/a.jsonl -o a --new", "Say hello")
    cap = run(ip, f"--replay {tmp_path}/a.jsonl --speed max -o b --new", "Say hello")
    a, b = ip.user_ns["a"], ip.user_ns["b"]
    same_answer(a, b)
    outputs = cap.stdout + "".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "replay of a.jsonl" in outputs and "different request" not in outputs
    assert b.estimate.total == a.estimate.total  # estimated from the cell, as before a live call


def test_magic_says_when_a_recording_was_made_for_another_request(ip, tmp_path):
    run(ip, f"--record {tmp_path}/a.jsonl --new", "Say hello")
    cap = run(ip, f"--replay {tmp_path}/a.jsonl --speed max --new -o c", "Say goodbye")
    outputs = "".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "recorded for a different request" in outputs
    assert "Say hello" in ip.user_ns["c"].text  # it replays what was recorded


def test_record_to_records_every_call_into_a_folder(ip, tmp_path):
    ip.run_line_magic("config", f"OmniMagics.record_to = '{tmp_path}'")
    run(ip, "--new --text-only", "One")
    run(ip, "--text-only", "Two")
    assert len(list(tmp_path.glob("*.jsonl"))) == 2


@pytest.mark.parametrize("line, says", [
    ("--replay a.jsonl --record b.jsonl", "one or the other"),
    ("--speed 2", "add --replay"),
    ("--replay {tmp}/a.jsonl --speed 0", "above 0"),
    ("--replay {tmp}/a.jsonl --speed fast", "above 0"),
])
def test_magic_refuses_record_and_replay_mistakes(ip, tmp_path, line, says):
    run(ip, f"--record {tmp_path}/a.jsonl --text-only", "Hi")
    with pytest.raises(UsageError, match=says):
        ip.run_cell_magic("omni", line.format(tmp=tmp_path), "Hi")


def test_replay_sends_nothing(ip, tmp_path):
    run(ip, f"--record {tmp_path}/a.jsonl --text-only --new", "Hi")
    emulator = ip.magics_manager.registry["OmniMagics"]._client._emulator
    before = emulator.request_count
    run(ip, f"--replay {tmp_path}/a.jsonl --speed max --text-only --new", "Hi")
    assert emulator.request_count == before


def test_a_stream_stopped_by_its_reader_is_recorded_as_interrupted(emulator, tmp_path):
    with OmniClient(base_url=emulator.base_url) as client:
        events = client.send(client.prepare("Say hello", audio=False), record=tmp_path / "i.jsonl")
        for _ in zip(range(4), events):
            pass
        events.close()  # what the magic does on Ctrl-C
    recording = Recording.load(tmp_path / "i.jsonl")
    assert recording.end["end"] == "interrupted" and 0 < len(recording.payloads) < 10
    assert isinstance(replay(tmp_path / "i.jsonl").error, StreamCutShort)
