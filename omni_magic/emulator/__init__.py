"""The embedded emulator: a local server speaking DashScope's streaming protocol (SPEC §3).

It is not a model. Its reply states plainly what it received and, when speech
is asked for, speaks that reply. ``python -m omni_magic.emulator`` runs it
stand-alone; ``Emulator`` runs it inside the current process::

    with Emulator(pacing=Pacing.none()) as emu:
        post(f"{emu.base_url}/chat/completions", ...)
"""

from __future__ import annotations

from .pacing import Pacing
from .server import Emulator

__all__ = ["Emulator", "Pacing"]
