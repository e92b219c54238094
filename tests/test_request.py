"""build_request: every rule of the service is enforced before a byte is sent, and the body
is shaped the way the service's documentation shows it."""

from __future__ import annotations

import base64

import pytest

from omni_magic import catalog
import media
from omni_magic.attachments import Attachment
from omni_magic import tokens
from omni_magic.body import to_json
from omni_magic.errors import InvalidRequest
from omni_magic.request import build_request, elide_media

FLASH = "qwen3-omni-flash"
TURBO = "qwen-omni-turbo"
OPEN = "qwen2.5-omni-7b"

IMAGE = Attachment("image", "https://example.com/cat.png")
IMAGE2 = Attachment("image", "https://example.com/dog.jpg")
AUDIO = Attachment("audio", "https://example.com/clip.mp3")
AUDIO2 = Attachment("audio", "https://example.com/other.wav")
VIDEO = Attachment("video", "https://example.com/movie.mp4")
FRAMES = Attachment("frames", [f"https://example.com/f{i}.jpg" for i in range(4)])


def refused(match: str, prompt: str = "Hello", **options) -> InvalidRequest:
    """Assert the request is refused with a message containing ``match`` (a regex)."""
    with pytest.raises(InvalidRequest, match=match) as info:
        build_request(prompt, **options)
    return info.value


# -- models and regions ----------------------------------------------------------------------

def test_unknown_model_is_refused_with_the_known_models_listed():
    error = refused(r"Unknown model 'gpt-4o'", model="gpt-4o")
    for model_id in catalog.MODELS:
        assert model_id in str(error)
    assert "--base-url" in str(error)


def test_unknown_model_passes_through_when_allowed():
    request = build_request("Hi", model=" my-local-omni ", allow_unknown_model=True)
    assert request.body["model"] == "my-local-omni"
    assert request.body["audio"] == {"voice": "Cherry", "format": "wav"}


@pytest.mark.parametrize(
    "name, model_id",
    [
        ("qwen3-omni-flash-0915", "qwen3-omni-flash-2025-09-15"),
        ("qwen-omni-turbo-0326", "qwen-omni-turbo-2025-03-26"),
        ("qwen-omni-turbo-0119", "qwen-omni-turbo-2025-01-19"),
        ("Qwen3-Omni-Flash", "qwen3-omni-flash"),
    ],
)
def test_aliases_and_case_resolve_to_the_model_id(name, model_id):
    request = build_request("Hi", model=name, region="cn")
    assert request.body["model"] == request.model == model_id


def test_a_cn_only_model_is_refused_in_the_intl_region():
    refused(r"--region cn", model="qwen-omni-turbo-2025-01-19", region="intl")


def test_a_cn_only_model_is_accepted_in_its_region_and_when_no_region_is_checked():
    for region in ("cn", None):
        assert build_request("Hi", model="qwen-omni-turbo-0119", region=region).body["model"] == (
            "qwen-omni-turbo-2025-01-19"
        )


# -- thinking --------------------------------------------------------------------------------

def test_thinking_on_turbo_is_refused():
    refused(r"-m qwen3-omni-flash", model=TURBO, thinking=True, audio=False)


def test_thinking_with_an_explicit_voice_is_refused():
    refused(r"Drop -v/--voice", thinking=True, voice="Ethan")


def test_thinking_with_audio_is_refused():
    refused(r"audio=False \(--text-only", thinking=True)


def test_thinking_without_audio_asks_for_text_only():
    request = build_request("Think about it", thinking=True, audio=False)
    body = request.body
    assert body["enable_thinking"] is True
    assert body["modalities"] == ["text"]
    assert "audio" not in body
    assert request.voice is None and request.thinking is True


def test_no_thinking_sends_no_thinking_flag():
    assert "enable_thinking" not in build_request("Hi").body


# -- voices ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "model, voice",
    [(TURBO, "Serena"), (TURBO, "Chelsie"), (FLASH, "Dylan"), (FLASH, "Ethan"), (OPEN, "Ethan"),
     (OPEN, "Chelsie")],
)
def test_a_voice_of_the_models_family_is_accepted(model, voice):
    assert build_request("Hi", model=model, voice=voice).body["audio"] == {"voice": voice, "format": "wav"}


@pytest.mark.parametrize(
    "model, voice", [(FLASH, "Serena"), (FLASH, "Chelsie"), (OPEN, "Cherry"), (TURBO, "Dylan")]
)
def test_a_voice_of_another_family_is_refused_with_the_models_voices(model, voice):
    model_id = catalog.get_model(model).id
    error = refused(rf"Voice '{voice}' is not available for {model_id}", model=model, voice=voice)
    for available in catalog.voices_for(model):
        assert available in str(error)
    assert f"%omni voices {model_id}" in str(error)


@pytest.mark.parametrize("model, voice", [(FLASH, "Cherry"), (TURBO, "Cherry"), (OPEN, "Ethan")])
def test_the_default_voice(model, voice):
    request = build_request("Hi", model=model)
    assert request.voice == voice
    assert request.body["audio"]["voice"] == voice


@pytest.mark.parametrize("given, normalized", [("serena", "Serena"), ("CHELSIE", "Chelsie")])
def test_a_voice_matches_case_insensitively_and_is_sent_normalized(given, normalized):
    request = build_request("Hi", model=TURBO, voice=given)
    assert request.body["audio"]["voice"] == request.voice == normalized


def test_text_only_sends_no_audio_field():
    body = build_request("Hi", audio=False).body
    assert body["modalities"] == ["text"]
    assert "audio" not in body


# -- system messages -------------------------------------------------------------------------

def test_turbo_refuses_a_system_message_when_it_speaks():
    refused(r"--text-only", model=TURBO, system="Be brief.")


@pytest.mark.parametrize("model, audio", [(TURBO, False), (FLASH, True), (FLASH, False)])
def test_system_message_accepted_otherwise_and_sent_first(model, audio):
    messages = build_request("Hi", model=model, audio=audio, system="Be brief.").body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[-1] == {"role": "user", "content": "Hi"}


# -- one non-text modality per message -------------------------------------------------------

@pytest.mark.parametrize(
    "attachments, match",
    [
        ([IMAGE, AUDIO], r"audio and image.*separate cells"),
        ([AUDIO, VIDEO], r"audio and video"),
        ([IMAGE, FRAMES], r"image and video"),
        ([AUDIO, AUDIO2], r"Only one audio file"),
        ([VIDEO, VIDEO], r"Only one video file"),
        ([VIDEO, FRAMES], r"either one video file or one list of frames"),
        ([FRAMES, FRAMES], r"either one video file or one list of frames"),
    ],
    ids=["image+audio", "audio+video", "image+frames", "two-audio", "two-video", "video+frames",
         "two-frames"],
)
def test_one_non_text_modality_per_message(attachments, match):
    refused(match, attachments=attachments)


@pytest.mark.parametrize(
    "attachments", [[IMAGE, IMAGE2], [AUDIO], [VIDEO], [FRAMES]], ids=["two-images", "audio", "video", "frames"]
)
def test_allowed_attachment_combinations(attachments):
    content = build_request("Describe", attachments=attachments).body["messages"][-1]["content"]
    assert len(content) == len(attachments) + 1


def test_user_content_is_media_parts_then_the_text_part():
    content = build_request("What is this?", attachments=[IMAGE, IMAGE2]).body["messages"][-1]["content"]
    assert content == [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg"}},
        {"type": "text", "text": "What is this?"},
    ]


@pytest.mark.parametrize(
    "attachment, part",
    [
        (AUDIO, {"type": "input_audio", "input_audio": {"data": "https://example.com/clip.mp3", "format": "mp3"}}),
        (VIDEO, {"type": "video_url", "video_url": {"url": "https://example.com/movie.mp4"}}),
        (FRAMES, {"type": "video", "video": [f"https://example.com/f{i}.jpg" for i in range(4)]}),
    ],
    ids=["audio", "video", "frames"],
)
def test_each_media_part_has_the_documented_shape(attachment, part):
    content = build_request("Describe", attachments=[attachment]).body["messages"][-1]["content"]
    assert content == [part, {"type": "text", "text": "Describe"}]


def test_text_only_user_content_is_a_plain_string():
    assert build_request("Who are you?").body["messages"] == [{"role": "user", "content": "Who are you?"}]


# -- local files become data URLs -------------------------------------------------------------

@pytest.mark.parametrize(
    "kind, filename, make, prefix",
    [("image", "cat.png", media.png, "data:image/png;base64,"),
     ("image", "cat.jpg", media.jpeg, "data:image/jpeg;base64,"),
     ("audio", "clip.wav", media.wav, "data:;base64,"),
     ("video", "movie.mp4", lambda: media.mp4(seconds=1.0), "data:;base64,")],
)
def test_a_local_file_becomes_a_data_url_on_the_wire(tmp_path, kind, filename, make, prefix):
    payload = make()
    path = tmp_path / filename
    path.write_bytes(payload)
    sent = to_json(build_request("Look", attachments=[Attachment(kind, str(path))]).body)
    part = sent["messages"][-1]["content"][0]
    url = part.get("image_url", {}).get("url") or part.get("input_audio", {}).get("data") or part["video_url"]["url"]
    assert url.startswith(prefix)
    assert base64.b64decode(url[len(prefix):]) == payload
    if kind == "audio":
        assert part["input_audio"]["format"] == "wav"


def test_a_missing_local_file_is_refused(tmp_path):
    refused(r"no such file", attachments=[Attachment("image", str(tmp_path / "nope.png"))])


# -- history ---------------------------------------------------------------------------------

def test_history_goes_between_system_and_the_new_message():
    history = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                                     {"type": "text", "text": "What is it?"}]},
        {"role": "assistant", "content": "A cat."},
    ]
    messages = build_request("And now?", history=history, system="Be brief.").body["messages"]
    assert messages == [{"role": "system", "content": "Be brief."}, *history,
                        {"role": "user", "content": "And now?"}]


def test_history_assistant_message_with_an_image_is_refused():
    history = [{"role": "assistant", "content": [
        {"type": "text", "text": "Here"},
        {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
    ]}]
    refused(r"Assistant messages in the history must be text only", history=history)


def test_history_user_message_with_two_modalities_is_refused():
    history = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
        {"type": "input_audio", "input_audio": {"data": "https://x/a.mp3", "format": "mp3"}},
        {"type": "text", "text": "Hm?"},
    ]}]
    refused(r"more than one kind of media", history=history)


def test_history_with_an_unknown_role_is_refused():
    refused(r"not 'tool'", history=[{"role": "tool", "content": "x"}])


# -- max tokens and the prompt ---------------------------------------------------------------

@pytest.mark.parametrize("max_tokens", [0, -5])
def test_max_tokens_must_be_positive(max_tokens):
    refused(r"must be a positive number", max_tokens=max_tokens)


@pytest.mark.parametrize("model, limit", [(FLASH, 16_384), (TURBO, 2_048)])
def test_max_tokens_above_the_models_output_limit_is_refused(model, limit):
    refused(rf"output limit of {limit}", model=model, max_tokens=limit + 1)
    assert build_request("Hi", model=model, max_tokens=limit).body["max_tokens"] == limit


@pytest.mark.parametrize("prompt", ["", "   \n\t"])
def test_an_empty_prompt_is_refused(prompt):
    refused(r"write it in the cell body", prompt=prompt)


# -- the body --------------------------------------------------------------------------------

def test_the_body_of_a_plain_spoken_request():
    assert build_request("Who are you?").body == {
        "model": "qwen3-omni-flash",
        "messages": [{"role": "user", "content": "Who are you?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text", "audio"],
        "audio": {"voice": "Cherry", "format": "wav"},
    }


def test_extra_fields_pass_through():
    body = build_request("Hi", temperature=0.2, seed=7, top_p=0.9).body
    assert body["temperature"] == 0.2 and body["seed"] == 7 and body["top_p"] == 0.9


@pytest.mark.parametrize("field", ["stream", "stream_options", "modalities", "enable_thinking", "messages"])
def test_checked_fields_cannot_be_smuggled_in_as_extras(field):
    with pytest.raises(InvalidRequest, match="cannot be passed through"):
        build_request("Hi", **{field: True})


def test_a_system_message_in_the_history_counts_for_the_turbo_rule():
    history = [{"role": "system", "content": "Be brief."}]
    with pytest.raises(InvalidRequest, match="system message"):
        build_request("Hi", model="qwen-omni-turbo", history=history)
    assert build_request("Hi", model="qwen-omni-turbo", history=history, audio=False).body


def test_history_user_message_with_two_audio_files_is_refused():
    part = {"type": "input_audio", "input_audio": {"data": "https://x/a.wav", "format": "wav"}}
    history = [{"role": "user", "content": [part, part, {"type": "text", "text": "?"}]}]
    with pytest.raises(InvalidRequest, match="at most one"):
        build_request("Hi", history=history)


def test_the_estimate_counts_the_prompt_text():
    short = build_request("Hi").estimate.total
    long = build_request("Hi " * 200).estimate.total
    assert 0 < short < long


# -- elide_media -----------------------------------------------------------------------------

def test_elide_media_shortens_data_urls_and_leaves_the_rest(tmp_path):
    path = tmp_path / "cat.png"
    path.write_bytes(media.png(400, 300))
    body = build_request("Look", attachments=[Attachment("image", str(path)), IMAGE]).body
    shown = elide_media(body)
    url = shown["messages"][-1]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert len(url) < 100 and "bytes of cat.png" in url
    assert shown["messages"][-1]["content"][1] == body["messages"][-1]["content"][1]  # a URL stays
    assert shown["messages"][-1]["content"][2] == {"type": "text", "text": "Look"}
    # The body that is sent is untouched.
    assert len(to_json(body)["messages"][-1]["content"][0]["image_url"]["url"]) > 1000


def test_an_estimate_over_the_input_limit_warns_but_does_not_refuse():
    big = media.png(2000, 2000)  # scaled to 1120x1120: 1,227 tokens each on qwen3-omni-flash
    images = [Attachment("image", big) for _ in range(14)]
    thinking = build_request("Look", attachments=images, thinking=True, audio=False)
    assert thinking.estimate.by_modality()["image"] == 14 * tokens.image_tokens(2000, 2000) == 14 * 1227
    assert any("16,384" in w and "thinking" in w for w in thinking.warnings)  # 17,178 > 16,384
    assert not build_request("Look", attachments=images).warnings  # 49,152 without thinking
