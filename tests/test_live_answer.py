"""The live speech player, kernel side: what it sends, when it starts, when it retires."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from IPython.utils.capture import capture_output

from omni_magic.notebook.player import PLACEHOLDER, LivePlayer

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def sent(monkeypatch):
    """Every comm message the players send: (content, buffers)."""
    messages = []
    monkeypatch.setattr(LivePlayer, "send", lambda self, content, buffers=None: messages.append((content, buffers)))
    return messages


def test_chunks_go_out_whole_samples_at_a_time_however_they_are_cut(sent):
    pcm = np.arange(-500, 500, dtype="<i2").tobytes()
    player = LivePlayer()
    pieces = [pcm[:3], pcm[3:1001], pcm[1001:1002], pcm[1002:]]  # cut inside samples
    for piece in pieces:
        player.add(base64.b64encode(piece).decode())
    assert all(len(b[0]) % 2 == 0 for _, b in sent) and b"".join(b[0] for _, b in sent) == pcm
    assert [c for c, _ in sent] == [{"type": "pcm"}] * len(sent)


def test_pcm_bytes_a_dialect_decoded_pass_as_they_are(sent):
    player = LivePlayer()
    player.add(b"\x01\x00\x02\x00")
    assert sent[0][1][0] == b"\x01\x00\x02\x00" and player.nbytes == 4


def run(ip, line, cell="Say hello"):
    with capture_output() as cap:
        ip.run_cell_magic("omni", line, cell)
    return cap


def test_the_magic_streams_the_answers_speech_to_a_live_player(ip, sent):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    cap = run(ip, "--out reply")
    reply = ip.user_ns["reply"]
    streamed = b"".join(b[0] for _, b in sent)
    assert streamed == reply.audio.tobytes() and len(sent) >= reply.audio_chunks - 1
    player = ip.magics_manager.registry["OmniMagics"]._player
    assert player.done and not player.ended
    bundles = [o.data for o in cap.outputs]
    assert any(WIDGET in b and b.get("text/plain") == PLACEHOLDER for b in bundles)
    # The static audio element is still there, for frontends without widgets and saved notebooks.
    assert any("<audio" in b.get("text/html", "") for b in bundles)
    assert not any("autoplay" in b.get("text/html", "") for b in bundles)  # never two voices


def test_a_new_answer_retires_the_previous_player(ip, sent):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    run(ip, "")
    first = ip.magics_manager.registry["OmniMagics"]._player
    run(ip, "")
    assert first.comm is None  # closed: the page stops its playback
    assert ip.magics_manager.registry["OmniMagics"]._player is not first


def test_the_page_reporting_the_end_retires_the_player(ip, sent):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    run(ip, "")
    player = ip.magics_manager.registry["OmniMagics"]._player
    with capture_output() as cap:
        player.ended = True  # what the page's save_changes() does once the speech has played
    assert player.comm is None
    assert cap.outputs == [] or all(WIDGET not in o.data for o in cap.outputs)


@pytest.mark.parametrize("line, config", [
    ("--text-only", ""),
    ("-m qwen3-omni-flash --think", ""),  # thinking answers in text only
    ("-m qwen3.8-omni-flash", ""),  # a model that answers in text only
    ("", "OmniMagics.live_audio = False"),
    ("", "OmniMagics.display_mode = 'text'"),
])
def test_no_player_without_speech_widgets_or_consent(ip, sent, line, config):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    if config:
        ip.run_line_magic("config", config)
    run(ip, line)
    assert ip.magics_manager.registry["OmniMagics"]._player is None and sent == []


def test_a_text_only_answer_lets_the_previous_speech_play_on(ip, sent):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    run(ip, "")
    player = ip.magics_manager.registry["OmniMagics"]._player
    run(ip, "--text-only")
    assert player.comm is not None and ip.magics_manager.registry["OmniMagics"]._player is player


def test_live_audio_follows_the_environment(monkeypatch):
    from omni_magic.notebook.magics import OmniMagics

    monkeypatch.setenv("OMNI_LIVE_AUDIO", "0")
    assert OmniMagics().live_audio is False
    monkeypatch.setenv("OMNI_LIVE_AUDIO", "1")
    assert OmniMagics().live_audio is True


def test_the_first_chunk_sets_the_rate_a_server_speaks_at(sent):
    player = LivePlayer()
    player.add(b"\x00\x00", 16000)
    player.add(b"\x00\x00", 16000)
    assert player.sample_rate == 16000
