"""The catalog as data: the shipped file, a user's file merged over it, and the errors that
name the file and the line."""

from __future__ import annotations

import json
import sys

import pytest

from omni_magic import catalog
from omni_magic.catalog import CatalogError, load_catalog


def write(tmp_path, text: str, name: str = "mine.json"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_shipped_entry_cites_a_page_with_a_date():
    cat = catalog.default()
    entries = [*cat.models.values(), *cat.families.values(), *cat.regions.values()]
    entries += [f.tokens for f in cat.families.values()] + [f.limits for f in cat.families.values()]
    entries += [v for v in [*(f.voices for f in cat.families.values()),
                            *(m.voice_list for m in cat.models.values())] if v is not None]
    for entry in entries:
        source = cat.sources[entry.source]
        assert source.date and source.title, entry
    # Facts from third parties are never marked confirmed.
    for entry in entries:
        if getattr(entry, "confirmed", False):
            assert cat.sources[entry.source].official, entry


def test_the_shipped_catalog_has_todays_models_and_keeps_the_old_ones():
    cat = catalog.default()
    for name in ("qwen3.5-omni-plus", "qwen3.5-omni-plus-2026-03-15", "qwen3.5-omni-flash",
                 "qwen3.5-omni-flash-2026-03-15", "qwen3.8-omni-flash", "qwen3-omni-flash-2025-12-01",
                 "qwen3-omni-flash-2025-09-15", "qwen-omni-turbo", "qwen2.5-omni-7b"):
        assert cat.find(name) is not None, name
    assert cat.find("qwen3-omni-flash").same_as == "qwen3-omni-flash-2025-12-01"
    assert cat.find("QWEN3-omni-flash-0915").id == "qwen3-omni-flash-2025-09-15"
    assert [m.id for m in cat.models.values() if m.legacy] == [
        "qwen-omni-turbo", "qwen-omni-turbo-latest", "qwen-omni-turbo-2025-03-26",
        "qwen-omni-turbo-2025-01-19", "qwen2.5-omni-7b"]
    assert catalog.DEFAULT_MODEL == "qwen3.5-omni-plus" and cat.find(catalog.DEFAULT_MODEL).default_voice == "Tina"


def test_an_unlisted_name_takes_its_familys_rules_by_prefix():
    cat = catalog.default()
    later = cat.resolve("qwen3.8-omni-flash-2027-01-01")
    assert later.family.name == "qwen3.8-omni" and not later.listed and later.max_output is None
    assert cat.resolve("qwen3-omni-flash-2026-06-01").family.name == "qwen3-omni-flash"
    assert cat.resolve("qwen4-omni-plus") is None


def test_a_users_file_adds_and_changes_entries(tmp_path):
    path = write(tmp_path, json.dumps({
        "models": {
            "qwen3.5-omni-max": {"extends": "qwen3.5-omni-plus", "max_output": 8192},
            "qwen3.8-omni-flash": {"regions": ["cn"]},
        },
        "aliases": {"max": "qwen3.5-omni-max"},
    }))
    cat = load_catalog(path)
    added = cat.find("max")
    assert added.id == "qwen3.5-omni-max" and added.max_output == 8192
    assert added.context == cat.find("qwen3.5-omni-plus").context  # the rest comes from its base
    assert cat.find("qwen3.8-omni-flash").regions == ("cn",)
    assert cat.files == (str(path),)
    assert catalog.default().find("qwen3.5-omni-max") is None  # the shipped one is untouched
    assert load_catalog(path) is cat  # read once while the file is unchanged


def test_a_changed_file_is_read_again(tmp_path):
    path = write(tmp_path, json.dumps({"models": {"a-omni": {"extends": "qwen3.5-omni-plus"}}}))
    assert load_catalog(path).find("a-omni") is not None
    path.write_text(json.dumps({"models": {"b-omni": {"extends": "qwen3.5-omni-plus"}}}))
    import os

    os.utime(path, (1, 1))  # a different mtime, whatever the clock's resolution
    assert load_catalog(path).find("b-omni") is not None


@pytest.mark.parametrize("text, says", [
    ('{"models": {\n  "x": {"family": "qwen3.5-omni",\n}}}', "line 3: not valid JSON"),
    ('{"models": {\n  "x": {\n    "family": "qwen9-omni", "regions": ["cn"]}}}', "line 3: models.x.family unknown family 'qwen9-omni'"),
    ('{"models": {\n  "x": {"extends": "qwen3.5-omni-plus",\n    "contxt": 5}}}', "line 3: models.x.contxt is not a field of a model entry"),
    ('{"models": {\n  "x": {"extends": "qwen3.5-omni-plus",\n    "context": "big"}}}', "line 3: models.x.context expected a whole number"),
    ('{"models": {\n  "x": {"extends": "y"},\n  "y": {"extends": "x"}}}', "extends itself"),
    ('{"aliases": {\n  "short": "nowhere"}}', "line 2: aliases.short points at 'nowhere'"),
    ('{"modles": {}}', "line 1: unknown section 'modles'"),
    ('[1, 2]', "a catalog file holds a table"),
])
def test_a_malformed_file_is_refused_naming_the_file_and_the_line(tmp_path, text, says):
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(err.value).startswith(str(path)) and says in str(err.value)


def test_a_missing_file_says_where_it_was_looked_for(tmp_path):
    with pytest.raises(CatalogError, match=r"Cannot read the catalog file .*nothing\.json"):
        load_catalog(tmp_path / "nothing.json")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_a_toml_file_works_and_its_errors_name_the_line(tmp_path):
    good = write(tmp_path, '[models."qwen3.5-omni-max"]\nextends = "qwen3.5-omni-plus"\n', "mine.toml")
    assert load_catalog(good).find("qwen3.5-omni-max").family.name == "qwen3.5-omni"
    bad = write(tmp_path, '[models."x"]\nextends = \n', "bad.toml")
    with pytest.raises(CatalogError, match=r"bad\.toml: not valid TOML: .*line 2"):
        load_catalog(bad)


def test_the_environment_names_the_default_file(tmp_path, monkeypatch):
    path = write(tmp_path, json.dumps({"models": {"qwen3.5-omni-env": {"extends": "qwen3.5-omni-plus"}}}))
    monkeypatch.setenv(catalog.CATALOG_ENV, str(path))
    assert catalog.default().find("qwen3.5-omni-env") is not None
    monkeypatch.delenv(catalog.CATALOG_ENV)
    assert catalog.default().find("qwen3.5-omni-env") is None
