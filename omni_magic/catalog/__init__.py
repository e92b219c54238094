"""What the service offers, as data: models, aliases, families, voices, limits, token rules
and regions, read from ``models.json`` beside this file (each entry cites its page and date
and says whether the service's own documentation confirms it).

A user adds or changes entries without a release: a file named by
``%config OmniMagics.catalog_file`` or env ``OMNI_CATALOG`` is merged over the shipped one
(``load.py`` says how). ``default()`` is the shipped catalog plus ``OMNI_CATALOG``, read once.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InvalidRequest
from . import load
from .load import CatalogError
from .schema import (
    Family,
    Limits,
    MediaLimits,
    Model,
    Region,
    SchemaError,
    Source,
    Thinking,
    TokenRules,
    Voices,
    _Reader,
    read_family,
    read_model,
    read_region,
    read_source,
)

__all__ = [
    "API_KEY_ENV", "BASE_URL_ENV", "CATALOG_ENV", "Catalog", "CatalogError", "DEFAULT_MODEL",
    "Family", "Limits", "MediaLimits", "Model", "Region", "SAMPLE_RATE", "Source", "Thinking",
    "TokenRules", "Voices", "default", "find_model", "get_model", "load_catalog",
]

SHIPPED = Path(__file__).with_name("models.json")
API_KEY_ENV = "DASHSCOPE_API_KEY"
BASE_URL_ENV = "DASHSCOPE_BASE_URL"  # the official samples read the endpoint from it
CATALOG_ENV = "OMNI_CATALOG"
SAMPLE_RATE = 24_000  # the speech the service streams: PCM16 mono 24 kHz
# The official quickstart's model (help.aliyun.com/zh/model-studio/qwen-omni, 2026 editions).
DEFAULT_MODEL = "qwen3.5-omni-plus"


class Catalog:
    """Models, families and regions, looked up by name. Immutable once built."""

    def __init__(self, data: Mapping[str, Any], files: tuple[str, ...] = ()) -> None:
        self.files = files  # the user files merged over the shipped one
        self.sources: dict[str, Source] = {
            k: read_source(k, _Reader(v, ("sources", k), "source")) for k, v in data.get("sources", {}).items()}
        self.regions: dict[str, Region] = {
            k: read_region(k, _Reader(v, ("regions", k), "region"), self.sources)
            for k, v in data.get("regions", {}).items()}
        families = data.get("families", {})
        self.families: dict[str, Family] = {
            k: read_family(k, _Reader(load.expand(families, k, "families"), ("families", k), "family"),
                           self.sources) for k in families}
        models = data.get("models", {})
        self.models: dict[str, Model] = {
            k.lower(): read_model(k, _Reader(load.expand(models, k, "models"), ("models", k), "model"),
                                  self.families, self.sources, self.regions) for k in models}
        self.aliases: dict[str, str] = {}
        for alias, target in data.get("aliases", {}).items():
            if not isinstance(target, str) or target.lower() not in self.models:
                raise SchemaError(("aliases", alias), f"points at {target!r}, which is not a model")
            self.aliases[alias.lower()] = target.lower()

    # -- models ------------------------------------------------------------------------------
    def find(self, name: str) -> Model | None:
        """The listed model for an id or alias (case-insensitive), or None."""
        key = name.strip().lower()
        return self.models.get(self.aliases.get(key, key))

    def family_for(self, name: str) -> Family | None:
        """The family whose name prefix ``name`` starts with (the longest prefix wins)."""
        key = name.strip().lower()
        best = max(((len(p), f) for f in self.families.values() for p in f.prefixes
                    if key.startswith(p.lower())), default=None, key=lambda pair: pair[0])
        return best[1] if best else None

    def resolve(self, name: str) -> Model | None:
        """A listed model; else an unlisted one of the family its name starts like; else None."""
        listed = self.find(name)
        if listed is not None:
            return listed
        family = self.family_for(name)
        if family is None:
            return None
        return Model(id=name.strip(), family=family, kind="unlisted", context=None, max_input=None,
                     max_output=None, regions=(), confirmed=False, listed=False)

    def get(self, name: str, region: str | None = None) -> Model:
        """A listed model, refusing an unknown name or a region the model is not offered in."""
        model = self.find(name)
        if model is None:
            raise InvalidRequest(
                f"{name!r} is not in omni_magic's catalog. Known Qwen-Omni models: "
                f"{', '.join(m.id for m in self.models.values())} (%omni models).")
        self.check_region(model, region)
        return model

    def check_region(self, model: Model, region: str | None) -> list[str]:
        """Refuse a confirmed model in a region its page says it is not offered in; for an
        unconfirmed entry, the same words as a warning."""
        if region is None or not model.listed or not model.regions or region in model.regions:
            return []
        if region not in self.regions:
            return []  # a region the catalog does not know: the service decides
        names = ", ".join(f"{self.regions[r].name} ({r})" for r in model.regions if r in self.regions)
        message = (f"{model.id} is offered in {names}, not in {self.regions[region].name} "
                   f"({region}). Pick --region {model.regions[0]} (with a key of that region), or "
                   "another model (%omni models).")
        if not model.confirmed:
            return [f"{message} (Not confirmed by the service's documentation: the request is "
                    "sent and the service decides.)"]
        raise InvalidRequest(message)

    # -- regions -----------------------------------------------------------------------------
    def region(self, key: str) -> Region:
        try:
            return self.regions[key]
        except KeyError:
            raise InvalidRequest(
                f"Unknown region {key!r}: use one of "
                f"{', '.join(f'{k} ({r.name})' for k, r in self.regions.items())}.") from None

    def region_of_url(self, url: str) -> str | None:
        """The region a DashScope endpoint URL belongs to, when its host says so."""
        host = url.split("://", 1)[-1].split("/", 1)[0].lower()
        for key, region in self.regions.items():
            shared = region.base_url and region.base_url.split("://", 1)[-1].split("/", 1)[0]
            if host == shared or (region.workspace_code
                                  and host.endswith(f".{region.workspace_code}.maas.aliyuncs.com")):
                return key
        return None


def _build(files: Iterable[Path]) -> Catalog:
    data, _ = load.read(SHIPPED)
    names: list[str] = []
    texts: list[tuple[Path, dict[str, Any], str]] = []
    for path in files:
        overlay, text = load.read(path)
        data = load.merge(data, overlay)
        names.append(str(path))
        texts.append((path, overlay, text))
    try:
        return Catalog(data, tuple(names))
    except SchemaError as exc:
        where = dotted = ".".join(exc.path)
        for path, overlay, text in reversed(texts):
            if load.owns(overlay, exc.path):
                line = load.line_of(text, exc.path) or load.line_of(text, exc.path[:2])
                where = f"{path}{f', line {line}' if line else ''}: {dotted}"
                break
        else:
            if not texts:
                where = f"{SHIPPED} (the shipped catalog): {dotted}"
        raise CatalogError(f"{where} {exc.message}. Fix the catalog file and run the cell "
                           "again.") from None


@functools.lru_cache(maxsize=8)
def _cached(files: tuple[tuple[str, float], ...]) -> Catalog:
    return _build(Path(f) for f, _ in files)


def load_catalog(*files: str | os.PathLike[str] | None) -> Catalog:
    """The shipped catalog with ``files`` merged over it in order (read again when changed)."""
    keyed = []
    for f in files:
        if not f:
            continue
        path = Path(f).expanduser()
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = -1.0  # read() says what is wrong with it
        keyed.append((str(path), mtime))
    return _cached(tuple(keyed))


def default() -> Catalog:
    """The shipped catalog, with the file named by env ``OMNI_CATALOG`` merged over it."""
    return load_catalog(os.environ.get(CATALOG_ENV))


def find_model(name: str) -> Model | None:
    return default().find(name)


def get_model(name: str, region: str | None = None) -> Model:
    return default().get(name, region)
