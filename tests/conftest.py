"""Shared test helpers: where the seed streams live, an httpx byte stream that records its
fate, SSE bodies built from chunk dicts, and running the magic on the ``ip`` shell. Import
them: ``from conftest import ...``."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import httpx
import pytest

DATA = Path(__file__).parent / "data"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


class ChunkStream(httpx.SyncByteStream):
    """A response body delivered in the given pieces, then optionally a transport error.

    ``closed`` tells whether the client released the response, which is what a
    leaked connection would fail to do.
    """

    def __init__(self, chunks: Iterable[bytes], error: Exception | None = None) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    def __iter__(self):
        yield from self.chunks
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


def sse(*chunks: Any, done: bool = True) -> bytes:
    """An SSE body the way the service sends it: one ``data:`` event per chunk, then [DONE]."""
    lines = [f"data: {json.dumps(c) if not isinstance(c, str) else c}\n\n" for c in chunks]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


# -- the magic, run on the ``ip`` shell -------------------------------------------------------
def magics(shell):
    """The OmniMagics instance the extension registered on ``shell``."""
    return shell.magics_manager.registry["OmniMagics"]


def run(shell, line: str, cell: str = "Say hello."):
    """Run ``%%omni line`` with ``cell``; what it printed and displayed (IPython's capture)."""
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        shell.run_cell_magic("omni", line, cell)
    return cap


def texts(cap) -> str:
    """Everything a terminal user would read: stdout plus the text of each display."""
    return cap.stdout + "\n".join(o.data.get("text/plain", "") for o in cap.outputs)


def requests_seen(shell) -> int:
    """How many requests the magic's embedded emulator has answered (0 before it started)."""
    client = magics(shell)._client
    emulator = client._emulator if client is not None else None
    return emulator.request_count if emulator is not None else 0


@pytest.fixture
def ip(monkeypatch):
    """An in-process IPython shell with omni_magic loaded, the emulator unpaced, no key set."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    shell = InteractiveShell.instance()
    before = set(shell.user_ns)
    shell.run_line_magic("load_ext", "omni_magic")
    shell.run_line_magic("config", "OmniMagics.emulator_first_token = 0.0")
    shell.run_line_magic("config", "OmniMagics.emulator_per_chunk = 0.0")
    yield shell
    shell.run_line_magic("unload_ext", "omni_magic")
    shell.config.pop("OmniMagics", None)  # %config outlives the extension: back to the defaults
    for name in set(shell.user_ns) - before:  # variables a test's cells created
        del shell.user_ns[name]


@dataclass
class Executed:
    """The demo notebooks after a real run: the saved copies, and the folder they ran in."""

    out: Path  # executed copies, speech saved with --save, the media they attached
    notebooks: dict[str, Any]  # name (no .ipynb) -> nbformat.NotebookNode, as saved
    stdout: str  # what the demo command printed while it ran them

    def __getitem__(self, name: str) -> Any:
        return self.notebooks[name]

    def printed(self, name: str) -> str:
        """What the demo command printed while it ran notebook ``name``, from its ``===`` line on."""
        sections = self.stdout.split("\n=== ")
        return next(s for s in sections[1:] if s.split("\n", 1)[0].endswith(f"/{name}.ipynb"))


@pytest.fixture(scope="session")
def executed(tmp_path_factory) -> Executed:
    """Every notebook in notebooks/, run top to bottom once per session in real kernels.

    One run of the README's demo command (``python -m omni_magic.demo notebooks/*.ipynb --out
    OUT``) with no API key: the embedded emulator answers, unpaced (an IPython profile of its
    own, as test_secrets.py sets one; the user's profile plays no part). Every test that reads
    an executed demo shares this run; a test that needs another environment (replay from the
    recordings, a canary key) runs the notebooks itself. Its users are marked slow (below).
    """
    import nbformat

    out = tmp_path_factory.mktemp("demos")
    ipython = tmp_path_factory.mktemp("ipython")
    profile = ipython / "profile_default"
    profile.mkdir()
    (profile / "ipython_config.py").write_text("c.OmniMagics.emulator_first_token = 0.0\n"
                                               "c.OmniMagics.emulator_per_chunk = 0.0\n")
    env = {k: v for k, v in os.environ.items() if k != "DASHSCOPE_API_KEY"}
    env["IPYTHONDIR"] = str(ipython)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    done = subprocess.run(
        [sys.executable, "-m", "omni_magic.demo", *map(str, paths), "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=NOTEBOOKS.parent, env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return Executed(out, {path.stem: nbformat.read(out / path.name, as_version=4) for path in paths},
                    done.stdout)


@pytest.hookimpl(tryfirst=True)  # before -m reads the marks
def pytest_collection_modifyitems(items) -> None:
    """A test that reads the executed demos waits for seven real kernels (~20 s): slow."""
    for item in items:
        if "executed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def kernel():
    """A real IPython kernel (jupyter_client) importing this checkout, with no API key set."""
    from jupyter_client.manager import start_new_kernel

    from omni_magic.demo import kernel_env

    env = kernel_env()
    env.pop("DASHSCOPE_API_KEY", None)
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client, code: str, timeout: float = 60) -> tuple[dict, list[dict]]:
    """Run ``code`` in the kernel; the execute reply and the iopub messages of that run."""
    msg_id = client.execute(code)
    messages = iopub(client, msg_id, timeout)
    return client.get_shell_msg(timeout=timeout)["content"], messages


def iopub(client, msg_id: str, timeout: float, until=None) -> list[dict]:
    """iopub messages of ``msg_id`` until the kernel is idle (or ``until(msg)`` is true)."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if until is not None and until(msg):
            return seen
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return seen
    raise AssertionError(f"no end of execution within {timeout} s: {[m['msg_type'] for m in seen]}")


def printed(messages: list[dict]) -> str:
    """What the code printed (its stream messages), joined."""
    return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
