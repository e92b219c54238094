"""Batches: the throttle, the disk cache, the runner against the emulator, and ``--each``."""

from __future__ import annotations

import sys
import threading

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from PIL import Image

from omni_magic import OmniClient, OmniError
from omni_magic.attachments import Attachment
from omni_magic.batch import Batch, Cache, Progress, Row, Throttle, as_table, kind_of
from omni_magic.emulator import Emulator, Pacing


def images(folder, count):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (40 + i, 30), (i * 7 % 255, 90, 40)).save(folder / f"img{i}.png")
    return sorted((str(p) for p in folder.glob("*.png")), key=lambda f: int(f.rsplit("img", 1)[1][:-4]))


def builder(client, speech=False):
    return lambda f: client.prepare("Describe it", audio=speech, attachments=[Attachment(kind_of(f), f)])


# -- the throttle ------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_429_halves_the_limit_once_per_hold_and_holds_every_start():
    clock, stop = Clock(), threading.Event()
    throttle = Throttle(8, clock)
    throttle.slow_down(2.0)
    throttle.slow_down(2.0)  # the same burst of refusals: halved once, not twice
    assert throttle.limit == 4 and throttle.slowdowns == 2
    stop.set()
    assert throttle.acquire(stop) is False  # held: nothing starts before Retry-After
    clock.now = 2.5
    stop.clear()
    assert throttle.acquire(stop) is True and throttle.in_flight == 1
    throttle.slow_down(None)  # after the hold: halved again (default hold 1 s)
    assert throttle.limit == 2


def test_calm_successes_raise_the_limit_back_to_the_ceiling():
    clock, stop = Clock(), threading.Event()
    throttle = Throttle(4, clock)
    throttle.slow_down(0.0)
    throttle.slow_down(0.0)
    assert throttle.limit == 1
    for _ in range(20):
        assert throttle.acquire(stop)
        throttle.release(ok=True)
    assert throttle.limit == 4  # grows by one per `limit` successes, never past the ceiling


def test_progress_eta_comes_from_this_runs_pace_and_counts_down_between_answers():
    p = Progress(total=10, done=4, failed=1, sent=5, elapsed=10.0, sent_elapsed=10.0)
    assert p.finished == 5 and p.eta == pytest.approx(10.0)
    later = Progress(total=10, done=4, failed=1, sent=5, elapsed=13.0, sent_elapsed=10.0)
    assert later.eta == pytest.approx(7.0)  # no new answer for 3 s: 3 s less to go, not more
    assert Progress(total=10, done=1, sent=1, elapsed=99.0, sent_elapsed=1.0).eta == 0.0
    assert Progress(total=3, done=3).eta == 0.0
    assert Progress(total=3, done=1, cached=1).eta is None  # nothing sent yet: no pace


def test_cache_round_trips_rows_and_ignores_damaged_entries(tmp_path):
    cache = Cache(tmp_path)
    key = Cache.key("omni_magic emulator", "ab" * 32)
    assert key != Cache.key("DashScope Singapore (intl)", "ab" * 32)  # backends never mix
    cache.put(key, Row("a.png", "an answer", {"total_tokens": 3}))
    assert cache.get(key) == Row("a.png", "an answer", {"total_tokens": 3})
    (tmp_path / f"{key}.json").write_text("{not json")
    assert cache.get(key) is None


def test_kinds_come_from_file_names():
    assert [kind_of(n) for n in ("a.JPG", "b.wav", "c.mp4", "d.txt", "e")] == \
        ["image", "audio", "video", None, None]


# -- the runner against the emulator -----------------------------------------------------------
def test_a_batch_answers_every_file_in_order(tmp_path):
    files = images(tmp_path / "in", 12)
    with Emulator(auth=False, pacing=Pacing.none()) as emulator, OmniClient(base_url=emulator.base_url) as client:
        rows = Batch(client, files, builder(client), concurrency=4).run()
    assert [r.file for r in rows] == files
    # each answer is its own file's: the emulator reports the image's size
    assert all(r.error is None and f"{40 + i}x30 pixels" in r.answer for i, r in enumerate(rows))
    assert all(r.usage["total_tokens"] > 0 for r in rows)


def test_429s_slow_the_batch_down_instead_of_failing_items(tmp_path):
    files = images(tmp_path / "in", 16)
    with Emulator(auth=False, pacing=Pacing(0.05, 0.0), max_streams=2, retry_after=0.05) as emulator, \
            OmniClient(base_url=emulator.base_url) as client:
        batch = Batch(client, files, builder(client), concurrency=8)
        rows = batch.run()
        assert emulator.throttled_count > 0  # the service did refuse
    assert len(rows) == 16 and all(r.error is None for r in rows)
    assert batch.progress().slowdowns == emulator.throttled_count
    assert batch.throttle.limit < 8 or batch.throttle.slowdowns


def test_a_rerun_resumes_from_the_cache_and_a_changed_file_is_asked_again(tmp_path):
    files = images(tmp_path / "in", 6)
    cache = Cache(tmp_path / "cache")
    with Emulator(auth=False, pacing=Pacing.none()) as emulator, OmniClient(base_url=emulator.base_url) as client:
        first = Batch(client, files, builder(client, speech=True), cache=cache,
                      save_dir=tmp_path / "wav").run()
        assert emulator.request_count == 6
        Image.new("RGB", (99, 99)).save(files[2])  # one file changed since
        again = Batch(client, files, builder(client, speech=True), cache=cache,
                      save_dir=tmp_path / "wav2").run()
        assert emulator.request_count == 7
    assert [r.cached for r in again] == [True, True, False, True, True, True]
    assert [r.answer for i, r in enumerate(again) if i != 2] == [r.answer for i, r in enumerate(first) if i != 2]
    assert sorted(p.name for p in (tmp_path / "wav2").iterdir()) == sorted(f"img{i}.wav" for i in range(6))


def test_stop_keeps_what_finished_and_the_rest_resumes(tmp_path):
    files = images(tmp_path / "in", 30)
    cache = Cache(tmp_path / "cache")
    with Emulator(auth=False, pacing=Pacing(0.1, 0.0)) as emulator, OmniClient(base_url=emulator.base_url) as client:
        batch = Batch(client, files, builder(client), concurrency=3, cache=cache)
        batch.start()
        while batch.progress().done < 5:
            batch.wait(0.02)
        batch.stop()
        kept = batch.results()
        assert 5 <= len(kept) < 30 and all(r.error is None for r in kept)
        sent_before = emulator.request_count
        rest = Batch(client, files, builder(client), concurrency=3, cache=cache).run()
        assert sum(r.cached for r in rest) == len(kept)
        assert emulator.request_count - sent_before == 30 - len(kept)


def test_a_bad_file_fails_alone_and_is_never_sent(tmp_path):
    files = images(tmp_path / "in", 3)
    (tmp_path / "in" / "tiny.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    files.append(str(tmp_path / "in" / "tiny.png"))
    with Emulator(auth=False, pacing=Pacing.none()) as emulator, OmniClient(base_url=emulator.base_url) as client:
        rows = Batch(client, files, builder(client)).run()
        assert emulator.request_count == 3
    assert [r.error is None for r in rows] == [True, True, True, False]
    assert "tiny.png" in rows[3].error


def test_server_errors_are_retried_then_reported(tmp_path):
    files = images(tmp_path / "in", 2)
    with Emulator(auth=False, pacing=Pacing.none()) as emulator, OmniClient(base_url=emulator.base_url) as client:
        emulator.inject("500", times=1)
        rows = Batch(client, files, builder(client), concurrency=1, retries=1, backoff=0.01).run()
        assert [r.error for r in rows] == [None, None] and emulator.request_count == 3
        emulator.inject("503", times=5)
        rows = Batch(client, files[:1], builder(client), concurrency=1, retries=1, backoff=0.01).run()
        assert "failed" in rows[0].error


def test_the_table_is_a_dataframe_with_pandas_and_dicts_without(monkeypatch):
    rows = [Row("a.png", "A", {"total_tokens": 5}), Row("b.png", error="boom")]
    frame = as_table(rows)
    assert list(frame.columns) == ["file", "answer", "usage", "error", "speech", "cached", "note"]
    assert frame.loc[1, "error"] == "boom"
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    assert as_table(rows)[0] == {"file": "a.png", "answer": "A", "usage": {"total_tokens": 5},
                                 "error": None, "speech": None, "cached": False, "note": None}


# -- the magic ---------------------------------------------------------------------------------
def run(shell, line, cell="Describe it"):
    with capture_output() as cap:
        shell.run_cell_magic("omni", line, cell)
    return cap


def test_each_runs_a_batch_into_a_table_with_progress(ip, tmp_path):
    images(tmp_path / "in", 5)
    ip.run_line_magic("config", f"OmniMagics.cache_dir = '{tmp_path}/cache'")
    cap = run(ip, f'--each "{tmp_path}/in/*.png" --concurrency 2 --out table --save {tmp_path}/wav')
    table = ip.user_ns["table"]
    assert len(table) == 5 and table["error"].isna().all()
    assert sorted(p.name for p in (tmp_path / "wav").iterdir()) == [f"img{i}.wav" for i in range(5)]
    text = cap.stdout + "".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "5 of 5 done" in text and "img4.png" in text
    assert ip.user_ns["_"] is table
    again = run(ip, f"--each {tmp_path}/in --out table2 --save {tmp_path}/wav")
    assert ip.user_ns["table2"]["cached"].all() and "5 from the cache" in again.stdout


def test_each_without_save_asks_for_text_only(ip, tmp_path):
    images(tmp_path / "in", 2)
    ip.run_line_magic("config", "OmniMagics.batch_cache = False")
    run(ip, f"--each {tmp_path}/in --out t")
    emulator = ip.magics_manager.registry["OmniMagics"]._client._emulator
    assert emulator.request_count >= 2
    assert ip.user_ns["t"]["usage"][0]["completion_tokens_details"].get("audio_tokens", 0) == 0


def test_each_widget_progress_ends_as_a_static_summary(ip, tmp_path):
    images(tmp_path / "in", 3)
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    ip.run_line_magic("config", "OmniMagics.batch_cache = False")
    cap = run(ip, f"--each {tmp_path}/in")
    first = cap.outputs[1].data  # after the emulator notice: the bar's place, updated in place
    assert "application/vnd.jupyter.widget-view+json" in first
    summary = [o.data for o in cap.outputs if "3 of 3 done" in o.data.get("text/plain", "")]
    assert summary, [o.data.get("text/plain") for o in cap.outputs]


@pytest.mark.parametrize("line, says", [
    ("--each {tmp}/in -i x.png", "cannot go with -i/--image"),
    ("--each {tmp}/in --replay r.jsonl", "--replay"),
    ("--each {tmp}/nothing*.png", "No file matches"),
    ("--each {tmp}/in/img0.png.txt", "matches no media file"),
    ("--each {tmp}/in --save {tmp}/wav --text-only", "text only"),
    ("--concurrency 3", "add --each"),
    ("--each {tmp}/in --concurrency 0", "at least 1"),
    ("--each {tmp}/in --think", "qwen3.8-omni-flash"),  # Qwen3.5-Omni has no thinking
    ("--each {tmp}/in -m qwen3-omni-flash --search", "no web search"),
    ("--each {tmp}/in -m qwen3.8-omni-flash --save {tmp}/wav", "text only"),
    ("--each {tmp}/in -m qwen3.8-omni-flash --effort huge", "not a level"),
])
def test_each_refuses_mistakes_before_sending(ip, tmp_path, line, says):
    images(tmp_path / "in", 2)
    with pytest.raises(Exception, match=says) as info:
        ip.run_cell_magic("omni", line.format(tmp=tmp_path), "Describe it")
    assert isinstance(info.value, (UsageError, OmniError))
    client = ip.magics_manager.registry["OmniMagics"]._client
    assert client is None or client._emulator is None or client._emulator.request_count == 0


def test_each_with_a_model_outside_the_catalog_is_sent_with_a_note(ip, tmp_path):
    images(tmp_path / "in", 2)
    ip.run_line_magic("config", "OmniMagics.batch_cache = False")
    cap = run(ip, f"--each {tmp_path}/in -m no-such-model --out t")
    shown = cap.stdout + "".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert ("no-such-model is not in omni_magic's catalog: limits and estimates not checked; "
            "the service decides.") in shown
    emulator = ip.magics_manager.registry["OmniMagics"]._client._emulator
    assert emulator.request_count == 2  # each file was sent; the emulator answered 404
    errors = list(ip.user_ns["t"]["error"])
    assert len(errors) == 2 and all("404" in e and "model_not_found" in e for e in errors)


def test_each_on_qwen38_answers_in_text(ip, tmp_path):
    images(tmp_path / "in", 2)
    ip.run_line_magic("config", "OmniMagics.batch_cache = False")
    run(ip, f"--each {tmp_path}/in -m qwen3.8-omni-flash --effort low --out t")
    table = ip.user_ns["t"]
    assert table["error"].isna().all() and all(table["answer"])
    assert all(u["completion_tokens_details"].get("audio_tokens", 0) == 0 for u in table["usage"])
