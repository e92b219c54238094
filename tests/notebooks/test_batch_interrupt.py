"""A 200-file batch in a real kernel: the progress bar moves, an interrupt stops it cleanly,
and the next run resumes from the disk cache, asking only for what was not done."""

from __future__ import annotations

import pytest
from PIL import Image

from omni_magic.emulator import Emulator, Pacing

from conftest import execute, iopub, printed

FILES = 200


@pytest.fixture
def emulator():
    with Emulator(auth=False, pacing=Pacing(first_token=0.08, per_chunk=0.0)) as server:
        yield server


def bar_value(msg: dict) -> int | None:
    """The progress bar's value, from a widget state update the kernel sent."""
    if msg["msg_type"] != "comm_msg":
        return None
    state = msg["content"].get("data", {}).get("state", {})
    return state.get("value") if isinstance(state.get("value"), int) else None


def test_a_batch_shows_progress_stops_on_interrupt_and_resumes(emulator, kernel, tmp_path):
    for i in range(FILES):
        Image.new("RGB", (32 + i % 50, 24), (i % 256, 80, 160)).save(tmp_path / f"p{i:03d}.png")
    manager, client = kernel
    reply, _ = execute(client, "%load_ext omni_magic\n"
                               f"%config OmniMagics.base_url = {emulator.base_url!r}\n"
                               f"%config OmniMagics.cache_dir = {str(tmp_path / 'cache')!r}")
    assert reply["status"] == "ok"
    cell = f"%%omni --each {tmp_path}/*.png --concurrency 4 --out table\nA one-line caption."

    msg_id = client.execute(cell)
    values: list[int] = []

    def enough(msg):
        value = bar_value(msg)
        if value is not None:
            values.append(value)
        return bool(values) and values[-1] >= 20

    iopub(client, msg_id, 120, until=enough)
    manager.interrupt_kernel()
    after = iopub(client, msg_id, 60)
    assert client.get_shell_msg(timeout=30)["content"]["status"] == "ok"  # no traceback
    assert len(set(values)) >= 3 and values == sorted(values)  # the bar moved forward, live
    summary = [m["content"]["data"]["text/plain"] for m in after if m["msg_type"] == "update_display_data"]
    assert summary and summary[-1].startswith("Interrupted:")

    reply, messages = execute(client, "print(len(table), table['error'].isna().all())")
    kept, all_ok = printed(messages).split()
    kept = int(kept)
    assert 20 <= kept < FILES and all_ok == "True"
    sent_before = emulator.request_count

    reply, messages = execute(client, cell, timeout=180)
    assert reply["status"] == "ok"
    reply, messages = execute(client, "print(len(table), int(table['cached'].sum()), "
                                      "table['error'].isna().all())")
    assert printed(messages).split() == [str(FILES), str(kept), "True"]
    # Resumed: only what the first run had not finished was asked again.
    assert emulator.request_count - sent_before == FILES - kept
