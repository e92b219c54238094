"""The emulator enforces the service's media limits itself (issue 17, item 2): with the client's
checks out of the way (raw bodies sent with httpx), each limit of SPEC §4 is refused at its
edge with the service's 400 naming the part, and the value just inside the edge is served."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from omni_magic.emulator import Emulator, Pacing
from omni_magic.limits import encoded_length

from media import mp4, needs_av, png, wav

FLASH = "qwen3-omni-flash"
PLUS = "qwen3.5-omni-plus"
TURBO = "qwen-omni-turbo"
KEY = "sk-limits-test-0123456789"
CAP = 10 * 1024 * 1024  # the base64 string of one inline item must be under 10 MB


@pytest.fixture(scope="module")
def emu():
    with Emulator(pacing=Pacing.none()) as e:
        yield e


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image(data: bytes) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url(data, "image/png")}}


def audio(data: bytes) -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": {"data": data_url(data, "audio/wav"),
                                                   "format": "wav"}}


def video(data: bytes) -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": data_url(data, "video/mp4")}}


def frames(count: int, width: int = 32, height: int = 32) -> dict[str, Any]:
    frame = data_url(png(width, height), "image/png")
    return {"type": "video", "video": [frame] * count}


def body(model: str, *parts: dict[str, Any]) -> dict[str, Any]:
    content = [*parts, {"type": "text", "text": "What is this?"}]
    return {"model": model, "messages": [{"role": "user", "content": content}],
            "stream": True, "modalities": ["text"]}


def served(client: httpx.Client, emu: Emulator, payload: dict[str, Any]) -> None:
    r = client.post(f"{emu.base_url}/chat/completions", json=payload)
    assert r.status_code == 200, r.text[:500]
    assert r.text.rstrip().endswith("data: [DONE]")


def refused(client: httpx.Client, emu: Emulator, payload: dict[str, Any]) -> str:
    r = client.post(f"{emu.base_url}/chat/completions", json=payload)
    assert r.status_code == 400, r.text[:500]
    error = r.json()["error"]
    assert error["code"] == "invalid_parameter_error"
    assert error["type"] == "invalid_request_error"
    assert r.headers.get("X-Request-Id")
    return str(error["message"])


# -- images: width and height over 10 px, aspect ratio at most 200:1 -----------------------
@pytest.mark.parametrize("model", [PLUS, FLASH, TURBO])
def test_an_image_of_10_px_is_refused_and_11_px_served(client, emu, model):
    message = refused(client, emu, body(model, image(png(10, 10))))
    assert "messages[0].content[0].image_url is 10x10 px" in message
    assert "over 10 px" in message
    served(client, emu, body(model, image(png(11, 11))))


def test_one_short_side_is_enough_to_refuse(client, emu):
    message = refused(client, emu, body(PLUS, image(png(64, 10))))
    assert "messages[0].content[0].image_url is 10 px tall" in message


def test_an_image_over_200_to_1_is_refused_and_200_to_1_served(client, emu):
    message = refused(client, emu, body(FLASH, image(png(2201, 11))))
    assert "messages[0].content[0].image_url is 2201x11 px" in message
    assert "at most 200:1" in message
    served(client, emu, body(FLASH, image(png(2200, 11))))


def test_the_part_is_named_in_a_later_message_and_position(client, emu):
    payload = body(PLUS, {"type": "text", "text": "First"}, image(png(40, 40)), image(png(40, 5)))
    payload["messages"].insert(0, {"role": "system", "content": "Be brief."})
    message = refused(client, emu, payload)
    assert message.startswith("messages[1].content[2].image_url is 5 px tall")


# -- frames: 2-2048 (Qwen3.5/3.8), 2-128 (Qwen3-Omni-Flash), 4-80 (Turbo) -------------------
@pytest.mark.parametrize("model, low, high", [(FLASH, 2, 128), (TURBO, 4, 80), (PLUS, 2, 2048)])
def test_a_frame_list_is_refused_outside_its_range_and_served_at_its_ends(client, emu, model,
                                                                           low, high):
    message = refused(client, emu, body(model, frames(low - 1)))
    assert message.startswith(f"messages[0].content[0].video: {low - 1} frame")
    assert f"takes {low} to {high} images as a video" in message
    served(client, emu, body(model, frames(low)))
    if high <= 128:  # 2,049 frames make a 2,049-image body: the smaller families prove the top
        message = refused(client, emu, body(model, frames(high + 1, 12, 12)))
        assert f"{high + 1} frames given" in message
        served(client, emu, body(model, frames(high, 12, 12)))


def test_a_frame_too_small_is_refused_by_its_index(client, emu):
    part = frames(3)
    part["video"][1] = data_url(png(8, 32), "image/png")
    message = refused(client, emu, body(FLASH, part))
    assert message.startswith("messages[0].content[0].video[1] is 8 px wide")


# -- audio: Turbo 3 min, Qwen3-Omni-Flash 20 min -------------------------------------------
def test_audio_over_3_minutes_is_refused_for_turbo_and_3_minutes_served(client, emu):
    message = refused(client, emu, body(TURBO, audio(wav(180.5))))
    assert "messages[0].content[0].input_audio lasts 180.5 s" in message
    assert "up to 180 s (3 min)" in message
    served(client, emu, body(TURBO, audio(wav(180.0))))


def test_audio_over_20_minutes_is_refused_for_flash_and_20_minutes_served(client, emu):
    # 1 kHz keeps 20 minutes under the base64 cap, so the duration is what is judged.
    message = refused(client, emu, body(FLASH, audio(wav(1201.0, rate=1000))))
    assert "lasts 1201.0 s" in message and "up to 1200 s (20 min)" in message
    served(client, emu, body(FLASH, audio(wav(1200.0, rate=1000))))
    served(client, emu, body(PLUS, audio(wav(1201.0, rate=1000))))  # Qwen3.5-Omni: 3 h


# -- the base64 cap: the encoded string of one item under 10 MB ------------------------------
def _padded_png(nbytes: int) -> bytes:
    """A readable 64x48 PNG of exactly ``nbytes``: bytes after IEND are ignored by readers."""
    data = png(64, 48)
    return data + b"\0" * (nbytes - len(data))


def test_an_inline_item_at_the_base64_cap_is_refused_and_just_under_served(client, emu):
    under = CAP * 3 // 4 - 3  # the most bytes whose base64 string is under 10 MB
    assert encoded_length(under) < CAP <= encoded_length(under + 1)
    message = refused(client, emu, body(PLUS, image(_padded_png(under + 1))))
    assert message.startswith("messages[0].content[0].image_url is 7.5 MB, 10 MB")
    assert "under 10 MB per item" in message
    served(client, emu, body(PLUS, image(_padded_png(under))))


# -- video files: Qwen3-Omni-Flash 150 s, Turbo 40 s ----------------------------------------
@needs_av
@pytest.mark.parametrize("model, limit", [(FLASH, 150), (TURBO, 40)])
def test_a_video_over_its_length_is_refused_and_at_its_length_served(client, emu, model, limit):
    message = refused(client, emu, body(model, video(mp4(limit + 1, fps=1, width=32, height=32,
                                                         with_audio=False))))
    assert f"messages[0].content[0].video_url lasts {limit + 1}.0 s" in message
    assert f"video files up to {limit} s" in message
    served(client, emu, body(model, video(mp4(limit, fps=1, width=32, height=32,
                                              with_audio=False))))


# -- what is served: within limits, unconfirmed limits, the other dialect, by URL -----------
def test_a_body_within_every_limit_is_served(client, emu):
    served(client, emu, body(PLUS, image(png(64, 48)), audio(wav(2.0)), frames(4)))


def test_a_frame_list_by_url_is_judged_by_its_length_before_any_fetch(client, emu):
    # The length of a frame list is known without reading a frame: refused before the server
    # tries the (unreachable) URL.
    listed = {"type": "video", "video": ["https://example.invalid/f.png"]}
    message = refused(client, emu, body(PLUS, listed))
    assert message.startswith("messages[0].content[0].video: 1 frame given")


def test_an_unconfirmed_limit_is_accepted_and_noted_in_the_log(client, tmp_path: Path, caplog):
    unconfirmed = {"families": {"qwen3-omni-flash": {"limits": {"confirmed": False}}}}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(unconfirmed))
    from omni_magic.catalog import load_catalog

    with Emulator(pacing=Pacing.none(), catalog=load_catalog(path)) as e, \
            caplog.at_level(logging.INFO, logger="omni_magic.emulator"):
        served(client, e, body(FLASH, image(png(10, 10))))
    notes = [r.getMessage() for r in caplog.records if r.name == "omni_magic.emulator"]
    assert any("messages[0].content[0].image_url is 10x10 px" in n and "not confirmed" in n
               for n in notes), notes


def test_the_vllm_omni_dialect_has_no_such_limits(client):
    with Emulator(pacing=Pacing.none(), dialect="vllm-omni") as e:
        served(client, e, body(FLASH, image(png(10, 10))))
