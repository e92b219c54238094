"""The recorder, kernel side (issue 19): the Clip value, what the Recorder makes of the page's
messages (fed as the comm delivers them: ``_handle_msg`` with the PCM as binary buffers), its
limit and discard, and ``%omni record NAME``. What the page does is tests/test_bundle.py's (under
node) and the browser test's."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from omni_magic import InvalidRequest
from omni_magic.clip import Clip
from omni_magic.notebook import recorder as recorder_module
from omni_magic.notebook.recorder import NO_WIDGETS, PLACEHOLDER, Recorder, limit_for

from conftest import run

WIDGET = "application/vnd.jupyter.widget-view+json"


def speech(seconds: float, rate: int = 16000) -> np.ndarray:
    """A tone that rises, as int16: every sample differs from its neighbours."""
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * (200 + 300 * t) * t) * 12000).astype(np.int16)


def page(widget: Recorder, content: dict, buffers: list[bytes] | None = None) -> None:
    """A custom message from the page, as ipywidgets hands the comm's message to the widget."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                        "buffers": [memoryview(b) for b in buffers or []]})


def record_in_page(widget: Recorder, samples: np.ndarray, *, stop: bool = True, limit: bool = False) -> None:
    page(widget, {"type": "start"})
    for i in range(0, len(samples), 4000):  # ~0.25 s a message, as js/recorder.js sends
        page(widget, {"type": "pcm"}, [samples[i:i + 4000].astype("<i2").tobytes()])
    if stop:
        page(widget, {"type": "stop", "limit": limit})


# -- the value -----------------------------------------------------------------------------------

def test_a_clip_is_a_16_bit_wav_that_saves_and_reads_back(tmp_path):
    samples = speech(1.25)
    clip = Clip.from_pcm(samples.astype("<i2").tobytes() + b"\x01", 16000)  # an odd byte: dropped
    assert clip.seconds == 1.25 and clip.rate == 16000 and clip.samples.dtype == np.int16
    assert np.array_equal(clip.samples, samples)
    assert repr(clip) == "Clip(1.2 s, 16000 Hz mono, 20,000 samples)"
    data, rate = sf.read(io.BytesIO(clip.wav()), dtype="int16")
    assert rate == 16000 and np.array_equal(data, samples)
    info = sf.info(io.BytesIO(clip.wav()))
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
    saved = clip.save(tmp_path / "question")
    assert saved == tmp_path / "question.wav" and saved.read_bytes() == clip.wav()
    with pytest.raises(InvalidRequest, match="saved as WAV"):
        clip.save(tmp_path / "question.mp3")
    with pytest.raises(InvalidRequest, match="Could not write"):
        clip.save(tmp_path / "no" / "such" / "folder" / "q.wav")


def test_a_clip_in_the_namespace_is_attached_with_dash_a_and_heard_at_its_length(ip):
    ip.user_ns["q"] = Clip(speech(3.5), 16000)
    cap = run(ip, "-a q --text-only -o r", "What did I ask?")
    answer = ip.user_ns["r"].text
    assert "an audio clip of" in answer and "3.5 seconds" in answer  # the emulator measured it
    assert ip.user_ns["r"].error is None and "q · 3.5 s" in cap.stdout + "".join(
        o.data.get("text/plain", "") for o in cap.outputs)


# -- the widget, fed as the comm feeds it ------------------------------------------------------------

def test_what_the_page_sends_becomes_the_clip_and_on_clip_gets_it(ip):
    got = []
    widget = Recorder(limit_seconds=10, label="q", on_clip=got.append)
    with capture_output() as cap:
        widget.show()
    assert WIDGET in cap.outputs[0].data and cap.outputs[0].data["text/plain"] == PLACEHOLDER
    samples = speech(1.1)
    record_in_page(widget, samples)
    assert len(got) == 1 and got[0] is widget.clip
    assert np.array_equal(widget.clip.samples, samples) and widget.clip.rate == 16000
    assert widget.status == "Recorded 1.1 s: stored in q (attach it with -a q)."
    record_in_page(widget, speech(0.5))  # a second recording replaces the first
    assert len(got) == 2 and widget.clip.seconds == 0.5
    widget.close()


def test_beyond_the_limit_samples_are_dropped_with_a_note(ip):
    widget = Recorder(limit_seconds=0.75, limit_note="the model's audio limit")
    samples = speech(2.0)
    record_in_page(widget, samples)  # a page that does not stop at the limit
    assert np.array_equal(widget.clip.samples, samples[:12000])
    assert widget.status == ("Recorded 0.8 s. It stopped at the limit of 0:00 (the model's audio "
                             "limit); what came after was not kept.")
    record_in_page(widget, speech(0.75), limit=True)  # the page stopped itself, nothing dropped
    assert widget.status.endswith("It stopped at the limit of 0:00 (the model's audio limit).")
    widget.close()


def test_discard_forgets_the_recording_and_an_empty_stop_says_what_to_do(ip):
    got = []
    widget = Recorder(limit_seconds=5, on_clip=got.append)
    record_in_page(widget, speech(0.5))
    page(widget, {"type": "discard"})
    assert widget.clip is None and widget.status == "Discarded."
    record_in_page(widget, speech(0.5), stop=False)
    page(widget, {"type": "discard"})  # discarded while recording: the stop never comes
    page(widget, {"type": "stop", "limit": False})
    assert widget.clip is None and len(got) == 1
    assert widget.status == "Nothing was recorded: press record, speak, then press stop."
    widget.close()


def test_an_on_clip_that_fails_says_so_in_the_widget(ip):
    def broken(clip: Clip) -> None:
        raise InvalidRequest("The conversation is busy.")

    widget = Recorder(limit_seconds=5, on_clip=broken)
    record_in_page(widget, speech(0.5))
    assert widget.status == "Recorded 0.5 s, but it could not be used: The conversation is busy."
    widget.close()


# -- %omni record NAME ---------------------------------------------------------------------------

def test_the_limit_is_the_models_or_what_an_inline_wav_holds_whichever_is_smaller(ip):
    from omni_magic import catalog

    models = catalog.load_catalog()
    seconds, why = limit_for("qwen3.5-omni-plus", models)  # 3 h of audio; 7.5 MB inline
    assert seconds == 233 and why == "what a 16 kHz WAV sent inline can hold"
    assert 44 + seconds * 32000 <= 10_485_760 * 3 / 4  # its base64 fits the inline cap
    assert limit_for("qwen-omni-turbo", models) == (180.0, "qwen-omni-turbo's audio limit")


def test_every_limit_fits_an_inline_wav_even_for_a_model_outside_the_catalog(tmp_path):
    import json

    from omni_magic import catalog
    from omni_magic.fit import MARGIN, raw_cap

    models = catalog.load_catalog()
    cap = raw_cap(models.resolve(catalog.DEFAULT_MODEL).family.limits.audio) * MARGIN
    seconds, why = limit_for("some-other-model", models)  # not a Qwen-Omni name: no family
    assert seconds == 233 and why == "what a 16 kHz WAV sent inline can hold"
    # A family whose catalog entry states no caps at all (a catalog file's) is still bounded.
    uncapped = tmp_path / "uncapped.json"
    uncapped.write_text(json.dumps({"families": {"qwen-omni-turbo": {"limits": {"audio": {
        "max_bytes": None, "max_inline_chars": None, "max_seconds": None}}}}}), encoding="utf-8")
    seconds, why = limit_for("qwen-omni-turbo", catalog.load_catalog(str(uncapped)))
    assert seconds == 233 and 44 + seconds * 32000 <= cap


@pytest.fixture
def shown(ip, monkeypatch):
    """%omni record in a frontend with widgets: the recorder it showed, and what was displayed."""
    monkeypatch.setattr(recorder_module, "has_widget_frontend", lambda shell: True)
    made = []
    original = Recorder.show

    def show(self: Recorder):
        made.append(self)
        return original(self)

    monkeypatch.setattr(Recorder, "show", show)
    yield ip, made
    for widget in made:
        widget.close()


def test_record_stores_the_recording_in_the_name_for_dash_a(shown):
    ip, made = shown
    ip.run_line_magic("config", "OmniMagics.model = 'qwen-omni-turbo'")
    with capture_output() as cap:
        ip.run_line_magic("omni", "record q")
    (widget,) = made
    assert WIDGET in cap.outputs[0].data and cap.outputs[0].data["text/plain"] == PLACEHOLDER
    assert (widget.limit_seconds, widget.limit_note) == (180.0, "qwen-omni-turbo's audio limit")
    assert "q" not in ip.user_ns  # nothing before the user presses stop
    record_in_page(widget, speech(2.0))
    assert isinstance(ip.user_ns["q"], Clip) and ip.user_ns["q"].seconds == 2.0
    assert widget.status == "Recorded 2.0 s: stored in q (attach it with -a q)."
    run(ip, "-a q --text-only -o r", "What did I ask?")
    assert "2.0 seconds" in ip.user_ns["r"].text
    page(widget, {"type": "discard"})
    assert "q" not in ip.user_ns and widget.status == "Discarded: q was removed."


def test_record_without_a_widget_frontend_says_where_it_works(ip):
    with capture_output() as cap:
        ip.run_line_magic("omni", "record q")
    assert [o.data["text/plain"] for o in cap.outputs] == [NO_WIDGETS]
    assert "JupyterLab or Jupyter Notebook" in NO_WIDGETS and "q" not in ip.user_ns


@pytest.mark.parametrize("line", ["record", "record 1st", "record my-question", "record q extra"])
def test_record_needs_one_variable_name(ip, line):
    with pytest.raises(UsageError, match="Use %omni record NAME, with NAME a Python variable name"):
        ip.run_line_magic("omni", line)
