"""The magic against a vllm-omni-shaped server: chosen with --dialect, or detected."""

from __future__ import annotations

import re

import numpy as np
import pytest
from IPython.utils.capture import capture_output

from omni_magic.emulator import Emulator, Pacing, speech
from omni_magic.emulator.stream import padded

PROMPT_TOKENS = re.compile(r"about (\d+) prompt tokens")


@pytest.fixture(scope="module")
def servers():
    with Emulator(auth=False, pacing=Pacing.none()) as dashscope, \
            Emulator(auth=False, pacing=Pacing.none(), dialect="vllm-omni") as vllm:
        yield dashscope, vllm


def ask(ip, line, cell="Tell me about the garden."):
    with capture_output():
        ip.run_cell_magic("omni", f"{line} --new --out reply", cell)
    return ip.user_ns["reply"]


@pytest.mark.parametrize("flag", ["--dialect vllm-omni", "--dialect vllm", "", "--dialect auto"])
def test_a_vllm_omni_server_gives_the_same_answer_as_dashscope(ip, servers, flag):
    dashscope, vllm = servers
    reference = ask(ip, f"--base-url {dashscope.base_url} --dialect dashscope")
    reply = ask(ip, f"--base-url {vllm.base_url} {flag}")  # no flag: detected from /models
    assert ip.magics_manager.registry["OmniMagics"]._client.dialect == "vllm-omni"
    assert reply.error is None and reference.error is None
    assert reply.model == reference.model == "qwen3.5-omni-plus"
    # The same words, but for DashScope's hidden speech prompt (196 tokens), which vllm-omni
    # does not add.
    [n_reply], [n_reference] = PROMPT_TOKENS.findall(reply.text), PROMPT_TOKENS.findall(reference.text)
    assert int(n_reference) - int(n_reply) == 196
    assert PROMPT_TOKENS.sub("N", reply.text) == PROMPT_TOKENS.sub("N", reference.text)
    assert "speaking as Tina" in reply.text
    # Each carries exactly the samples spoken for its text (synthesize is cached: the same call
    # the emulator made), the one padding sample included.
    for answer in (reply, reference):
        assert answer.audio.size > 0
        assert np.array_equal(answer.audio, padded(speech.synthesize(answer.text, "Tina")[0]))
    assert reply.finish_reason == reference.finish_reason == "stop"


def test_a_text_only_answer_is_the_same_from_both_servers(ip, servers):
    dashscope, vllm = servers
    reference = ask(ip, f"--base-url {dashscope.base_url} --dialect dashscope --text-only")
    reply = ask(ip, f"--base-url {vllm.base_url} --dialect vllm-omni --text-only")
    assert reply.error is None and reply.text == reference.text
    assert reply.audio.size == reference.audio.size == 0


def test_the_dialect_trait_is_the_default_and_a_change_rebuilds_the_client(ip, servers):
    _, vllm = servers
    ip.run_line_magic("config", "OmniMagics.dialect = 'dashscope'")
    ask(ip, f"--base-url {vllm.base_url} --text-only")
    assert ip.magics_manager.registry["OmniMagics"]._client.dialect == "dashscope"
    ip.run_line_magic("config", "OmniMagics.dialect = 'vllm-omni'")
    ask(ip, f"--base-url {vllm.base_url} --text-only")
    assert ip.magics_manager.registry["OmniMagics"]._client.dialect == "vllm-omni"
