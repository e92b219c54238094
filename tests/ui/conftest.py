"""What the browser tests share: the skip policy (a failure under OMNI_REQUIRE_BROWSER=1, which
.ci/run sets), Chromium's path and the folder for screenshots and saved notebooks."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable

import pytest
from lab import ROOT
from lab import chromium as _chromium


def _missing(*modules: str) -> list[str]:
    missing = []
    if _chromium() is None:
        missing.append("chromium (apt-get install chromium)")
    for module in ("playwright", "jupyterlab", *modules):
        if importlib.util.find_spec(module) is None:
            missing.append(f"the {module} package (pip install -e '.[ui]')")
    return list(dict.fromkeys(missing))


def _require(*modules: str) -> str:
    """Chromium's path, or a skip (a failure under OMNI_REQUIRE_BROWSER=1) naming what is missing."""
    missing = _missing(*modules)
    if missing:
        reason = "browser test needs " + ", ".join(missing)
        if os.environ.get("OMNI_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (OMNI_REQUIRE_BROWSER=1 forbids skipping)", pytrace=False)
        pytest.skip(reason)
    return _chromium()  # type: ignore[return-value]


@pytest.fixture(scope="module")
def require() -> Callable[..., str]:
    """The skip policy for a test that needs more packages (the notebook package, say)."""
    return _require


@pytest.fixture(scope="module")
def chromium_path() -> str:
    return _require()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("OMNI_UI_ARTIFACTS") or ROOT / "build" / "ui")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
