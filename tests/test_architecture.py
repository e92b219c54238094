"""The architecture, checked: the import-linter contract in pyproject.toml (layers, no IPython
below the notebook package, no cycles, imports inside functions included), ruff's chosen rules,
small modules, and the library running where IPython cannot be imported at all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "omni_magic"
MAX_LINES = 440  # "no module over ~400 lines"


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs)


def test_the_import_contract_holds():
    lint_imports = Path(sys.executable).with_name("lint-imports")  # import-linter's command
    done = run(str(lint_imports), "--config", "pyproject.toml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_every_library_module_is_placed_in_the_contract():
    # A module the contract does not name is checked by neither the layers nor the rule that
    # keeps IPython out of the library: a new module must be placed, not forgotten.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the contract is the same on 3.10

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = {name.strip() for layer in contracts[0]["layers"] for name in layer.split(":")}
    guarded = set(contracts[1]["source_modules"])
    modules = {f"omni_magic.{p.stem if p.is_file() else p.name}" for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
               or (p.is_dir() and (p / "__init__.py").exists())}
    assert modules - layers == set()
    assert modules - guarded - {"omni_magic.notebook"} == set()


def test_ruff_finds_nothing():
    done = run(sys.executable, "-m", "ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_module_is_large():
    sizes = {path.relative_to(ROOT): len(path.read_text().splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def test_the_library_chats_where_ipython_cannot_be_imported(tmp_path):
    # A process in which importing IPython (and the widget stack) fails, as in a plain script
    # or a server without Jupyter: the whole library imports, and a chat runs on the emulator.
    script = textwrap.dedent("""
        import sys

        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("IPython", "ipywidgets", "anywidget", "traitlets"):
                    raise ImportError(f"{name} is not installed here")

        sys.meta_path.insert(0, Refuse())
        import pkgutil, importlib
        import omni_magic
        for info in pkgutil.walk_packages(omni_magic.__path__, "omni_magic."):
            if not info.name.startswith(("omni_magic.notebook", "omni_magic.emulator.__main__")):
                importlib.import_module(info.name)
        from omni_magic import OmniClient
        with OmniClient(emulator_pacing=__import__("omni_magic.emulator").emulator.Pacing.none()) as client:
            reply = client.chat("Hello without Jupyter", model="qwen3.8-omni-flash")
        assert reply.error is None and "Hello without Jupyter" in reply.text, reply
        assert reply.reasoning and reply.usage.output > 0
        try:
            import omni_magic.notebook.magics
        except ImportError as exc:
            print("notebook refused:", exc)
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL")}
    done = run(sys.executable, "-c", script, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "ok"
    assert "notebook refused: IPython" in done.stdout  # the proof that IPython really was absent
