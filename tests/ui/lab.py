"""A Jupyter server and Debian's Chromium for the browser test and the live-view benchmark.

``Lab`` starts JupyterLab 4 (or Notebook 7) on loopback with every Jupyter directory isolated
under a folder of its own, the notebooks it is given copied into its root; ``stop`` ends it and
its kernels. No pytest here: ``bench/live_view.py`` imports this module too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "notebooks" / "quickstart.ipynb"
TOKEN = "omni-magic-browser-test"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium phones home, and on a closed network its connections get refused.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The live speech player starts without a click, as it does after the click on "run".
    "--autoplay-policy=no-user-gesture-required",
]
# User settings written into the isolated settings dir (JupyterLab and Notebook 7 read the same
# ones): no news/update pop-up over the notebook, and every cell kept in the DOM (no windowing) so
# selectors and screenshots see it.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# True once the notebook in the main area has a connected, idle kernel and its cells.
KERNEL_IDLE_JS = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content || !panel.context.isReady) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && panel.sessionContext.isReady && kernel.status === 'idle'
      && kernel.connectionStatus === 'connected' && panel.content.widgets.length > 0;
}"""


@dataclass(frozen=True)
class Frontend:
    """One Jupyter frontend: how to start its server and where it shows a notebook."""

    label: str  # as the README names it
    module: str  # python -m MODULE starts the server; also the package it needs
    app_name: str  # window.jupyterapp.name in the page
    major: str  # the major version window.jupyterapp.version must have
    expose_app: str  # the option that sets window.jupyterapp (run all, save, the kernel's state)
    notebook_path: str  # the notebook's page, {name} its file name
    tree_path: str | None  # a file browser page of its own, checked to list the notebook
    tag: str  # artifact names: quickstart-{tag}.png, quickstart{cell_tag}-omni-cell.png
    cell_tag: str


JUPYTERLAB = Frontend(
    label="JupyterLab 4", module="jupyterlab", app_name="JupyterLab", major="4",
    expose_app="--LabApp.expose_app_in_browser=True",
    notebook_path="/lab/tree/{name}", tree_path=None, tag="lab", cell_tag="",
)
NOTEBOOK7 = Frontend(
    label="Notebook 7", module="notebook", app_name="Jupyter Notebook", major="7",
    expose_app="--JupyterNotebookApp.expose_app_in_browser=True",
    notebook_path="/notebooks/{name}", tree_path="/tree", tag="notebook7", cell_tag="-notebook7",
)


def chromium() -> str | None:
    """Debian's Chromium (apt-get install chromium), or None."""
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A Jupyter server (JupyterLab's or Notebook 7's) on loopback with isolated Jupyter dirs;
    ``stop`` ends it and its kernels."""

    def __init__(self, base: Path, frontend: Frontend = JUPYTERLAB,
                 notebooks: Iterable[Path] = (QUICKSTART,), source: Path = ROOT) -> None:
        self.frontend = frontend
        self.source = source  # the checkout whose omni_magic the kernel imports
        self.base = base
        self.root = base / "root"
        self.runtime = base / "runtime"
        self.log_path = base / "server.log"
        self.notebooks = list(notebooks)  # copied into the server's root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DASHSCOPE_API_KEY", None)  # the embedded emulator answers
        dirs = {
            "JUPYTER_CONFIG_DIR": "config",
            # The user data dir only: sys.prefix/share/jupyter (kernel spec, ipywidgets'
            # lab extension) stays on the data path.
            "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "settings",
            "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython",  # no profile or startup files of the user's
        }
        for name, sub in dirs.items():
            path = self.base / sub
            path.mkdir(parents=True, exist_ok=True)
            env[name] = str(path)
        # The kernel imports this checkout's omni_magic (or source's), installed or not.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.source), env.get("PYTHONPATH")) if p)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for notebook in self.notebooks:
            shutil.copy(notebook, self.root / notebook.name)
        env = self.env()
        settings = Path(env["JUPYTERLAB_SETTINGS_DIR"])
        for rel, values in LAB_SETTINGS.items():
            (settings / rel).parent.mkdir(parents=True, exist_ok=True)
            (settings / rel).write_text(json.dumps(values))
        # No "build recommended" check (and dialog) on page load: the lab extensions are prebuilt.
        labconfig = Path(env["JUPYTER_CONFIG_DIR"]) / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(json.dumps({"buildCheck": False, "buildAvailable": False}))
        cmd = [
            sys.executable, "-m", self.frontend.module,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={self.root}",
            # window.jupyterapp: run commands (run all, save) and read the kernel's state.
            self.frontend.expose_app,
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.frontend.label} exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                status = self.api("GET", "/api/status")
                if isinstance(status, dict) and "started" in status:
                    return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.frontend.label} did not answer on {self.url} within 60 s:\n"
                           f"{self.log_tail()}")

    def page_url(self, name: str) -> str:
        """The address of notebook ``name`` (in the server's root) in this frontend."""
        return f"{self.url}{self.frontend.notebook_path.format(name=name)}?token={TOKEN}"

    def api(self, method: str, path: str, timeout: float = 5) -> object:
        request = urllib.request.Request(
            f"{self.url}{path}?token={TOKEN}", method=method,
            headers={"Authorization": f"token {TOKEN}"},
            data=b"" if method in ("POST", "DELETE") else None,
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body.strip() else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:  # kernels run in sessions of their own: ask the server to end them first
                for kernel in self.api("GET", "/api/kernels") or []:
                    self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=15)
            except Exception:
                pass
            try:
                self.api("POST", "/api/shutdown")
            except Exception:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    _signal_group(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
        # Any kernel left behind is recognised by its connection file in our runtime dir.
        for pid in _pids_mentioning(str(self.runtime)):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self._log is not None:
            self._log.close()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the server was started in a session (and group) of its own
    except OSError:
        pass


def _pids_mentioning(text: str) -> list[int]:
    pids = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


def screenshot_notebook(page, path: Path) -> Path:
    """A screenshot of the whole notebook: the side panel collapsed and the viewport stretched
    to the last cell's bottom (the page scrolls inside the notebook, not the window)."""
    page.evaluate("() => { const shell = window.jupyterapp.shell;"
                  " if (typeof shell.collapseLeft === 'function') shell.collapseLeft(); }")
    hidden = page.evaluate(  # how far the last cell reaches below the notebook's visible area
        """() => {
          const scroller = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')
                        || document.querySelector('.jp-NotebookPanel-notebook');
          const cells = document.querySelectorAll('.jp-NotebookPanel .jp-Cell');
          if (!scroller || !cells.length) return 0;
          const bottom = cells[cells.length - 1].getBoundingClientRect().bottom;
          return Math.ceil(bottom - scroller.getBoundingClientRect().top + scroller.scrollTop
                           - scroller.clientHeight);
        }""")
    page.set_viewport_size({"width": 1280, "height": min(1000 + max(0, int(hidden)) + 60, 8000)})
    page.evaluate("() => { const s = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
                  " if (s) s.scrollTop = 0; }")
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    return path
