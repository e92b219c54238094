"""Issue 17 item 1: media by URL is fetched and measured like inline media, and every part the
service could not use (unreachable, 404, too big, not a URL, garbage base64, the wrong kind of
bytes) gets the service's 400 naming the part. Media is served from a loopback http.server;
the emulators run ``offline`` so nothing here reaches past loopback."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from omni_magic import tokens
from omni_magic.emulator import Emulator, Pacing
from omni_magic.emulator.__main__ import _parser
from omni_magic.emulator.errors import Rejected
from omni_magic.emulator.fetch import Fetcher

from media import png, served, wav

FLASH = "qwen3-omni-flash"
KEY = "sk-fetch-test-0123456789"
PNG = png(640, 480)
WAV = wav(2.5)
FILES: dict[str, tuple[str, bytes]] = {
    "/cat.png": ("image/png", PNG),
    "/small.png": ("image/png", png(64, 48)),
    "/clip.wav": ("audio/wav", WAV),
    "/notes.txt": ("text/plain", b"just some words, not a picture at all\n" * 4),
    "/big.png": ("image/png", PNG + b"\0" * 5000),
    "/tiny.png": ("image/png", png(5, 5)),
}


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    # /away.png: a redirect off loopback
    with served(FILES, {"/away.png": "http://example.invalid/cat.png"}) as base:
        yield base


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(pacing=Pacing.none(), offline=True) as e:
        yield e


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def ask(client: httpx.Client, emu: Emulator, *parts: dict[str, Any]) -> tuple[int, Any]:
    """POST one user message of ``parts`` and a question: (status, error body or events)."""
    content = [*parts, {"type": "text", "text": "What is this?"}]
    payload = {"model": FLASH, "messages": [{"role": "user", "content": content}],
               "stream": True, "stream_options": {"include_usage": True},
               "modalities": ["text"]}
    r = client.post(f"{emu.base_url}/chat/completions", json=payload)
    if r.status_code != 200:
        return r.status_code, r.json()
    events = [json.loads(line[6:]) for line in r.text.splitlines()
              if line.startswith("data: {")]
    return 200, events


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def text_of(events: list[Any]) -> str:
    return "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])


def usage(events: list[Any]) -> dict[str, Any]:
    return next(e["usage"] for e in events if e.get("usage"))


def test_an_image_by_url_is_fetched_and_counted_like_the_same_image_inline(emu, client, files):
    status, by_url = ask(client, emu, image(f"{files}/cat.png"))
    assert status == 200
    _, inline = ask(client, emu, image(data_url(PNG, "image/png")))
    assert "640x480" in text_of(by_url)
    details = usage(by_url)["prompt_tokens_details"]
    assert details["image_tokens"] == tokens.image_tokens(640, 480, FLASH)
    assert usage(by_url) == usage(inline)


def test_audio_by_url_is_fetched_and_counted(emu, client, files):
    part = {"type": "input_audio", "input_audio": {"data": f"{files}/clip.wav", "format": "wav"}}
    status, events = ask(client, emu, part)
    assert status == 200
    assert "2.5 seconds" in text_of(events)
    assert usage(events)["prompt_tokens_details"]["audio_tokens"] == tokens.audio_tokens(2.5, FLASH)


def test_frames_by_url_are_fetched_and_counted(emu, client, files):
    frames = {"type": "video", "video": [f"{files}/small.png"] * 4}
    status, events = ask(client, emu, frames)
    assert status == 200
    assert "4 frames of 64x48" in text_of(events)
    assert (usage(events)["prompt_tokens_details"]["video_tokens"]
            == tokens.frames_tokens(64, 48, 4, FLASH))


def _refused(status: int, error: Any, where: str, says: str) -> None:
    assert status == 400, error
    assert error["error"]["code"] == "invalid_parameter_error"
    assert where in error["error"]["message"] and says in error["error"]["message"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url, says", [
    ("/missing.png", "HTTP 404"),
    ("/notes.txt", "not an image"),
    ("CLOSED", "cannot reach 127.0.0.1"),
    ("not a url", "does not appear to be valid"),
    ("ftp://127.0.0.1/cat.png", "does not appear to be valid"),
    ("data:image/png;base64,@@@ not base64 @@@", "cannot be decoded"),
    ("http://example.invalid/cat.png", "offline"),
    ("/away.png", "offline"),
])
def test_media_the_service_cannot_use_gets_its_400_naming_the_part(emu, client, files, url, says):
    if url.startswith("/"):
        url = files + url
    elif url == "CLOSED":
        url = f"http://127.0.0.1:{_closed_port()}/cat.png"
    status, error = ask(client, emu, image(data_url(PNG, "image/png")), image(url))
    _refused(status, error, "messages[0].content[1].image_url", says)


def test_text_sent_as_an_inline_image_is_refused(emu, client):
    status, error = ask(client, emu, image(data_url(b"hello, world " * 10, "image/png")))
    _refused(status, error, "messages[0].content[0].image_url", "not an image")


def test_text_sent_as_audio_by_url_is_refused(emu, client, files):
    part = {"type": "input_audio", "input_audio": {"data": f"{files}/notes.txt", "format": "wav"}}
    status, error = ask(client, emu, part)
    _refused(status, error, "messages[0].content[0].input_audio", "not audio")


def test_a_download_over_the_cap_is_refused_without_reading_it_all(files):
    with pytest.raises(Rejected) as info:
        Fetcher(offline=True, max_bytes=len(PNG) + 100).get(f"{files}/big.png", "the part")
    assert info.value.status == 400 and "larger than" in info.value.message
    # The catalog's per-kind cap is the tighter one when it is stated.
    with pytest.raises(Rejected, match="larger than 100 bytes"):
        Fetcher(offline=True).get(f"{files}/cat.png", "the part", cap=100)
    assert Fetcher(offline=True).get(f"{files}/cat.png", "the part") == PNG


def test_a_server_that_never_answers_times_out_as_a_400():
    with socket.socket() as silent:  # accepts the connection, never sends a byte
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/cat.png"
        with pytest.raises(Rejected, match="did not answer in time") as info:
            Fetcher(offline=True, read_timeout=0.3).get(url, "the part")
    assert info.value.status == 400


def test_offline_is_an_option_of_the_emulator_and_its_command_line():
    assert Emulator().offline is False
    assert _parser().parse_args(["--offline"]).offline is True
    assert _parser().parse_args([]).offline is False
    for host in ("127.0.0.1", "localhost", "[::1]"):
        with pytest.raises(Rejected, match="HTTP 404|cannot reach"):
            Fetcher(offline=True, connect_timeout=2).get(f"http://{host}:{_closed_port()}/x", "p")


def test_media_by_url_is_held_to_the_limits_of_the_same_media_inline(emu, client, files):
    status, inline = ask(client, emu, image(data_url(png(5, 5), "image/png")))
    assert status == 400
    status, error = ask(client, emu, image(f"{files}/tiny.png"))
    assert status == 400 and error["error"]["code"] == inline["error"]["code"]
    assert "messages[0].content[0].image_url" in error["error"]["message"]
