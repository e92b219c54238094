"""Issue 17, item 3: the emulator authenticates like the service (401 invalid_api_key)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from omni_magic.client import OmniClient
from omni_magic.emulator import Emulator, Pacing
from omni_magic.emulator.admin import admin_open

BODY = {"model": "qwen3-omni-flash", "stream": True, "modalities": ["text"],
        "messages": [{"role": "user", "content": "Hi"}]}


def post(url: str, auth: str | None) -> httpx.Response:
    headers = {} if auth is None else {"Authorization": auth}
    return httpx.post(f"{url}/chat/completions", json=BODY, headers=headers, timeout=30)


@pytest.mark.parametrize("auth", [None, "", "Bearer", "Basic dXNlcjpwdw=="])
def test_no_bearer_token_gets_the_services_401(auth):
    with Emulator(pacing=Pacing.none()) as em:
        r = post(em.base_url, auth)
    assert r.status_code == 401
    body = r.json()
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["message"].startswith("Incorrect API key provided")
    assert r.headers["X-Request-Id"] == body["request_id"]


def test_any_bearer_token_is_accepted_without_a_key_of_its_own():
    with Emulator(pacing=Pacing.none()) as em:
        assert post(em.base_url, "Bearer anything").status_code == 200


def test_a_given_key_is_the_only_one_accepted():
    with Emulator(pacing=Pacing.none(), api_key="sk-right") as em:
        assert post(em.base_url, "Bearer sk-wrong").status_code == 401
        assert post(em.base_url, "Bearer sk-right").status_code == 200
        r = post(em.base_url, "Bearer sk-wrong")
    assert "sk-right" not in r.text and "sk-wrong" not in r.text


def test_auth_off_accepts_all():
    with Emulator(pacing=Pacing.none(), auth=False) as em:
        assert post(em.base_url, None).status_code == 200


def test_models_needs_a_key_and_admin_routes_do_not_from_loopback():
    with Emulator(pacing=Pacing.none(), api_key="sk-right") as em:
        assert httpx.get(f"{em.base_url}/models").status_code == 401
        ok = httpx.get(f"{em.base_url}/models", headers={"Authorization": "Bearer sk-right"})
        assert ok.status_code == 200
        root = em.base_url.split("/compatible-mode")[0]
        assert httpx.get(f"{root}/_emulator/stats").status_code == 200


def test_admin_routes_are_open_to_loopback_only():
    assert admin_open("127.0.0.1") and admin_open("::1") and admin_open("::ffff:127.0.0.1")
    assert not admin_open("192.168.1.20") and not admin_open("not an address")


def test_the_embedded_emulator_has_a_key_of_its_own_and_the_client_sends_it(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.delenv("DASHSCOPE_BASE_URL", raising=False)
    with OmniClient(emulator_pacing=Pacing.none()) as client:
        answer = client.chat("Hi")
        assert answer.error is None and answer.text
        em = client._emulator
        # Anyone else on the machine without its key is refused.
        assert post(client.base_url, "Bearer guess").status_code == 401
        secret = em._key
        assert secret is not None and len(secret.reveal()) >= 32
        shown = repr(client) + repr(em) + repr(vars(em)) + repr(vars(client)) + repr(client._http.auth)
        assert secret.reveal() not in shown


def test_a_dry_run_shows_the_embedded_emulators_key_masked(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with OmniClient(emulator_pacing=Pacing.none()) as client:
        assert client.headers()["Authorization"] == "Bearer ********"


def test_two_embedded_emulators_have_different_keys(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with OmniClient(emulator_pacing=Pacing.none()) as a, OmniClient(emulator_pacing=Pacing.none()) as b:
        a.base_url, b.base_url  # noqa: B018 - starts both
        assert a._emulator._key != b._emulator._key


@contextlib.contextmanager
def _serve(*args: str) -> Iterator[tuple[str, str]]:
    """``python -m omni_magic.emulator ARGS`` until the block ends: (base URL, what it printed)."""
    proc = subprocess.Popen([sys.executable, "-m", "omni_magic.emulator", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline() + proc.stdout.readline()  # its address, then the advice
        url = next(w for w in line.split() if w.startswith("http://")).rstrip(",")
        yield url, line
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_command_line_asks_for_a_bearer_token_and_says_how():
    with _serve("--no-pacing") as (url, printed):
        assert post(url, None).status_code == 401
        assert post(url, "Bearer any").status_code == 200
    assert "Bearer" in printed


def test_the_command_line_no_auth_accepts_all():
    with _serve("--no-pacing", "--no-auth") as (url, _):
        assert post(url, None).status_code == 200
