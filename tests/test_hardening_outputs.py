"""Issue 15, outputs and concurrency: where speech and recordings are written (checked before
anything is sent, and a failed save never costs the answer), what the terminal and the demo
command write, a batch's stop() and its failures, and unloading the extension."""

from __future__ import annotations

import gc
import io
import weakref
from pathlib import Path

import pytest
import soundfile as sf
from PIL import Image

from omni_magic import InvalidRequest, OmniClient, OmniResponse
from omni_magic.attachments import Attachment
from omni_magic.batch import Batch, Cache, kind_of
from omni_magic.emulator import Emulator, Pacing
from omni_magic.events import AudioDelta, Started, TextDelta

from conftest import magics, requests_seen, run, texts


def images(folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (40 + i, 30), (i * 7 % 255, 90, 40)).save(folder / f"img{i}.png")
    return [str(folder / f"img{i}.png") for i in range(count)]


def builder(client, speech: bool = False):
    return lambda f: client.prepare("Describe it", audio=speech, attachments=[Attachment(kind_of(f), f)])


# -- 16: --save and --record targets, checked before sending -----------------------------------
def test_save_into_a_folder_writes_one_well_named_wav_and_the_cell_completes(ip, tmp_path):
    folder = tmp_path / "speech"
    folder.mkdir()
    cap = run(ip, f"--out reply --save {folder}/")
    reply = ip.user_ns["reply"]
    assert reply.error is None and ip.user_ns["_"] is reply
    [wav] = list(folder.iterdir())
    assert wav.suffix == ".wav" and wav.name.startswith("omni-")
    assert len(sf.read(wav, dtype="int16")[0]) == reply.audio.size
    assert f"Speech saved to {wav}" in texts(cap)
    assert len(magics(ip).conversation.turns) == 1
    run(ip, f"--save {folder}")  # an existing folder without the slash: a second file, not overwritten
    assert len(list(folder.iterdir())) == 2


@pytest.mark.parametrize("name", ["answer.mp3", "answer", "answer.WAVE"])
def test_save_with_an_unsupported_suffix_is_refused_before_sending(ip, tmp_path, name):
    with pytest.raises(InvalidRequest, match=r"\.wav, \.flac or \.ogg"):
        ip.run_cell_magic("omni", f"--save {tmp_path / name}", "Say hello.")
    assert requests_seen(ip) == 0 and not list(tmp_path.iterdir())


def test_save_accepts_flac_and_ogg_in_any_case(ip, tmp_path):
    run(ip, f"--save {tmp_path}/a.FLAC")
    run(ip, f"--save {tmp_path}/b.ogg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.FLAC", "b.ogg"]


@pytest.mark.parametrize("option", ["--save {bad}/answer.wav", "--record {bad}/call.jsonl",
                                    "--record {bad}/calls/", "--save {bad}/"])
def test_an_unwritable_target_is_refused_before_sending(ip, tmp_path, option):
    blocker = tmp_path / "notes.txt"  # a file where a folder would have to be
    blocker.write_text("not a folder")
    with pytest.raises(InvalidRequest, match="notes.txt") as info:
        ip.run_cell_magic("omni", option.format(bad=blocker), "Say hello.")
    assert "is a file, not a folder" in str(info.value)
    assert requests_seen(ip) == 0


def test_record_to_an_unwritable_folder_is_refused_before_sending(ip, tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    ip.run_line_magic("config", f"OmniMagics.record_to = '{blocker}/calls'")
    try:
        with pytest.raises(InvalidRequest, match="record_to"):
            ip.run_cell_magic("omni", "", "Say hello.")
    finally:
        ip.run_line_magic("config", "OmniMagics.record_to = ''")
    assert requests_seen(ip) == 0


def test_each_save_must_be_a_folder_it_can_write(ip, tmp_path):
    images(tmp_path / "in", 2)
    ip.run_line_magic("config", "OmniMagics.batch_cache = False")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    for target, says in ((blocker, "is a file, not a folder"), (blocker / "wav", "is a file, not a folder"),
                         (tmp_path / "answers.wav", "a folder")):
        with pytest.raises(InvalidRequest, match=says):
            ip.run_cell_magic("omni", f"--each {tmp_path}/in --save {target}", "Describe it")
    assert requests_seen(ip) == 0


def test_a_save_that_fails_after_the_answer_is_a_note_and_the_answer_is_kept(ip, tmp_path, monkeypatch):
    def broken(self, path):
        raise TypeError("the disk said no")

    monkeypatch.setattr(OmniResponse, "save_audio", broken)
    cap = run(ip, f"--out reply --save {tmp_path}/answer.wav")
    reply = ip.user_ns["reply"]
    shown = texts(cap)
    assert reply.error is None and ip.user_ns["_"] is reply
    assert "Could not save the speech" in shown and "the disk said no" in shown
    assert "_.save_audio(" in shown
    assert "prompt" in shown and "completion" in shown  # the token table still came
    assert len(magics(ip).conversation.turns) == 1


# -- 17: the terminal writes nothing it was not asked to ---------------------------------------
def test_the_terminal_view_writes_no_file_unasked_and_says_how_to_save(tmp_path, monkeypatch):
    from omni_magic.notebook.live import TextView

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    response = OmniResponse("qwen3.5-omni-plus")
    for event in (Started("../../escaped", "qwen3.5-omni-plus"), TextDelta("Hello."),
                  AudioDelta(b"\x01\x00" * 2400, 24000)):
        response.feed(event)
    response.close()
    out = io.StringIO()
    TextView("emulator", out=out).finish(response, show_usage=False, autoplay=False)
    assert not list(tmp_path.rglob("*.wav"))
    assert '_.save_audio("answer.wav")' in out.getvalue() and "0.1 s" in out.getvalue()


# -- 18: the demo command reports what this run wrote -----------------------------------------
def test_the_demo_reports_only_the_speech_this_run_wrote(tmp_path, monkeypatch, capsys):
    from omni_magic import demo

    out = tmp_path / "out"
    out.mkdir()
    (out / "quickstart.wav").write_bytes(b"RIFF old run")
    (out / "again.wav").write_bytes(b"RIFF old run")
    notebook = tmp_path / "thinking_mode.ipynb"
    notebook.write_text("{}")

    def fake_run(nb, out_dir, timeout=600, env=None):
        (out_dir / "fresh.wav").write_bytes(b"RIFF this run")
        (out_dir / "again.wav").write_bytes(b"RIFF this run, rewritten")
        return out_dir / nb.name

    monkeypatch.setattr(demo, "run", fake_run)
    assert demo.main([str(notebook), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Speech: {out / 'fresh.wav'}" in printed and f"Speech: {out / 'again.wav'}" in printed
    assert "quickstart.wav" not in printed


# -- 20: stop() cuts stalled streams, and stopped workers write nothing ------------------------
def test_stop_cuts_stalled_streams_and_nothing_is_written_after(tmp_path):
    files = images(tmp_path / "in", 4)
    cache_dir, wav_dir = tmp_path / "cache", tmp_path / "wav"
    with Emulator(auth=False, pacing=Pacing.none()) as emulator, OmniClient(base_url=emulator.base_url) as client:
        emulator.inject("stall:after=2,seconds=30", times=4)
        batch = Batch(client, files, builder(client, speech=True), concurrency=2,
                      cache=Cache(cache_dir), save_dir=wav_dir)
        batch.start()
        while emulator.request_count < 2:  # both workers are in their stalled streams
            batch.wait(0.02)
        batch.wait(0.3)
        batch.stop()
        assert not any(thread.is_alive() for thread in batch._threads)
        assert batch.wait(0)
        rows = batch.results()
    assert not cache_dir.exists() or not list(cache_dir.iterdir())
    assert not wav_dir.exists() or not list(wav_dir.iterdir())
    assert rows == []  # a cut item leaves no row: it is asked again on the next run


# -- 21: a worker's failure is a row with its reason ------------------------------------------
def test_an_unwritable_cache_fails_each_item_with_its_reason(tmp_path):
    files = images(tmp_path / "in", 3)
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    with Emulator(auth=False, pacing=Pacing.none()) as emulator, OmniClient(base_url=emulator.base_url) as client:
        batch = Batch(client, files, builder(client), concurrency=2, cache=Cache(blocker / "cache"))
        rows = batch.run()
    assert [r.file for r in rows] == files
    assert all("notes.txt" in r.error and "cache" in r.error for r in rows)
    assert batch.progress().failed == 3


def test_an_unexpected_error_in_a_worker_is_a_row_not_a_silent_death(tmp_path):
    files = images(tmp_path / "in", 3)

    def build(path):
        if path.endswith("img1.png"):
            raise PermissionError(13, "Permission denied", path)
        return client.prepare("Describe it", attachments=[Attachment("image", path)])

    with Emulator(auth=False, pacing=Pacing.none()) as emulator, OmniClient(base_url=emulator.base_url) as client:
        rows = Batch(client, files, build, concurrency=1).run()
    assert [r.file for r in rows] == files
    assert [r.error is None for r in rows] == [True, False, True]
    assert "Permission denied" in rows[1].error


# -- 23: unloading releases the magics instance ------------------------------------------------
def test_unload_ext_releases_the_magics_instance(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "omni_magic")
    try:
        shell.run_line_magic("config", "OmniMagics.emulator_first_token = 0.0")
        shell.run_line_magic("config", "OmniMagics.emulator_per_chunk = 0.0")
        run(shell, "--text-only", "Remember me.")
        ref = weakref.ref(magics(shell))
        assert len(ref().conversation.turns) == 1
    finally:
        shell.run_line_magic("unload_ext", "omni_magic")
        shell.config.pop("OmniMagics", None)
    gc.collect()
    assert ref() is None, [type(r).__name__ for r in gc.get_referrers(ref())]
    shell.run_line_magic("load_ext", "omni_magic")  # and it loads again, fresh
    try:
        assert magics(shell).conversation.turns == []
    finally:
        shell.run_line_magic("unload_ext", "omni_magic")
    assert not any(type(c).__name__ == "OmniMagics" for c in shell.configurables)



def test_each_with_an_unwritable_cache_folder_runs_without_it_and_says_so(ip, tmp_path):
    images(tmp_path / "in", 2)
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    ip.run_line_magic("config", f"OmniMagics.cache_dir = '{blocker}/cache'")
    cap = run(ip, f"--each {tmp_path}/in --out table", "Describe it")
    table = ip.user_ns["table"]
    assert len(table) == 2 and table["error"].isna().all()
    assert "The batch cache cannot be kept" in texts(cap) and "notes.txt" in texts(cap)
