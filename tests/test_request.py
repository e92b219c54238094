"""build_request: every rule of the service is enforced before a byte is sent, and the body
is shaped the way the service's documentation shows it."""

from __future__ import annotations

import base64
import re

import pytest

from omni_magic import catalog, tokens
from omni_magic.attachments import Attachment
from omni_magic.body import to_json
from omni_magic.errors import InvalidRequest
from omni_magic.request import build_request, elide_media

import media

PLUS = "qwen3.5-omni-plus"  # the default model
FLASH35 = "qwen3.5-omni-flash"
FLASH38 = "qwen3.8-omni-flash"
FLASH = "qwen3-omni-flash"
FLASH0915 = "qwen3-omni-flash-2025-09-15"
FLASH1201 = "qwen3-omni-flash-2025-12-01"
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

def test_the_default_model_is_qwen35_omni_plus():
    assert catalog.DEFAULT_MODEL == PLUS
    request = build_request("Hi")
    assert request.model == request.body["model"] == PLUS
    assert request.notes == [] and request.warnings == []


def test_unknown_model_goes_through_with_a_note_instead_of_being_refused():
    request = build_request("Hi", model="gpt-4o")
    assert request.body["model"] == request.model == "gpt-4o"
    assert ("gpt-4o is not in omni_magic's catalog: limits and estimates not checked; the "
            "service decides.") in request.notes
    assert request.warnings == []


def test_unknown_model_name_is_stripped_and_speaks_with_the_default_models_voice():
    request = build_request("Hi", model=" my-local-omni ")
    assert request.body["model"] == "my-local-omni"
    assert request.body["audio"] == {"voice": "Tina", "format": "wav"}
    assert request.body["modalities"] == ["text", "audio"]


def test_a_model_outside_the_catalog_passes_with_the_not_in_catalog_note():
    request = build_request("Describe", model="qwen4-omni-plus", attachments=[IMAGE, AUDIO])
    assert request.body["model"] == "qwen4-omni-plus"
    assert any(n.startswith("qwen4-omni-plus is not in omni_magic's catalog") for n in request.notes)
    assert any("not in omni_magic's catalog" in n and "the service decides" in n
               for n in request.notes)
    # Its media are not estimated: the catalog has no rules for it.
    media_parts = [p for p in request.estimate.parts if p.modality in ("image", "audio")]
    assert len(media_parts) == 2
    assert all(p.tokens == 0 and p.method == "not counted: the model is not in the catalog"
               for p in media_parts)
    assert "speech prompt (hidden)" not in [p.label for p in request.estimate.parts]


def test_a_self_hosted_server_names_its_models_without_a_note():
    request = build_request("Hi", model="qwen4-omni-plus", dashscope=False)
    assert request.body["model"] == "qwen4-omni-plus"
    assert request.notes == []


@pytest.mark.parametrize(
    "name, family_label",
    [("qwen3.5-omni-plus-2099-01-01", "Qwen3.5-Omni"),
     ("qwen3.8-omni-flash-2099-01-01", "Qwen3.8-Omni-Flash"),
     ("qwen3-omni-flash-2099-01-01", "Qwen3-Omni-Flash")],
)
def test_an_unlisted_name_with_a_family_prefix_gets_a_note_naming_the_family(name, family_label):
    request = build_request("Hi", model=name)
    assert request.body["model"] == request.model == name
    (note,) = request.notes
    assert note.startswith(f"{name} is not in omni_magic's catalog: {family_label}'s rules apply")


def test_an_unlisted_qwen35_name_follows_qwen35_rules():
    name = "qwen3.5-omni-plus-2099-01-01"
    request = build_request("Describe", model=name, attachments=[IMAGE, AUDIO])  # any mix
    assert request.body["audio"] == {"voice": "Tina", "format": "wav"}
    assert len(request.body["messages"][-1]["content"]) == 3
    refused(r"qwen3\.8-omni-flash", model=name, thinking=True)  # no thinking on 3.5


def test_an_unlisted_qwen3_flash_name_follows_the_one_modality_rule():
    name = "qwen3-omni-flash-2099-01-01"
    refused(r"more than one kind of media", model=name, attachments=[IMAGE, AUDIO])
    refused(r"no web search", model=name, search=True)
    assert build_request("Hi", model=name, thinking=True, audio=False).body["enable_thinking"] is True


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

@pytest.mark.parametrize("model", [TURBO, OPEN, PLUS, FLASH35, "qwen3.5-omni-plus-2026-03-15"])
def test_thinking_on_a_model_without_thinking_is_refused_naming_the_models_that_think(model):
    error = refused(rf"{re.escape(model)} has no thinking mode", model=model, thinking=True,
                    audio=False)
    assert "qwen3.8-omni-flash" in str(error)
    assert "qwen3-omni-flash (--think)" in str(error)


def test_thinking_is_refused_on_the_default_model():
    error = refused(r"has no thinking mode", thinking=True)
    assert PLUS in str(error) and "qwen3.8-omni-flash" in str(error)


def test_effort_on_qwen35_is_refused():
    refused(r"qwen3\.5-omni-plus has no thinking mode.*--effort.*qwen3\.8-omni-flash",
            effort="low")


def test_effort_on_qwen3_flash_is_refused():
    refused(r"reasoning_effort.*qwen3-omni-flash thinks with --think", model=FLASH, effort="high")


def test_thinking_with_an_explicit_voice_is_refused():
    refused(r"Drop -v/--voice", model=FLASH, thinking=True, voice="Ethan")


def test_thinking_with_audio_is_refused():
    refused(r"audio=False \(--text-only", model=FLASH, thinking=True, audio=True)


def test_thinking_on_qwen3_flash_answers_in_text_by_default():
    request = build_request("Think", model=FLASH, thinking=True)
    assert request.audio is False and request.body["modalities"] == ["text"]
    assert request.body["enable_thinking"] is True


def test_thinking_without_audio_asks_for_text_only():
    request = build_request("Think about it", model=FLASH, thinking=True, audio=False)
    body = request.body
    assert body["enable_thinking"] is True
    assert body["modalities"] == ["text"]
    assert "audio" not in body
    assert request.voice is None and request.thinking is True


@pytest.mark.parametrize("model", [PLUS, FLASH, TURBO])
def test_no_thinking_sends_no_thinking_flag(model):
    body = build_request("Hi", model=model).body
    assert "enable_thinking" not in body and "reasoning_effort" not in body
    assert "enable_thinking" not in build_request("Hi", model=model, thinking=False).body


# -- Qwen3.8-Omni-Flash: text only, thinks by default ------------------------------------------

def test_qwen38_answers_in_text_and_thinks_by_default():
    request = build_request("Hi", model=FLASH38)
    assert request.body == {
        "model": FLASH38,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text"],
    }
    assert request.audio is False and request.voice is None
    assert request.thinking is True
    assert "speech prompt (hidden)" not in [p.label for p in request.estimate.parts]


@pytest.mark.parametrize("effort", ["none", "minimal", "low", "medium", "high", "xhigh", "max"])
def test_qwen38_effort_is_sent_as_reasoning_effort(effort):
    request = build_request("Hi", model=FLASH38, effort=effort)
    assert request.body["reasoning_effort"] == effort
    assert "enable_thinking" not in request.body
    assert request.thinking is (effort != "none")


def test_qwen38_thinking_false_sends_reasoning_effort_none():
    request = build_request("Hi", model=FLASH38, thinking=False)
    assert request.body["reasoning_effort"] == "none"
    assert "enable_thinking" not in request.body
    assert request.thinking is False


def test_qwen38_an_unknown_effort_level_is_refused_with_the_levels():
    error = refused(r"--effort 'extreme' is not a level qwen3\.8-omni-flash takes",
                    model=FLASH38, effort="extreme")
    assert "none, minimal, low, medium, high, xhigh, max" in str(error)


def test_qwen38_no_think_with_an_effort_level_is_refused():
    refused(r"--no-think.*--effort low", model=FLASH38, thinking=False, effort="low")


@pytest.mark.parametrize("options, what", [({"audio": True}, "audio=True"),
                                           ({"voice": "Tina"}, "-v/--voice")])
def test_qwen38_refuses_speech(options, what):
    error = refused(r"qwen3\.8-omni-flash answers in text only", model=FLASH38, **options)
    assert f"Drop {what}" in str(error) and PLUS in str(error)


def test_qwen38_audio_false_is_accepted():
    assert build_request("Hi", model=FLASH38, audio=False).body["modalities"] == ["text"]


# -- web search and high resolution ----------------------------------------------------------

@pytest.mark.parametrize("model", [PLUS, FLASH35, FLASH38])
def test_search_sends_enable_search_with_the_agent_strategy(model):
    body = build_request("What happened today?", model=model, search=True).body
    assert body["enable_search"] is True
    assert body["search_options"] == {"search_strategy": "agent"}


@pytest.mark.parametrize("model", [PLUS, FLASH38])
def test_no_search_sends_no_search_fields(model):
    body = build_request("Hi", model=model).body
    assert "enable_search" not in body and "search_options" not in body


@pytest.mark.parametrize("model", [FLASH, FLASH0915, TURBO, OPEN])
def test_search_is_refused_on_models_without_it(model):
    error = refused(rf"{re.escape(model)} has no web search", model=model, search=True)
    assert "Drop --search" in str(error) and FLASH38 in str(error) and PLUS in str(error)


@pytest.mark.parametrize("model", [PLUS, FLASH35, FLASH38])
def test_hi_res_sends_vl_high_resolution_images(model):
    body = build_request("Look", model=model, hi_res=True, attachments=[IMAGE]).body
    assert body["vl_high_resolution_images"] is True
    assert "vl_high_resolution_images" not in build_request("Look", model=model).body


def test_hi_res_raises_the_image_estimate_to_the_high_resolution_cap():
    big = Attachment("image", media.png(4000, 4000))
    normal = build_request("Look", model=PLUS, attachments=[big]).estimate.by_modality()["image"]
    high = build_request("Look", model=PLUS, attachments=[big], hi_res=True).estimate.by_modality()["image"]
    assert normal == tokens.image_tokens(4000, 4000, PLUS) <= 1280
    assert high == tokens.image_tokens(4000, 4000, PLUS, hi_res=True) > 1280


@pytest.mark.parametrize("model", [FLASH, FLASH1201, TURBO])
def test_hi_res_is_refused_on_models_without_it(model):
    error = refused(rf"{re.escape(model)} does not take vl_high_resolution_images", model=model,
                    hi_res=True)
    assert "Drop --hi-res" in str(error)


# -- voices ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "model, voice",
    [(TURBO, "Serena"), (TURBO, "Chelsie"), (FLASH, "Dylan"), (FLASH, "Ethan"), (OPEN, "Ethan"),
     (OPEN, "Chelsie")],
)
def test_a_voice_of_the_models_family_is_accepted(model, voice):
    assert build_request("Hi", model=model, voice=voice).body["audio"] == {"voice": voice, "format": "wav"}


@pytest.mark.parametrize(
    "model, voice",
    # Confirmed voice lists only: the 2025-09-15 snapshot's 17, the 2025-12-01 snapshot's 49,
    # Turbo's 4 and Qwen2.5-Omni's 2.
    [(FLASH0915, "Serena"), (FLASH0915, "Chelsie"), (FLASH1201, "Tina"), (OPEN, "Cherry"),
     (TURBO, "Dylan")]
)
def test_a_voice_of_another_family_is_refused_with_the_models_voices(model, voice):
    model_id = catalog.get_model(model).id
    error = refused(rf"Voice '{voice}' is not available for {model_id}", model=model, voice=voice)
    voices = catalog.get_model(model).voices
    assert voices.confirmed
    for available in voices.names:
        assert available in str(error)
    assert f"%omni voices {model_id}" in str(error)


@pytest.mark.parametrize("model, voice", [(PLUS, "Nobody"), (FLASH35, "Cherry"), (FLASH, "Tina")])
def test_a_voice_not_on_an_unconfirmed_list_warns_and_is_sent(model, voice):
    assert not catalog.get_model(model).voices.confirmed
    request = build_request("Hi", model=model, voice=voice)
    assert request.body["audio"] == {"voice": voice, "format": "wav"}
    assert request.voice == voice
    (warning,) = request.warnings
    assert f"Voice {voice!r} is not in omni_magic's list for {model}" in warning
    assert "not confirmed" in warning


@pytest.mark.parametrize("voice", ["Tina", "Ethan", "Liora Mira", "Chloe"])
def test_a_listed_qwen35_voice_is_sent_without_a_warning(voice):
    request = build_request("Hi", voice=voice)
    assert request.body["audio"] == {"voice": voice, "format": "wav"}
    assert request.warnings == []


@pytest.mark.parametrize(
    "model, voice",
    [(PLUS, "Tina"), (FLASH35, "Tina"), ("qwen3.5-omni-plus-2026-03-15", "Tina"), (FLASH, "Cherry"),
     (FLASH0915, "Cherry"), (TURBO, "Cherry"), (OPEN, "Ethan")],
)
def test_the_default_voice(model, voice):
    request = build_request("Hi", model=model)
    assert request.voice == voice
    assert request.body["audio"]["voice"] == voice


@pytest.mark.parametrize("given, normalized", [("serena", "Serena"), ("CHELSIE", "Chelsie")])
def test_a_voice_matches_case_insensitively_and_is_sent_normalized(given, normalized):
    request = build_request("Hi", model=TURBO, voice=given)
    assert request.body["audio"]["voice"] == request.voice == normalized


@pytest.mark.parametrize("model", [PLUS, FLASH, TURBO])
def test_text_only_sends_no_audio_field(model):
    body = build_request("Hi", model=model, audio=False).body
    assert body["modalities"] == ["text"]
    assert "audio" not in body


# -- system messages -------------------------------------------------------------------------

def test_turbo_refuses_a_system_message_when_it_speaks():
    refused(r"--text-only", model=TURBO, system="Be brief.")


@pytest.mark.parametrize("model, audio", [(TURBO, False), (FLASH, True), (FLASH, False), (PLUS, True),
                                          (FLASH38, None)])
def test_system_message_accepted_otherwise_and_sent_first(model, audio):
    messages = build_request("Hi", model=model, audio=audio, system="Be brief.").body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[-1] == {"role": "user", "content": "Hi"}


# -- one non-text modality per message (Qwen3-Omni-Flash and Turbo only) ---------------------

ONE_MODALITY_CASES = [
    ([IMAGE, AUDIO], r"audio and image.*separate cells"),
    ([AUDIO, VIDEO], r"audio and video"),
    ([IMAGE, FRAMES], r"image and video"),
    ([AUDIO, AUDIO2], r"2 audio files.*at most 1 in a message"),
    ([VIDEO, VIDEO], r"2 videos.*at most 1 in a message"),
    ([VIDEO, FRAMES], r"2 videos.*at most 1 in a message"),
    ([FRAMES, FRAMES], r"2 videos.*at most 1 in a message"),
]
ONE_MODALITY_IDS = ["image+audio", "audio+video", "image+frames", "two-audio", "two-video",
                    "video+frames", "two-frames"]


@pytest.mark.parametrize("model", [FLASH, TURBO])
@pytest.mark.parametrize("attachments, match", ONE_MODALITY_CASES, ids=ONE_MODALITY_IDS)
def test_one_non_text_modality_per_message(model, attachments, match):
    refused(match, model=model, attachments=attachments)


def test_the_one_modality_refusal_names_the_models_that_take_any_mix():
    error = refused(r"Qwen3-Omni-Flash takes text plus only one other kind", model=FLASH,
                    attachments=[IMAGE, AUDIO])
    assert PLUS in str(error) and FLASH38 in str(error)


@pytest.mark.parametrize("model", [PLUS, FLASH35, FLASH38])
@pytest.mark.parametrize("attachments", [a for a, _ in ONE_MODALITY_CASES], ids=ONE_MODALITY_IDS)
def test_qwen35_and_qwen38_take_any_mix_of_media_in_one_message(model, attachments):
    request = build_request("Describe", model=model, attachments=attachments)
    content = request.body["messages"][-1]["content"]
    assert content[:-1] == [a.to_part() for a in attachments]
    assert content[-1] == {"type": "text", "text": "Describe"}


def test_the_default_model_accepts_image_and_audio_in_one_message():
    content = build_request("Describe", attachments=[IMAGE, AUDIO]).body["messages"][-1]["content"]
    assert content == [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "input_audio", "input_audio": {"data": "https://example.com/clip.mp3", "format": "mp3"}},
        {"type": "text", "text": "Describe"},
    ]


@pytest.mark.parametrize(
    "model, kind, cap, label",
    [(PLUS, "audio", 2048, "Qwen3.5-Omni"), (PLUS, "video", 512, "Qwen3.5-Omni"),
     (FLASH38, "video", 64, "Qwen3.8-Omni-Flash")],
)
def test_qwen35_and_qwen38_cap_the_media_files_of_one_message(model, kind, cap, label):
    ext = {"audio": "mp3", "video": "mp4"}[kind]
    urls = [Attachment(kind, f"https://example.com/{i}.{ext}") for i in range(cap + 1)]
    build_request("Describe", model=model, attachments=urls[:cap])
    refused(rf"holds {cap + 1} .*{label} takes at most {cap} in a message", model=model,
            attachments=urls)


def test_qwen35_caps_inline_audio_at_250_in_one_message():
    clip = media.wav(seconds=0.1)
    build_request("Describe", attachments=[Attachment("audio", clip) for _ in range(250)])
    refused(r"251 audio files inline \(base64\); Qwen3\.5-Omni takes at most 250",
            prompt="Describe", attachments=[Attachment("audio", clip) for _ in range(251)])


@pytest.mark.parametrize("model", [FLASH, PLUS])
@pytest.mark.parametrize(
    "attachments", [[IMAGE, IMAGE2], [AUDIO], [VIDEO], [FRAMES]], ids=["two-images", "audio", "video", "frames"]
)
def test_allowed_attachment_combinations(model, attachments):
    content = build_request("Describe", model=model, attachments=attachments).body["messages"][-1]["content"]
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


MIXED_HISTORY = [{"role": "user", "content": [
    {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
    {"type": "input_audio", "input_audio": {"data": "https://x/a.mp3", "format": "mp3"}},
    {"type": "text", "text": "Hm?"},
]}]


@pytest.mark.parametrize("model", [FLASH, TURBO])
def test_history_user_message_with_two_modalities_is_refused(model):
    refused(r"A user message in the history carries more than one kind of media", model=model,
            history=MIXED_HISTORY)


@pytest.mark.parametrize("model", [PLUS, FLASH38])
def test_history_user_message_with_two_modalities_is_accepted_by_qwen35_and_qwen38(model):
    messages = build_request("And now?", model=model, history=MIXED_HISTORY).body["messages"]
    assert messages == [*MIXED_HISTORY, {"role": "user", "content": "And now?"}]


def test_history_with_an_unknown_role_is_refused():
    refused(r"not 'tool'", history=[{"role": "tool", "content": "x"}])


def test_the_historys_media_have_one_count_earlier_media_not_a_callers_own():
    # history_tokens (a caller's own count) beside earlier_media counted the same media twice;
    # it is no option any more, refused by name like any unknown keyword.
    from omni_magic.keywords import checked_options
    from omni_magic.request import ChatRequest

    with pytest.raises(InvalidRequest, match="'history_tokens'"):
        checked_options("prepare", {"history_tokens": {"image": 952}})
    assert "media_tokens" not in ChatRequest.__dataclass_fields__  # no caller read it


# -- max tokens and the prompt ---------------------------------------------------------------

@pytest.mark.parametrize("max_tokens", [0, -5])
def test_max_tokens_must_be_positive(max_tokens):
    refused(r"--max-tokens must be a positive whole number", max_tokens=max_tokens)


@pytest.mark.parametrize("model, limit", [(FLASH, 16_384), (TURBO, 2_048), (FLASH38, 131_072)])
def test_max_tokens_above_the_models_output_limit_is_refused(model, limit):
    refused(rf"--max-tokens {limit + 1} exceeds {re.escape(model)}'s output limit of {limit:,}",
            model=model, max_tokens=limit + 1)
    body = build_request("Hi", model=model, max_tokens=limit).body
    assert body["max_tokens"] == limit
    assert "max_completion_tokens" not in body


def test_max_tokens_above_an_unconfirmed_output_limit_warns_and_is_sent():
    request = build_request("Hi", model=PLUS, max_tokens=65_537)
    assert request.body["max_tokens"] == 65_537
    (warning,) = request.warnings
    assert "output limit of 65,536" in warning and "not confirmed" in warning
    assert build_request("Hi", model=PLUS, max_tokens=65_536).warnings == []


@pytest.mark.parametrize("prompt", ["", "   \n\t"])
def test_an_empty_prompt_is_refused(prompt):
    refused(r"write it in the cell body", prompt=prompt)


# -- the body --------------------------------------------------------------------------------

def test_the_body_of_a_plain_spoken_request():
    # The default model, qwen3.5-omni-plus, speaks as Tina.
    request = build_request("Who are you?")
    assert request.body == {
        "model": "qwen3.5-omni-plus",
        "messages": [{"role": "user", "content": "Who are you?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text", "audio"],
        "audio": {"voice": "Tina", "format": "wav"},
    }
    assert (request.audio, request.voice, request.thinking) == (True, "Tina", False)


@pytest.mark.parametrize("model, voice", [(FLASH35, "Tina"), (FLASH, "Cherry"), (TURBO, "Cherry")])
def test_the_body_of_a_plain_spoken_request_on_other_models(model, voice):
    assert build_request("Who are you?", model=model).body == {
        "model": model,
        "messages": [{"role": "user", "content": "Who are you?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text", "audio"],
        "audio": {"voice": voice, "format": "wav"},
    }


@pytest.mark.parametrize("model", [PLUS, FLASH])
def test_asking_for_speech_adds_the_hidden_speech_prompt_to_the_estimate(model):
    spoken = build_request("Who are you?", model=model).estimate
    (part,) = [p for p in spoken.parts if p.label == "speech prompt (hidden)"]
    assert part.modality == "text" and part.tokens == 196
    silent = build_request("Who are you?", model=model, audio=False).estimate
    assert "speech prompt (hidden)" not in [p.label for p in silent.parts]
    assert spoken.total == silent.total + 196


def test_extra_fields_pass_through():
    body = build_request("Hi", temperature=0.2, seed=7, top_p=0.9).body
    assert body["temperature"] == 0.2 and body["seed"] == 7 and body["top_p"] == 0.9


@pytest.mark.parametrize(
    "field",
    ["stream", "stream_options", "modalities", "enable_thinking", "messages", "reasoning_effort",
     "enable_search", "search_options", "vl_high_resolution_images", "max_completion_tokens"],
)
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
    with pytest.raises(InvalidRequest, match="2 audio files.*at most 1 in a message"):
        build_request("Hi", model=FLASH, history=history)
    assert build_request("Hi", model=PLUS, history=history).body["messages"][0] == history[0]


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
    thinking = build_request("Look", model=FLASH, attachments=images, thinking=True, audio=False)
    assert thinking.estimate.by_modality()["image"] == 14 * tokens.image_tokens(2000, 2000, FLASH) == 14 * 1227
    assert any("16,384" in w and "thinking" in w for w in thinking.warnings)  # 17,178 > 16,384
    assert not build_request("Look", model=FLASH, attachments=images).warnings  # 49,152 without thinking


def test_a_region_off_an_unconfirmed_model_list_warns_and_a_confirmed_one_refuses():
    # Qwen3.5-Omni's entry (context and regions) is not marked confirmed: the service decides.
    request = build_request("Hi", model="qwen3.5-omni-plus", region="us")
    assert any("not in US (Virginia) (us)" in w and "Not confirmed" in w for w in request.warnings)
    with pytest.raises(InvalidRequest, match=r"offered in Beijing \(cn\), not in Singapore \(intl\)"):
        build_request("Hi", model="qwen-omni-turbo-2025-01-19", region="intl")
    assert not build_request("Hi", model="qwen3.8-omni-flash", region="de").warnings


def test_multichannel_audio_is_asked_where_documented_and_warned_elsewhere():
    # The page documents use_multichannel (a top-level body field) for qwen3.8-omni-flash only.
    request = build_request("Where is the speaker?", model="qwen3.8-omni-flash", multichannel=True)
    assert request.body["use_multichannel"] is True and not request.warnings
    other = build_request("Where is the speaker?", model="qwen3.5-omni-plus", multichannel=True)
    assert other.body["use_multichannel"] is True
    assert any("not documented to take use_multichannel" in w for w in other.warnings)
    assert "use_multichannel" not in build_request("Hi", model="qwen3.8-omni-flash").body
    with pytest.raises(InvalidRequest, match="use_multichannel"):
        build_request("Hi", model="qwen3.8-omni-flash", use_multichannel=True)  # reserved


def test_think_with_effort_none_contradicts_itself_on_qwen38():
    with pytest.raises(InvalidRequest, match="drop one of them"):
        build_request("Hi", model="qwen3.8-omni-flash", thinking=True, effort="none")
    assert build_request("Hi", model="qwen3.8-omni-flash", effort="none").thinking is False
