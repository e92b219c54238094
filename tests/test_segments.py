"""--segments: lengths, windows and their limits; a recording longer than the model takes asked
window by window against the emulator, into a table; --then over the answers; the conversation."""

from __future__ import annotations

import sys

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from omni_magic import InvalidRequest, catalog, fit, segments, tokens, transcode
from omni_magic.batch import Row
from omni_magic.probe import MediaInfo, probe_audio
from omni_magic.response import OmniResponse
from omni_magic.segments import Window

from conftest import magics, requests_seen, texts

CATALOG = catalog.load_catalog(None)
FLASH = CATALOG.resolve("qwen3-omni-flash")  # 20 minutes of audio, 150 s of video, 128 frames
PLUS = CATALOG.resolve("qwen3.5-omni-plus")


def audio(seconds: float) -> MediaInfo:
    return MediaInfo("audio", 1, format="mp3", seconds=seconds)


def video(seconds: float, sound: bool = True) -> MediaInfo:
    return MediaInfo("video", 1, format="mp4", width=320, height=240, seconds=seconds, fps=25.0,
                     frames=int(seconds * 25), has_audio=sound)


# -- lengths and windows -----------------------------------------------------------------------
@pytest.mark.parametrize("text, seconds", [
    ("10m", 600), ("90s", 90), ("1h30m", 5400), ("600", 600), ("1.5h", 5400), ("1m30s", 90),
    (" 2 m ", 120), ("AUTO", None), ("auto", None),
])
def test_lengths_are_read_in_hours_minutes_and_seconds(text, seconds):
    assert segments.parse_length(text) == seconds


@pytest.mark.parametrize("text, says", [
    ("ten minutes", "such as 10m"), ("30m1h", "such as 10m"), ("10mm", "such as 10m"), ("m", "such as 10m"),
    ("inf", "such as 10m"), ("nan", "such as 10m"), ("0", "more than 0 s"), ("-5", "more than 0 s"),
    ("0m", "more than 0 s"),
])
def test_a_length_that_is_not_one_is_refused_in_a_sentence(text, says):
    with pytest.raises(InvalidRequest, match=says):
        segments.parse_length(text)


def test_times_are_hh_mm_ss_everywhere():
    assert segments.clock(0) == "00:00:00" and segments.clock(3725.4) == "01:02:05"
    assert Window(0, 600, 1200).label == "00:10:00–00:20:00"
    assert Window(0, 600, 1200).slug == "00-10-00_00-20-00"  # a file name can hold it
    assert [segments.length_text(s) for s in (1200, 5400, 460.7, 64)] == ["20m", "1h30m", "7m40s", "1m4s"]


def test_windows_cover_the_recording_and_overlap():
    found = segments.windows(2400, 1200, 10)
    assert [(w.start, w.end) for w in found] == [(0, 1200), (1190, 2390), (2380, 2400)]
    assert [w.index for w in found] == [0, 1, 2]
    plain = segments.windows(150, 60)
    assert [(w.start, w.end) for w in plain] == [(0, 60), (60, 120), (120, 150)]  # the last shorter
    assert [(w.start, w.end) for w in segments.windows(30, 60)] == [(0, 30)]


def test_a_tail_under_a_second_is_merged_unless_that_breaks_the_models_limit():
    merged = segments.windows(120.4, 60)
    assert [(w.start, w.end) for w in merged] == [(0, 60), (60, 120.4)]
    kept = segments.windows(120.4, 60, most=60)  # 60.4 s would be refused: the tail stays
    assert [(w.start, w.end) for w in kept] == [(0, 60), (60, 120), (pytest.approx(119.4), 120.4)]
    assert all(w.seconds <= 60 for w in kept)


# -- how long a window may be ------------------------------------------------------------------
def test_auto_is_the_longest_the_model_takes_with_a_small_overlap():
    assert segments.auto_length(audio(2400), FLASH) == (1200, 10)  # the model's 20 minutes
    assert segments.auto_length(video(600), FLASH) == (64, 3)  # 128 frames at 2 a second
    assert segments.auto_length(audio(90), CATALOG.resolve("qwen-omni-turbo")) == (180, 9)


def test_auto_stops_where_the_inline_cap_would_cost_quality():
    # Qwen3.5-Omni takes 3 hours of audio and an hour of video: the 10 MB inline cap binds.
    cap = fit.raw_cap(PLUS.family.limits.audio) * fit.MARGIN
    length, overlap = segments.auto_length(audio(4 * 3600), PLUS)
    second = 24 * 125 * 1.02  # a second of 16 kHz mono MP3 at 24 kbit/s, with the encoder's overshoot
    assert length * second <= cap - fit.AUDIO_SLACK < (length + 1) * second
    assert overlap == 10
    length, _ = segments.auto_length(video(3000), PLUS)
    per_second = 2 * fit.MIN_FRAME_BYTES + transcode.AAC_KBPS * 125 * 1.05  # frames and sound
    assert length * per_second <= cap - fit.VIDEO_SLACK < (length + 1) * per_second
    silent, _ = segments.auto_length(video(3000, sound=False), PLUS)
    assert silent > length  # no sound: more bytes for the pictures


def test_an_explicit_length_longer_than_the_model_takes_is_refused_naming_the_longest():
    with pytest.raises(InvalidRequest, match=r"qwen3-omni-flash takes at most 20m of audio.*"
                                             r"Give --segments 20m or less, or auto"):
        segments.plan(audio(2400), FLASH, 1800, "lecture.mp3")
    with pytest.raises(InvalidRequest, match=r"at most 2m30s of video"):
        segments.plan(video(600), FLASH, 200, "talk.mp4")
    with pytest.raises(InvalidRequest, match=r"inline cap .*at most 7m40s"):
        segments.plan(video(3000), PLUS, 600, "talk.mp4")
    # Within the limits an explicit length has no overlap: 10m gives whole ten minutes.
    assert [w.label for w in segments.plan(audio(1500), FLASH, 600, "lecture.mp3")] == [
        "00:00:00–00:10:00", "00:10:00–00:20:00", "00:20:00–00:25:00"]


def test_answers_are_labelled_with_their_time_ranges_and_a_table_made():
    windows = segments.windows(150, 60)
    rows = [Row("a", "The intro.", {"total_tokens": 9}), Row("b", error="HTTP 500: boom"), None]
    text = segments.answers_text("talk.mp3", windows, rows, "What is said?")
    assert text.splitlines()[0] == "Answers to 'What is said?' for each window of talk.mp3 (times hh:mm:ss from its start):"
    assert "[00:00:00–00:01:00]\nThe intro." in text
    assert "[00:01:00–00:02:00]\n(no answer: HTTP 500: boom)" in text
    assert "[00:02:00–00:02:30]\n(not asked: the run was stopped first)" in text
    frame = segments.table(windows, rows)
    assert list(frame.columns) == ["start", "end", "answer", "usage", "error"]
    assert list(frame["start"]) == ["00:00:00", "00:01:00", "00:02:00"] and frame["error"].isna().tolist() == [True, False, False]


def test_the_table_is_a_list_of_dicts_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    rows = segments.table(segments.windows(90, 60), [Row("a", "A", {"total_tokens": 1}), None])
    assert rows[0] == {"start": "00:00:00", "end": "00:01:00", "answer": "A",
                       "usage": {"total_tokens": 1}, "error": None}
    assert rows[1]["error"].startswith("not asked")


# -- the magic against the emulator ------------------------------------------------------------
@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    """A 40-minute 16 kHz mono mp3 (made in about a second)."""
    from media_kinds import mp3

    return mp3(tmp_path_factory.mktemp("lecture"), seconds=2400, name="lecture.mp3")


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """A 150-second mp3: three one-minute windows."""
    from media_kinds import mp3

    return mp3(tmp_path_factory.mktemp("talk"), seconds=150, name="talk.mp3")


def cell(shell, line: str, prompt: str = "What is said here?"):
    with capture_output() as cap:
        shell.run_cell_magic("omni", line, prompt)
    return cap


@pytest.fixture
def quick(ip, tmp_path):
    ip.run_line_magic("config", f"OmniMagics.cache_dir = '{tmp_path}/cache'")
    return ip


@pytest.mark.slow
def test_a_40_minute_lecture_is_asked_in_windows_the_model_takes(quick, lecture):
    cap = cell(quick, f"-m qwen3-omni-flash -a {lecture} --segments auto --text-only --out parts")
    parts = quick.user_ns["parts"]
    assert list(parts.columns) == ["start", "end", "answer", "usage", "error"]
    assert list(zip(parts["start"], parts["end"])) == [
        ("00:00:00", "00:20:00"), ("00:19:50", "00:39:50"), ("00:39:40", "00:40:00")]
    assert parts["error"].isna().all() and quick.user_ns["_"] is parts
    # The emulator measured what each request carried: the window, not the whole recording.
    for answer, usage, seconds in zip(parts["answer"], parts["usage"], (1200, 1200, 20)):
        assert f"{seconds:.1f} seconds" in answer
        assert usage["prompt_tokens_details"]["audio_tokens"] == tokens.audio_tokens(seconds, FLASH)
    shown = texts(cap)
    assert "lecture.mp3 (00:40:00): 3 windows of up to 20m, each overlapping the one before by 10 s" in shown
    assert "3 of 3 done" in shown and "00:19:50" in shown
    assert requests_seen(quick) == 3


def test_a_length_longer_than_the_model_takes_is_refused_before_sending(quick, lecture):
    with pytest.raises(InvalidRequest, match="takes at most 20m of audio"):
        cell(quick, f"-m qwen3-omni-flash -a {lecture} --segments 30m")
    assert requests_seen(quick) == 0


@pytest.mark.slow
def test_then_asks_over_the_labelled_answers_as_the_cells_answer(quick, talk):
    cap = cell(quick, f'-m qwen3-omni-flash -a {talk} --segments 1m --text-only --out parts '
                      f'--then "Summarise with timestamps."')
    parts = quick.user_ns["parts"]
    assert list(parts["end"]) == ["00:01:00", "00:02:00", "00:02:30"] and parts["error"].isna().all()
    reply = quick.user_ns["_"]
    assert isinstance(reply, OmniResponse) and reply.error is None and reply.text
    assert requests_seen(quick) == 4  # three windows, then the question over their answers
    asked = reply.request["messages"][-1]["content"]
    assert asked.endswith("Summarise with timestamps.") and "[00:01:00–00:02:00]\n" in asked
    assert reply.text[:60] in texts(cap)  # shown as the cell's answer
    turns = magics(quick).conversation.turns
    assert len(turns) == 1 and turns[0].user["content"] == asked and turns[0].answer == reply.text
    with capture_output() as shown:
        quick.run_line_magic("omni", "history")
    assert "1 turn;" in texts(shown) and "Answers to 'What is said here?'" in texts(shown)


@pytest.mark.slow
def test_without_then_the_conversation_holds_the_labelled_answers(quick, talk):
    cell(quick, f"-m qwen3-omni-flash -a {talk} --segments 1m --text-only", "Who speaks?")
    turns = magics(quick).conversation.turns
    assert len(turns) == 1
    assert turns[0].user == {"role": "user", "content": f"Who speaks?\n\n(Asked of each window of {talk.name} by --segments.)"}
    assert turns[0].answer.count("\n[00:0") == 3 and "[00:02:00–00:02:30]" in turns[0].answer
    # A follow-up cell sends them as history, so it can ask about a time range.
    cell(quick, "-m qwen3-omni-flash --text-only --out follow", "What was said from 00:01:00?")
    history = quick.user_ns["follow"].request["messages"]
    assert any("[00:01:00–00:02:00]" in str(m.get("content")) for m in history[:-1])
    with capture_output() as shown:
        quick.run_line_magic("omni", "history")
    assert "2 turns" in texts(shown)


@pytest.mark.slow
def test_a_rerun_comes_from_the_cache(quick, talk):
    line = f"-m qwen3-omni-flash -a {talk} --segments 1m --text-only --out parts"
    cell(quick, line)
    sent = requests_seen(quick)
    again = cell(quick, line)
    assert requests_seen(quick) == sent == 3
    assert "3 from the cache" in again.stdout and quick.user_ns["parts"]["error"].isna().all()


@pytest.mark.slow
def test_an_interrupt_keeps_the_finished_windows_and_skips_then(quick, talk, monkeypatch):
    quick.run_line_magic("config", "OmniMagics.emulator_first_token = 0.5")
    from omni_magic.notebook import each

    real = each._progress

    class Interrupting:
        def __init__(self, bar):
            self.bar, self.calls = bar, 0

        def update(self, progress):
            self.calls += 1
            if progress.done >= 1:  # the first window answered, the others not
                raise KeyboardInterrupt
            self.bar.update(progress)

        def finish(self, progress, interrupted):
            self.bar.finish(progress, interrupted)

    monkeypatch.setattr(each, "_progress", lambda m, total: Interrupting(real(m, total)))
    line = f'-m qwen3-omni-flash -a {talk} --segments 1m --text-only --concurrency 1 --out parts --then "Sum up."'
    cell(quick, line)
    parts = quick.user_ns["parts"]
    assert len(parts) == 3
    missing = parts["error"].str.startswith("not asked").sum()
    assert missing >= 1 and parts["error"].isna().sum() == 3 - missing
    assert quick.user_ns["_"] is parts  # --then was not asked after the interrupt
    assert magics(quick).conversation.turns[0].answer.count("(not asked: the run was stopped first)") == missing
    asked = requests_seen(quick)
    monkeypatch.setattr(each, "_progress", real)
    cell(quick, line)  # resumes: only the windows not finished are sent, then the question
    assert quick.user_ns["parts"]["error"].isna().all()
    assert requests_seen(quick) == asked + missing + 1 and isinstance(quick.user_ns["_"], OmniResponse)


@pytest.mark.slow
def test_a_video_is_asked_in_windows_of_the_frames_the_service_samples(quick, tmp_path):
    from media_kinds import video as make_video

    path = make_video(tmp_path, "talk.mp4", seconds=150, width=160, height=120, fps=10)
    cell(quick, f"-m qwen3-omni-flash --video {path} --segments 60s --text-only --out parts", "What happens?")
    parts = quick.user_ns["parts"]
    assert list(zip(parts["start"], parts["end"])) == [
        ("00:00:00", "00:01:00"), ("00:01:00", "00:02:00"), ("00:02:00", "00:02:30")]
    assert parts["error"].isna().all()
    for answer, seconds in zip(parts["answer"], (60, 60, 30)):
        assert f"{seconds:.1f} seconds of " in answer and "at 2 fps, with sound" in answer


@pytest.mark.parametrize("line, says", [
    ("--segments 1m", "exactly one -a/--audio or --video"),
    ("--segments 1m -a {talk} --video {talk}", "exactly one -a/--audio or --video"),
    ("--segments 1m -a {talk} --each '*.mp3'", "cannot go with --each"),
    ("--segments 1m -a {talk} -i x.png --replay r.jsonl", "cannot go with -i/--image, --replay"),
    ("--segments 1m -a https://example.com/a.mp3", "a local file"),
    ("--segments soon -a {talk}", "such as 10m"),
    ("--then 'Sum up.'", "add --segments LENGTH"),
    ("--segments 1m -a {talk} --concurrency 0", "at least 1"),
    ("--segments 1m -a {talk} --save {talk}", "is a file, not a folder"),
])
def test_mistakes_are_refused_before_sending(quick, talk, line, says):
    with pytest.raises((UsageError, InvalidRequest), match=says):
        cell(quick, line.format(talk=talk))
    assert requests_seen(quick) == 0


def test_a_cut_fits_inline_and_says_what_it_is(talk):
    window = Window(1, 60, 120)
    attachment = segments.cut(talk, "audio", window, FLASH)
    assert attachment.kind == "audio" and attachment.name == "talk.mp3 [00:01:00–00:02:00]"
    assert attachment.note.startswith("talk.mp3 [00:01:00–00:02:00]: 60.0 s of talk.mp3 as 16 kHz mono MP3 at 64 kbit/s")
    assert probe_audio(attachment.source, "cut").seconds == pytest.approx(60, abs=0.1)
