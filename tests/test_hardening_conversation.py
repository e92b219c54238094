"""Issue 15, the conversation's part: earlier turns' media checked against the model each new
request goes to (15); DashScope's rules for DashScope only (15b); ``--think -v`` refused with
``--each`` too (24); ``--system`` kept by the conversation (25); earlier turns' media re-sent
said, and sent as text on request (26)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from omni_magic import Attachment, InvalidRequest
from omni_magic.body import to_json
from omni_magic.probe import MediaInfo
from omni_magic.request import build_request

import media
from conftest import requests_seen, run, texts


def run_line(shell, line: str):
    with capture_output() as cap:
        shell.run_line_magic("omni", line)
    return cap


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def sent(shell, name: str) -> list[dict]:
    return to_json(shell.user_ns[name].request)["messages"]


# -- 15: the history's media, checked against the model the request goes to ------------------
@media.needs_av
def test_a_video_of_an_earlier_flash_turn_is_refused_when_the_conversation_moves_to_turbo(ip, tmp_path):
    clip = write(tmp_path, "lecture.mp4", media.mp4(seconds=60, fps=2, with_audio=False))
    run(ip, f"-m qwen3-omni-flash --text-only --video {clip}", "What happens?")  # 60 s: fine on Flash
    before = requests_seen(ip)
    with pytest.raises(InvalidRequest) as refused:
        run(ip, "-m qwen-omni-turbo --text-only", "And then?")
    message = str(refused.value)
    assert requests_seen(ip) == before  # nothing was sent
    # It names the earlier turn's file and the limit, and says how to go on.
    assert "lecture.mp4" in message and "turn 1" in message and "40 s" in message
    assert "--new" in message and "%omni reset" in message and "--history-media text" in message
    # Sent as text, the earlier turn goes along without its video.
    run(ip, "-m qwen-omni-turbo --text-only --history-media text --out r", "And then?")
    history = sent(ip, "r")[0]["content"]
    assert history[0] == {"type": "text", "text": "[video lecture.mp4, sent in an earlier turn]"}
    assert all(p["type"] == "text" for p in history)


@media.needs_av
def test_build_request_checks_earlier_media_against_its_model():
    from omni_magic.history import EarlierMedia

    clip = Attachment("video", media.mp4(seconds=60, fps=2, with_audio=False), name="lecture.mp4")
    earlier = [EarlierMedia(turn=1, model="qwen3-omni-flash", attachments=(clip,))]
    history = [{"role": "user", "content": [clip.to_part(), {"type": "text", "text": "What?"}]},
               {"role": "assistant", "content": [{"type": "text", "text": "A lecture."}]}]
    build_request("And then?", model="qwen3-omni-flash", history=history, earlier_media=earlier,
                  audio=False)
    with pytest.raises(InvalidRequest, match="lecture.mp4.*turn 1|turn 1.*lecture.mp4"):
        build_request("And then?", model="qwen-omni-turbo", history=history,
                      earlier_media=earlier, audio=False)
    # Counted for the model it goes to, and said to be re-sent.
    request = build_request("And then?", model="qwen3.5-omni-plus", history=history,
                            earlier_media=earlier, audio=False)
    assert [p.label for p in request.estimate.parts if p.tokens] == ["text", "video in earlier turns"]


def test_mixed_media_of_an_earlier_turn_say_how_to_go_on(ip, tmp_path):
    image = write(tmp_path, "cat.png", media.png())
    sound = write(tmp_path, "purr.wav", media.wav(1.0))
    run(ip, f"-m qwen3.5-omni-plus --text-only -i {image} -a {sound}", "Both?")
    with pytest.raises(InvalidRequest) as refused:
        run(ip, "-m qwen3-omni-flash --text-only", "And now?")
    message = str(refused.value)
    assert "--new" in message and "--history-media text" in message
    run(ip, "-m qwen3-omni-flash --text-only --history-media text --out r", "And now?")
    texts_sent = [p["text"] for p in sent(ip, "r")[0]["content"]]
    assert texts_sent == ["[image cat.png, sent in an earlier turn]",
                          "[audio purr.wav, sent in an earlier turn]", "Both?"]


@pytest.mark.parametrize("change", ["deleted", "rewritten"])
def test_an_earlier_turns_file_changed_since_is_refused_naming_the_turn_and_the_ways_on(
        ip, tmp_path, change):
    image = write(tmp_path, "chart.png", media.png())
    run(ip, f"--text-only -i {image}", "What does it show?")
    if change == "deleted":
        (tmp_path / "chart.png").unlink()
    else:  # other bytes, of another size
        write(tmp_path, "chart.png", media.jpeg(320, 240))
    before = requests_seen(ip)
    with pytest.raises(InvalidRequest) as refused:
        run(ip, "--text-only", "And the trend?")
    message = str(refused.value)
    assert requests_seen(ip) == before  # refused before anything was sent
    assert "\n" not in message  # one paragraph
    assert "chart.png" in message and "turn 1" in message
    assert "--history-media text" in message and "--new" in message and "%omni reset" in message
    assert "run the cell again" not in message  # advice that could never succeed
    # Sent as text, the earlier turn no longer needs its file.
    run(ip, "--text-only --history-media text --out r", "And the trend?")
    assert ip.user_ns["r"].error is None
    assert sent(ip, "r")[0]["content"][0] == {"type": "text",
                                              "text": "[image chart.png, sent in an earlier turn]"}


def test_build_request_refuses_an_earlier_file_changed_since_unless_sent_as_text(tmp_path):
    from omni_magic.history import EarlierMedia

    path = tmp_path / "chart.png"
    path.write_bytes(media.png())
    image = Attachment("image", str(path))
    history = [{"role": "user", "content": [image.to_part(), {"type": "text", "text": "What?"}]},
               {"role": "assistant", "content": [{"type": "text", "text": "A chart."}]}]
    earlier = [EarlierMedia(turn=3, model="qwen3.5-omni-plus", attachments=(image,))]
    build_request("And now?", history=history, earlier_media=earlier, audio=False)
    path.write_bytes(media.png() + b"more")
    with pytest.raises(InvalidRequest, match=r"chart\.png.*turn 3.*--history-media text"):
        build_request("And now?", history=history, earlier_media=earlier, audio=False)
    build_request("And now?", history=history, earlier_media=earlier, audio=False,
                  history_media="text")


# -- 15b: DashScope's rules for DashScope -----------------------------------------------------
@media.needs_av
@pytest.mark.parametrize("server", [{"dialect": "vllm-omni"}, {"dashscope": False}])
def test_a_short_video_goes_to_a_self_hosted_server(server):
    clip = Attachment("video", media.mp4(seconds=0.4, fps=10, with_audio=False), name="blink.mp4")
    request = build_request("What?", attachments=[clip], audio=False, **server)
    assert "blink.mp4" in repr(request.estimate.parts)
    with pytest.raises(InvalidRequest, match="frame sampler"):  # DashScope's own sampler
        build_request("What?", attachments=[clip], audio=False)


@media.needs_av
def test_dashscopes_media_limits_are_not_applied_to_a_vllm_server():
    clip = Attachment("video", media.mp4(seconds=60, fps=2, with_audio=False), name="long.mp4")
    build_request("What?", model="qwen-omni-turbo", attachments=[clip], audio=False,
                  dialect="vllm-omni")
    with pytest.raises(InvalidRequest, match="40 s"):
        build_request("What?", model="qwen-omni-turbo", attachments=[clip], audio=False)


@pytest.mark.parametrize("server", [{}, {"dialect": "vllm-omni"}, {"dashscope": False}])
def test_a_video_whose_frames_cannot_be_counted_is_never_refused(monkeypatch, server):
    from omni_magic import probe

    def unmeasured(data, name):
        return MediaInfo("video", 2048, "mp4", "video/mp4", width=64, height=48, seconds=3.0,
                         fps=None, frames=None)

    monkeypatch.setattr(probe, "probe_video", unmeasured)
    request = build_request("What?", attachments=[Attachment("video", b"\0" * 2048, name="odd.mp4")],
                            audio=False, **server)
    (part,) = [p for p in request.estimate.parts if p.modality == "video"]
    assert part.tokens == 0 and "not counted" in part.method
    if not server:  # DashScope: said, once
        assert any("odd.mp4" in w and "frame" in w for w in request.warnings)


# -- 24: --think -v is refused with --each too ------------------------------------------------
def test_think_with_a_voice_is_refused_with_each_as_on_a_cell(ip, tmp_path):
    (tmp_path / "in").mkdir()
    write(tmp_path / "in", "a.png", media.png())
    with pytest.raises(UsageError, match="--think answers in text only") as cell:
        run(ip, "-m qwen3-omni-flash --think -v Ethan", "Hi")
    with pytest.raises(UsageError, match="--think answers in text only") as each:
        run(ip, f"--each {tmp_path}/in -m qwen3-omni-flash --think -v Ethan", "Caption it.")
    assert str(each.value) == str(cell.value)
    with pytest.raises(UsageError, match="text only, so -v/--voice"):
        run(ip, f"--each {tmp_path}/in -m qwen3.8-omni-flash -v Ethan", "Caption it.")


# -- 25: the system message stays with the conversation ---------------------------------------
def test_a_system_message_stays_with_the_conversation_until_new(ip):
    run(ip, '--text-only --system "You are a patient tutor." --out r1', "My name is Ada.")
    run(ip, "--text-only --out r2", "What is my name?")
    second = sent(ip, "r2")
    assert second[0] == {"role": "system", "content": "You are a patient tutor."}
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert "You are a patient tutor." in texts(run_line(ip, "history"))
    run(ip, '--text-only --system "You are a pirate." --out r3', "Hello?")
    run(ip, "--text-only --out r4", "Again?")
    assert sent(ip, "r4")[0]["content"] == "You are a pirate."
    run(ip, "--text-only --new --out r5", "Fresh?")
    assert [m["role"] for m in sent(ip, "r5")] == ["user"]
    run(ip, '--text-only --system "Be brief."', "One")
    run_line(ip, "reset")
    run(ip, "--text-only --out r6", "Two")
    assert [m["role"] for m in sent(ip, "r6")] == ["user"]
    assert "Be brief." not in texts(run_line(ip, "history"))


def test_the_config_system_is_the_default_when_the_conversation_has_none(ip):
    ip.run_line_magic("config", 'OmniMagics.system = "Answer in French."')
    run(ip, "--text-only --out r1", "Hello")
    assert sent(ip, "r1")[0]["content"] == "Answer in French."
    run(ip, '--text-only --system "Answer in German."', "Hello")
    run(ip, "--text-only --out r2", "Again")
    assert sent(ip, "r2")[0]["content"] == "Answer in German."
    run(ip, "--text-only --new --out r3", "Fresh")
    assert sent(ip, "r3")[0]["content"] == "Answer in French."
    run(ip, '--text-only --system ""', "No system, please")
    run(ip, "--text-only --out r4", "Still none?")
    assert [m["role"] for m in sent(ip, "r4")] == ["user", "assistant"] * 2 + ["user"]


def run_in_cell(shell, cell_id: str, source: str):
    with capture_output():
        result = shell.run_cell(source, cell_id=cell_id)
    result.raise_error()


def test_a_rerun_cell_sets_or_drops_its_system_message(ip):
    run_in_cell(ip, "a", '%%omni --text-only --system "You are a tutor."\nMy name is Ada.')
    run_in_cell(ip, "b", "%%omni --text-only --out b1\nWhat is my name?")
    assert sent(ip, "b1")[0]["content"] == "You are a tutor."
    run_in_cell(ip, "a", '%%omni --text-only --system "You are a poet."\nMy name is Ada.')
    run_in_cell(ip, "b", "%%omni --text-only --out b2\nWhat is my name?")
    assert sent(ip, "b2")[0]["content"] == "You are a poet."
    run_in_cell(ip, "a", "%%omni --text-only\nMy name is Ada.")  # its --system removed
    run_in_cell(ip, "c", "%%omni --text-only --out c1\nAnd now?")
    assert [m["role"] for m in sent(ip, "c1")] == ["user", "assistant"] * 2 + ["user"]


# -- 26: earlier turns' media re-sent, said; or sent as text ----------------------------------
def test_media_of_earlier_turns_re_sent_are_said_on_every_later_cell(ip, tmp_path):
    image = write(tmp_path, "photo.jpg", media.jpeg(640, 480))
    run(ip, f"--text-only -i {image} --out r1", "What is this?")
    tokens = ip.user_ns["r1"].estimate.by_modality()["image"]
    for prompt in ("And the colour?", "And the size?"):
        out = texts(run(ip, "--text-only", prompt))
        assert f"earlier turns' media re-sent: {tokens:,} tokens" in out
    ip.run_line_magic("config", "OmniMagics.show_usage = False")  # the status line says it too
    assert f"earlier turns' media re-sent: {tokens:,} tokens" in texts(run(ip, "--text-only", "Hm?"))
    # The first turn carried no earlier media, and says none.
    assert "re-sent" not in texts(run(ip, "--text-only --new", "Hi"))


def test_history_media_text_sends_earlier_turns_without_their_media(ip, tmp_path):
    image = write(tmp_path, "photo.jpg", media.jpeg(640, 480))
    run(ip, f"--text-only -i {image}", "What is this?")
    out = texts(run(ip, "--text-only --history-media text --out r", "And the colour?"))
    first = sent(ip, "r")[0]
    assert first["content"] == [{"type": "text", "text": "[image photo.jpg, sent in an earlier turn]"},
                                {"type": "text", "text": "What is this?"}]
    assert "re-sent" not in out
    assert not [p for p in ip.user_ns["r"].estimate.parts if "earlier" in p.label]
    ip.run_line_magic("config", 'OmniMagics.history_media = "text"')
    run(ip, "--text-only --out r2", "And the size?")
    assert all(p["type"] == "text" for m in sent(ip, "r2") if m["role"] == "user"
               for p in (m["content"] if isinstance(m["content"], list) else []))
    run(ip, "--text-only --history-media keep --out r3", "Once more?")
    assert sent(ip, "r3")[0]["content"][0]["type"] == "image_url"
    with pytest.raises(UsageError):
        run(ip, "--history-media none", "Hm?")
