"""The notebook layer: the only part of omni_magic that imports IPython, ipywidgets and
anywidget. Below it, the library (``omni_magic.client`` and the rest) runs in any Python
program.

    magics.py    %%omni and %omni: thin glue from a cell to the library
    options.py   a cell's option values as attachments (paths, URLs, globs, variables)
    view.py      the static outputs a saved notebook keeps (answer, speech, tables, notices)
    live.py      the answer while it streams (widgets, or plain text in a terminal)
    player.py    the live speech player (an anywidget; static/player.js)
    progress.py  a batch's progress bar or line
    preview.py   thumbnails, waveforms and frame strips of what was attached
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext omni_magic``: register ``%%omni`` and ``%omni``."""
    from .magics import OmniMagics

    ipython.register_magics(OmniMagics(shell=ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext omni_magic``: stop the client (and the emulator, if it runs), and let go
    of the magics instance, its conversation and media with it: everything IPython holds it by
    (the registry, the magic table, ``shell.configurables`` where ``Magics.__init__`` put it
    for ``%config``, and the pre_run_cell callback) lets go."""
    magics = ipython.magics_manager.registry.pop("OmniMagics", None)
    if magics is not None:
        magics.close()
        configurables = getattr(ipython, "configurables", [])
        configurables[:] = [c for c in configurables if c is not magics]
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("omni", None)
