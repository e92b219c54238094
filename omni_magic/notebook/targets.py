"""Where a cell writes: ``--save``'s speech, ``--record``'s recording (and ``record_to``), a
batch's ``--save DIR``. Each target is checked before anything is sent, because an answer that
streamed for a minute must not end in an error about a file name; a save that still fails
afterwards (a full disk) is a note under the answer, never the loss of it."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from ..audio import SPEECH_SUFFIXES
from ..errors import InvalidRequest
from .view import Notice

SAVE_HINT = '_.save_audio("answer.wav")'


class Saved(Notice):
    """The note that the speech was written where the cell asked."""


def speech_file(value: str, *, clock: Callable[[], time.struct_time] = time.localtime) -> Path:
    """``--save``'s file. A folder (one that exists, or a name ending in ``/``) gets a new
    ``omni-YYYYmmdd-HHMMSS.wav`` in it, never replacing a file there; a file name must end in
    .wav, .flac or .ogg; either way its folder must be writable."""
    path = Path(value).expanduser()
    if _names_folder(value, path):
        writable_folder(path, f"--save {value}")
        return _fresh_name(path, time.strftime("omni-%Y%m%d-%H%M%S", clock()), ".wav")
    if path.suffix.lower() not in SPEECH_SUFFIXES:
        raise InvalidRequest(
            f"--save {value}: speech is saved as .wav, .flac or .ogg, and "
            f"{repr(path.suffix) if path.suffix else 'a name without a suffix'} is none of them. "
            "Name the file answer.wav (or .flac, .ogg), or end the name with / to save into a "
            "folder; nothing was sent.")
    writable_folder(path.parent, f"--save {value}")
    if path.is_file() and not os.access(path, os.W_OK):
        raise InvalidRequest(f"--save {value}: the file exists and is read-only. Choose another "
                             "name; nothing was sent.")
    return path


def recording(value: str, what: str = "--record") -> str:
    """A ``--record`` FILE, or a folder (a name ending in ``/``, or one that exists) where the
    call gets a file named by its fingerprint: checked, and returned as the client takes it."""
    path = Path(value).expanduser()
    writable_folder(path if _names_folder(value, path) else path.parent, f"{what} {value}")
    return value


def record_folder(folder: str) -> str | None:
    """``%config OmniMagics.record_to``: a folder, checked (None when unset). The trailing
    separator tells the client it is a folder even before it exists; it is made at the first
    recorded payload."""
    if not folder:
        return None
    return recording(os.path.join(folder, ""), "%config OmniMagics.record_to =")


def batch_folder(value: str) -> Path:
    """``--each ... --save DIR``: a folder for one .wav per file, checked."""
    path = Path(value).expanduser()
    if not path.is_dir() and (path.exists() or path.suffix.lower() in SPEECH_SUFFIXES):
        what = "is a file, not a folder" if path.exists() else "looks like a file name"
        raise InvalidRequest(f"--save {value} {what}: with --each, --save takes a folder, and "
                             "each file's speech is saved in it as NAME.wav. Nothing was sent.")
    writable_folder(path, f"--save {value}")
    return path


def writable_folder(folder: Path, what: str) -> None:
    """Refuse unless files can be made in ``folder`` (see ``folder_problem``)."""
    problem = folder_problem(folder)
    if problem is not None:
        raise InvalidRequest(f"{what}: {problem}. Choose another path; nothing was sent.")


def folder_problem(folder: Path) -> str | None:
    """Why no file can be made in ``folder``, or None: it is a folder this process can write,
    or the nearest folder above it that exists is (the missing ones are made when writing)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder, so nothing can be written under it"
    try:  # permissions alone do not say (root, ACLs, read-only mounts): try a file, at once gone
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"cannot write in {existing} ({exc.strerror or exc})"
    return None


def save_speech(response: Any, path: Path) -> Notice:
    """Save the speech for ``--save``; the note that says where (or why not) goes under the
    answer. Whatever goes wrong here, the answer itself is already complete and stays."""
    if not response.audio_chunks:
        return Notice("No speech to save: this answer was text only.", "warn")
    partial = response.error is not None
    if partial:  # never in place of what may be an earlier, complete answer's file
        path = path.with_name(f"{path.stem}.partial{path.suffix}")
    try:
        saved = response.save_audio(path)
        if partial:
            return Saved(f"The answer was cut short ({type(response.error).__name__}): its "
                         f"{response.audio_seconds:.1f} s of speech so far are saved to {saved}, "
                         f"not to {path.name.replace('.partial', '')}.", "warn")
        return Saved(f"Speech saved to {saved}")
    except Exception as exc:  # any failure to write costs the file only, never the answer
        return Notice(f"Could not save the speech to {path}: {exc}. The answer is kept: save it "
                      f"with {SAVE_HINT} (another path).", "warn")


def _names_folder(value: str, path: Path) -> bool:
    return path.is_dir() or value.endswith(("/", os.sep))


def _fresh_name(folder: Path, stem: str, suffix: str) -> Path:
    """``stem + suffix`` in ``folder``, or ``stem-2``, ``stem-3``... when it is taken."""
    candidate, number = folder / f"{stem}{suffix}", 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{stem}-{number}{suffix}"
    return candidate
