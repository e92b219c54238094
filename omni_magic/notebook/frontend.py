"""What the frontend can show: whether widgets can be displayed, and the comm that keeps the live
answer's widget from being the kernel's first (moved out of magics.py, which stays short)."""

from __future__ import annotations

from typing import Any


def anchor_comm(shell: Any) -> Any:
    """One widget comm held open for the session, never displayed, so that the live answer's
    comm is never the kernel's first: JupyterLab 4.6 opens a kernel subshell for a comm target's
    first comm and deletes it with the last (``commsOverSubshells``), and the busy/idle pair of
    each create/delete_subshell_request on the control channel is taken for the kernel's own
    status (jupyter_server's ``untracked_message_types`` lists debug_request, not these; see
    jupyterlab/jupyterlab#10701): every answer read "Idle" half a second into its cell."""
    if not has_widget_frontend(shell):
        return None
    import ipywidgets

    return ipywidgets.Widget()


def has_widget_frontend(shell: Any) -> bool:
    """A kernel with a comm manager can show widgets; terminal IPython cannot."""
    return getattr(shell, "kernel", None) is not None and "TerminalInteractiveShell" not in type(shell).__name__
