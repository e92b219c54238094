"""Read catalog files and merge a user's file over the shipped one.

A user file has the shipped file's shape and holds only what it adds or changes:
tables merge key by key, anything else (a number, a list) replaces. A family or a
model may say ``"extends": "<name>"`` to start as a copy of another one. JSON always;
TOML too where Python has ``tomllib`` (3.11+).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from ..errors import InvalidRequest
from .schema import SchemaError

SECTIONS = ("sources", "regions", "families", "models", "aliases")


class CatalogError(InvalidRequest):
    """A catalog file that cannot be used; the message names the file and the line."""


def read(path: Path) -> tuple[dict[str, Any], str]:
    """The data of one catalog file and its text (for pointing at lines later)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"Cannot read the catalog file {path}: {exc.strerror or exc}. "
                           "Check the path given to OmniMagics.catalog_file or OMNI_CATALOG.") from None
    except UnicodeDecodeError:
        raise CatalogError(f"The catalog file {path} is not UTF-8 text.") from None
    if path.suffix.lower() == ".toml":
        data = _toml(text, path)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}, column "
                               f"{exc.colno}). Fix that line and run the cell again.") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: a catalog file holds a table with sections "
                           f"{', '.join(SECTIONS)}, not {type(data).__name__}.")
    unknown = sorted(set(data) - set(SECTIONS) - {"$comment"})
    if unknown:
        raise CatalogError(f"{path}, line {line_of(text, (unknown[0],)) or '?'}: unknown section "
                           f"{unknown[0]!r}; a catalog has {', '.join(SECTIONS)}.")
    return data, text


def _toml(text: str, path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise CatalogError(f"{path}: TOML catalogs need Python 3.11 or newer; write it as JSON "
                           "(the same tables) instead.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line N, column M)"
        raise CatalogError(f"{path}: not valid TOML: {exc}. Fix that line and run the cell "
                           "again.") from None


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: tables merge recursively, other values replace."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def expand(section: dict[str, Any], name: str, kind: str) -> dict[str, Any]:
    """Resolve ``extends`` chains: the entry as a copy of its base with its own fields over it."""
    seen: list[str] = []
    entry = section[name]
    chain = [entry]
    while isinstance(entry, dict) and "extends" in entry:
        base = entry["extends"]
        if base in seen or base == name:
            raise SchemaError((kind, name, "extends"), f"extends itself through {' -> '.join(seen + [base])}")
        if base not in section:
            raise SchemaError((kind, name, "extends"), f"extends {base!r}, which is not in {kind}")
        seen.append(base)
        entry = section[base]
        chain.append(entry)
    out: dict[str, Any] = {}
    for part in reversed(chain):
        out = merge(out, {k: v for k, v in part.items() if k != "extends"})
    return out


def line_of(text: str, path: tuple[str, ...]) -> int | None:
    """The line of ``path`` (``("models", "qwen4", "context")``) in a JSON or TOML text:
    each key is looked for after the one before it. None when it is not there."""
    pos = 0
    found = None
    for key in path:
        pattern = re.compile(rf'"{re.escape(key)}"|(?<![\w.-]){re.escape(key)}(?=\s*[=\].])')
        match = pattern.search(text, pos)
        if match is None:
            return None
        pos, found = match.end(), match.start()
    return None if found is None else text.count("\n", 0, found) + 1


def owns(data: dict[str, Any], path: tuple[str, ...]) -> bool:
    """Whether ``data`` (a user file) holds the entry at the start of ``path``."""
    node: Any = data
    for key in path[:2]:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True
