"""Every demo notebook replays offline from the recordings shipped in notebooks/recordings."""

from __future__ import annotations

import json
import math

import nbformat
import pytest

from omni_magic import OmniResponse, demo
from omni_magic.recording import Recording
from omni_magic.response import collect

from demos import DEMOS, NOTEBOOKS

RECORDINGS = NOTEBOOKS / "recordings"
# Run in the same kernel after the notebook: what its embedded emulator served.
STATS = ("import json\n"
         "_e = get_ipython().magics_manager.registry['OmniMagics']._client._emulator\n"
         "print(json.dumps({'requests': _e.request_count, 'replayed': _e.replayed_count}))")


@pytest.mark.parametrize("name", DEMOS)
def test_a_demo_notebook_replays_offline_from_its_recordings(name, tmp_path, monkeypatch):
    recordings = sorted((RECORDINGS / name).glob("*.jsonl"))
    assert recordings, f"no recordings for {name}: python -m omni_magic.demo notebooks/{name}.ipynb --record notebooks/recordings"
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(STATS))
    source = tmp_path / "src" / f"{name}.ipynb"
    source.parent.mkdir()
    nbformat.write(nb, source)
    (source.parent / "media").symlink_to(NOTEBOOKS / "media")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-never-used-offline")
    env = demo.recording_env(source, replay=RECORDINGS)
    assert "DASHSCOPE_API_KEY" not in env  # offline: the service is never asked
    executed = nbformat.read(demo.run(source, tmp_path / "out", env=env), as_version=4)

    stats = json.loads(executed.cells[-1].outputs[0].text)
    assert stats["requests"] == stats["replayed"] == len(recordings), (
        f"{name}: {stats}. A request no recording matches was answered live: the notebook changed "
        "since it was recorded. Re-record: python -m omni_magic.demo "
        f"notebooks/{name}.ipynb --record notebooks/recordings")
    shown = "".join(o.get("text", "") + "".join(v for v in o.get("data", {}).values() if isinstance(v, str))
                    for cell in executed.cells for o in cell.get("outputs", []))
    for path in recordings:  # each recorded answer is on the page, whole
        answer = collect(Recording.load(path).events(math.inf), OmniResponse("replay"))
        assert answer.text and answer.text in shown
