"""Run notebooks headlessly in a real kernel, print their answers, save the executed copies.

    python -m omni_magic.demo notebooks/quickstart.ipynb [more.ipynb ...] [--out out/]
    python -m omni_magic.demo notebooks/*.ipynb --replay notebooks/recordings   # offline
    python -m omni_magic.demo notebooks/*.ipynb --record notebooks/recordings   # make them

Each notebook runs with the output folder as its working directory, so the
speech it saves with ``--save NAME.wav`` lands beside the executed notebook;
the ``media/`` folder next to a notebook is copied there first, so the paths
it attaches resolve and the output folder is a runnable copy.
With no DASHSCOPE_API_KEY the embedded emulator answers. ``--replay DIR`` runs
with no key and no network: the embedded emulator answers every call from the
recordings in DIR (made by ``--record DIR``, one folder per notebook).
Cells tagged ``needs-microphone`` (a recording, and the cells that use it) are
skipped with a note: recording happens in the page, between cells.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .backend import EMULATOR_NOTICE
from .catalog import API_KEY_ENV

# Cells a headless run cannot execute: a recording needs the browser's microphone, and happens
# in the page between cells. Tagged in the notebook (View > Cell Toolbar > Tags, or the property
# inspector), with every cell that uses what they record.
NEEDS_MICROPHONE = "needs-microphone"
SKIPPED = ("Skipped here: this cell needs a microphone (tagged needs-microphone). Recording happens "
           "in the page, between cells: run the notebook in JupyterLab or Jupyter Notebook.")


def _skip_note(cell: Any, index: int) -> None:
    """A cell tagged ``needs-microphone``: say it is skipped, in the output and in the saved copy
    (nbclient skips it without a word)."""
    if cell.cell_type == "code" and NEEDS_MICROPHONE in cell.metadata.get("tags", []):
        source = cell.source.strip().splitlines()
        print(f"\n[{index}] {source[0] if source else ''}\n{SKIPPED}", flush=True)
        from nbformat.v4 import new_output

        cell.outputs = [new_output("stream", name="stdout", text=SKIPPED + "\n")]


def _print_outputs(cell: Any, index: int) -> None:
    if cell.cell_type != "code":
        return
    source = cell.source.strip().splitlines()
    print(f"\n[{index}] {source[0] if source else ''}", flush=True)
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            print(output.text, end="", flush=True)
            continue
        data = output.get("data", {})
        if "text/html" in data and "<audio" in data["text/html"]:
            print("  (speech: an audio player in the notebook)")
        elif "text/plain" in data:
            print(data["text/plain"].strip("'\""), flush=True)
        elif output.output_type == "error":
            print("\n".join(output.get("traceback", [])))


def run(notebook: Path, out_dir: Path, timeout: int = 600, env: dict[str, str] | None = None) -> Path:
    """Execute ``notebook`` and write the executed copy into ``out_dir``; return its path.

    ``env`` is the kernel's environment (default: ``kernel_env()``).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    out_dir.mkdir(parents=True, exist_ok=True)
    media = notebook.parent / "media"
    if media.is_dir() and media.resolve() != (out_dir / "media").resolve():
        shutil.copytree(media, out_dir / "media", dirs_exist_ok=True)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(out_dir)}},
        on_cell_executed=lambda cell, cell_index, **_: _print_outputs(cell, cell_index),
        on_cell_start=lambda cell, cell_index, **_: _skip_note(cell, cell_index),
        skip_cells_with_tag=NEEDS_MICROPHONE,
        # The live answers' places are static once they end: no widget state is worth saving
        # (nbclient would keep every widget it ever saw, each with its 64 kB page module).
        store_widget_state=False,
    )
    target = out_dir / notebook.name
    try:
        env = dict(env if env is not None else kernel_env())
        env.setdefault("OMNI_LIVE_AUDIO", "0")  # headless: nobody listens, and no page plays it
        client.execute(env=env)
    except CellExecutionError:
        nbformat.write(nb, target)
        raise
    nbformat.write(nb, target)
    return target


def kernel_env() -> dict[str, str]:
    """This environment, with this omni_magic first on a kernel's path, installed or not."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def recording_env(notebook: Path, *, record: Path | None = None,
                  replay: Path | None = None) -> dict[str, str]:
    """The kernel's environment to record a notebook's calls, or to replay them offline."""
    env = kernel_env()
    if record is not None:
        env["OMNI_RECORD"] = str((record / notebook.stem).resolve())
    if replay is not None:
        env.pop(API_KEY_ENV, None)  # offline: the embedded emulator, never the service
        env["OMNI_RECORDINGS"] = str((replay / notebook.stem).resolve())
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m omni_magic.demo", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=[Path("notebooks/quickstart.ipynb")], type=Path)
    parser.add_argument("--out", default=Path("out"), type=Path, help="folder for the executed notebook and speech")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--record", type=Path, metavar="DIR",
                      help="record every call's stream into DIR/<notebook>/")
    mode.add_argument("--replay", type=Path, metavar="DIR",
                      help="offline: answer every call from the recordings in DIR/<notebook>/")
    args = parser.parse_args(argv)
    missing = [str(nb) for nb in args.notebooks if not nb.is_file()]
    if args.replay is not None:
        missing += [str(args.replay / nb.stem) for nb in args.notebooks
                    if not (args.replay / nb.stem).is_dir()]
    if missing:
        print(f"No notebook or recordings at {', '.join(missing)}: run this from the omni_magic "
              "checkout.", file=sys.stderr)
        return 2
    if args.replay is not None:
        print(f"Offline: every answer is replayed from {args.replay}.")
    elif not os.environ.get(API_KEY_ENV):
        print(EMULATOR_NOTICE)
    before = _speech_files(args.out)
    for notebook in args.notebooks:
        print(f"\n=== {notebook}", flush=True)
        try:
            env = recording_env(notebook, record=args.record, replay=args.replay)
            target = run(notebook, args.out, env=env)
        except Exception as exc:  # show the failing cell's error, not the runner's traceback
            print(f"\n{notebook} failed: {exc}", file=sys.stderr)
            return 1
        print(f"\nExecuted notebook: {target}")
    # Only what this run wrote: the output folder may hold speech from earlier runs.
    for wav, stamp in sorted(_speech_files(args.out).items()):
        if before.get(wav) != stamp:
            print(f"Speech: {wav} ({stamp[1]:,} bytes)")
    return 0


def _speech_files(folder: Path) -> dict[Path, tuple[int, int]]:
    """The .wav files in ``folder`` with their modification time (ns) and size."""
    found = {}
    for wav in folder.glob("*.wav"):
        stat = wav.stat()
        found[wav] = (stat.st_mtime_ns, stat.st_size)
    return found


if __name__ == "__main__":
    sys.exit(main())
