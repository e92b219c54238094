"""The magic on an in-process IPython shell, against the embedded emulator (no pacing)."""

from __future__ import annotations

import io

import httpx
import pytest
import soundfile as sf
from IPython.core.error import UsageError
from IPython.core.magic_arguments import parse_argstring
from IPython.utils.capture import capture_output

from omni_magic import InvalidRequest, OmniClient, OmniError, OmniResponse, StreamCutShort

from conftest import magics, requests_seen, run, texts

CANARY = "sk-canary-0123456789abcdef"


def test_cell_streams_text_and_speech_from_the_emulator(ip, tmp_path):
    wav = tmp_path / "hello.wav"
    cap = run(ip, f"--out reply --save {wav}", "Who are you?")
    out = texts(cap)
    assert "emulator" in out.lower() and "DASHSCOPE_API_KEY" in out  # the notice, plainly
    reply = ip.user_ns["reply"]
    assert isinstance(reply, OmniResponse) and reply.error is None
    assert "Who are you?" in reply.text and reply.text in out
    assert reply.usage["total_tokens"] == reply.usage["prompt_tokens"] + reply.usage["completion_tokens"]
    assert reply.audio.dtype.name == "int16" and reply.audio.size > reply.sample_rate // 2
    samples, rate = sf.read(wav, dtype="int16")
    assert rate == 24000 and len(samples) == reply.audio.size
    assert "prompt" in out and "completion" in out and "reported" in out  # the usage table


def test_widget_view_ends_as_static_outputs(ip):
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    try:
        cap = run(ip, "--out reply", "Describe yourself.")
    finally:
        ip.run_line_magic("config", "OmniMagics.display_mode = 'auto'")
    reply = ip.user_ns["reply"]
    markdown = [o.data["text/markdown"] for o in cap.outputs if "text/markdown" in o.data]
    assert markdown and reply.text in markdown[-1]
    audio = [o.data["text/html"] for o in cap.outputs if "<audio" in o.data.get("text/html", "")]
    assert len(audio) == 1 and "data:audio/wav;base64," in audio[0]
    assert any("omni-usage" in o.data.get("text/html", "") for o in cap.outputs)


def test_text_only_sends_no_audio(ip):
    run(ip, "--text-only --out reply", "Hello")
    reply = ip.user_ns["reply"]
    assert reply.text and reply.audio.size == 0 and reply.request["modalities"] == ["text"]


def test_the_default_model_speaks_as_tina(ip):
    run(ip, "--out reply", "Hello")
    reply = ip.user_ns["reply"]
    assert reply.request["model"] == "qwen3.5-omni-plus"
    assert reply.request["audio"] == {"voice": "Tina", "format": "wav"} and reply.voice == "Tina"
    assert reply.audio.size > 0 and not any("thinking" in key for key in reply.request)


def test_think_turns_speech_off_with_a_note(ip):
    # Qwen3-Omni-Flash is the speaking family that thinks; thinking answers in text only.
    cap = run(ip, "-m qwen3-omni-flash --think --out reply", "Why is the sky blue?")
    reply = ip.user_ns["reply"]
    assert "speech is off" in texts(cap)
    assert reply.reasoning and reply.text and reply.audio.size == 0
    assert reply.request["enable_thinking"] is True and "audio" not in reply.request
    assert reply.request["modalities"] == ["text"]


def test_think_with_a_voice_is_refused_before_sending(ip):
    run(ip, "--text-only", "warm up")  # starts the emulator so the count is observable
    before = requests_seen(ip)
    with pytest.raises(UsageError, match="--think"):
        run(ip, "-m qwen3-omni-flash --think -v Ethan", "Hi")
    assert requests_seen(ip) == before


def test_think_on_the_default_model_is_refused_naming_the_models_that_think(ip):
    run(ip, "--text-only", "warm up")
    before = requests_seen(ip)
    for line in ("--think", "--think --text-only", "--effort low"):
        with pytest.raises(InvalidRequest, match="qwen3.8-omni-flash") as info:
            run(ip, line, "Hi")
        assert "qwen3.5-omni-plus has no thinking mode" in str(info.value)
        assert "qwen3-omni-flash" in str(info.value)
    assert requests_seen(ip) == before


def test_think_from_the_config_trait_is_refused_on_the_default_model_too(ip):
    ip.run_line_magic("config", "OmniMagics.thinking = True")
    with pytest.raises(InvalidRequest, match="qwen3.8-omni-flash"):
        run(ip, "--dry-run", "Hi")
    out = texts(run(ip, "--no-think --dry-run", "Hi"))  # the cell's option wins over the trait
    assert '"model": "qwen3.5-omni-plus"' in out and "enable_thinking" not in out


def test_qwen38_answers_in_text_with_one_note_and_streams_its_reasoning(ip):
    cap = run(ip, "-m qwen3.8-omni-flash --out reply", "Why is the sky blue?")
    out = texts(cap)
    notes = [line for line in out.splitlines() if "answers in text only" in line]
    assert notes == ["qwen3.8-omni-flash answers in text only: speech is off for this cell "
                     "(qwen3.5-omni-plus speaks)."]  # one line, said once
    assert "Thinking mode answers in text only" not in out  # not a second note for the same thing
    reply = ip.user_ns["reply"]
    assert reply.error is None and reply.reasoning and reply.text and reply.audio.size == 0
    assert reply.request["modalities"] == ["text"] and "audio" not in reply.request
    # Thinking is its default: nothing to ask for, and no enable_thinking (a Qwen3-Omni-Flash field).
    assert "enable_thinking" not in reply.request and "reasoning_effort" not in reply.request
    assert "[reasoning]" in out and out.index("[reasoning]") < out.index("[answer]")


def test_qwen38_no_think_streams_no_reasoning(ip):
    run(ip, "-m qwen3.8-omni-flash --no-think --out reply", "Why is the sky blue?")
    reply = ip.user_ns["reply"]
    assert reply.error is None and reply.text and not reply.reasoning
    assert reply.request["reasoning_effort"] == "none"


@pytest.mark.parametrize("line, effort", [
    ("--no-think", "none"),
    ("--effort low", "low"),
    ("--effort none", "none"),
    ("--think --effort max", "max"),
])
def test_qwen38_effort_goes_into_the_dry_run_body(ip, line, effort):
    cap = run(ip, f"-m qwen3.8-omni-flash --dry-run {line}", "Hi")
    out = texts(cap)
    assert f'"reasoning_effort": "{effort}"' in out and out.count('"reasoning_effort"') == 1
    assert "enable_thinking" not in out and '"audio"' not in out
    assert '"modalities": [\n    "text"\n  ]' in out
    assert "answers in text only" in out and "Dry run: nothing was sent." in out
    assert magics(ip)._client._emulator is None  # nothing started, nothing sent


def test_qwen38_refuses_a_voice_and_bad_effort_before_sending(ip):
    run(ip, "--text-only", "warm up")
    before = requests_seen(ip)
    with pytest.raises(UsageError, match="text only"):
        run(ip, "-m qwen3.8-omni-flash -v Tina", "Hi")
    with pytest.raises(InvalidRequest, match="not a level"):
        run(ip, "-m qwen3.8-omni-flash --effort huge", "Hi")
    with pytest.raises(InvalidRequest, match="--no-think"):
        run(ip, "-m qwen3.8-omni-flash --no-think --effort low", "Hi")
    with pytest.raises(UsageError, match="contradict"):
        run(ip, "-m qwen3.8-omni-flash --think --no-think", "Hi")
    assert requests_seen(ip) == before


def test_search_asks_for_the_agent_strategy(ip):
    out = texts(run(ip, "--search --dry-run", "What happened today?"))
    assert '"enable_search": true' in out
    assert '"search_options": {\n    "search_strategy": "agent"\n  }' in out
    out = texts(run(ip, "--dry-run", "What happened today?"))
    assert "enable_search" not in out and "search_options" not in out  # off unless asked
    run(ip, "-m qwen3.8-omni-flash --search --out reply", "What happened today?")
    reply = ip.user_ns["reply"]
    assert reply.error is None and reply.request["enable_search"] is True


def test_search_trait_sets_the_default(ip):
    ip.run_line_magic("config", "OmniMagics.search = True")
    out = texts(run(ip, "--dry-run", "What happened today?"))
    assert '"enable_search": true' in out


def test_hi_res_sends_the_flag_and_counts_the_image_at_high_resolution(ip, tmp_path):
    import media

    path = tmp_path / "big.png"
    path.write_bytes(media.png(2048, 2048))
    out = texts(run(ip, f"--dry-run -i {path}", "Describe"))
    assert "vl_high_resolution_images" not in out and "image big.png [image]: 1,227" in out
    out = texts(run(ip, f"--hi-res --dry-run -i {path}", "Describe"))
    assert '"vl_high_resolution_images": true' in out
    assert "image big.png [image]: 4,098" in out  # 64x64 blocks + 2: past the 1,280 cap
    run(ip, f"--hi-res --text-only --out reply -i {path}", "Describe")
    reply = ip.user_ns["reply"]
    assert reply.error is None and reply.request["vl_high_resolution_images"] is True
    assert reply.usage["prompt_tokens_details"]["image_tokens"] == 4098  # the emulator agrees


def test_multichannel_asks_qwen38_to_read_stereo_as_such(ip):
    out = texts(run(ip, "-m qwen3.8-omni-flash --multichannel --dry-run", "Where is the speaker?"))
    assert '"use_multichannel": true' in out and "not documented" not in out
    out = texts(run(ip, "--multichannel --dry-run", "Where is the speaker?"))  # Qwen3.5-Omni
    assert '"use_multichannel": true' in out and "not documented to take use_multichannel" in out


def test_an_unknown_voice_on_qwen35_warns_and_is_sent(ip):
    cap = run(ip, "-v Zorro --out reply", "Hello")
    assert "Voice 'Zorro' is not in omni_magic's list for qwen3.5-omni-plus" in texts(cap)
    reply = ip.user_ns["reply"]
    assert reply.request["audio"]["voice"] == "Zorro"
    assert reply.error is None and reply.audio.size > 0  # the emulator refuses only confirmed lists


def test_max_tokens_above_qwen35s_unconfirmed_limit_warns_and_is_sent(ip):
    cap = run(ip, "--text-only --max-tokens 65537 --out reply", "Hello")
    out = texts(cap)
    assert "--max-tokens 65537 exceeds qwen3.5-omni-plus's output limit of 65,536" in out
    assert "not confirmed" in out
    reply = ip.user_ns["reply"]
    assert reply.error is None and reply.request["max_tokens"] == 65537
    assert "max_completion_tokens" not in reply.request
    cap = run(ip, "--text-only --max-tokens 65536 --out reply", "Hello")
    assert "output limit" not in texts(cap)


def test_max_tokens_at_qwen3_omni_flash_limit_is_sent(ip):
    cap = run(ip, "-m qwen3-omni-flash --text-only --max-tokens 16384 --out reply", "Hello")
    assert "output limit" not in texts(cap)
    assert ip.user_ns["reply"].request["max_tokens"] == 16384


def test_a_model_outside_the_catalog_goes_through_with_a_note(ip):
    run(ip, "--text-only", "warm up")
    before = requests_seen(ip)
    with capture_output() as cap:
        with pytest.raises(OmniError, match="model_not_found") as info:
            ip.run_cell_magic("omni", "-m no-such-model --text-only --out reply", "Hello there")
    assert not isinstance(info.value, InvalidRequest)  # the service (here the emulator) refused
    assert "404" in str(info.value) and "no-such-model" in str(info.value)
    assert requests_seen(ip) == before + 1  # it was sent
    assert ("no-such-model is not in omni_magic's catalog: limits and estimates not checked; "
            "the service decides.") in texts(cap)
    assert ip.user_ns["reply"].error is info.value


def test_an_unknown_model_in_a_dry_run_shows_the_note_and_sends_nothing(ip):
    cap = run(ip, "-m qwen4-omni-plus --dry-run", "Hello")
    out = texts(cap)
    assert "qwen4-omni-plus is not in omni_magic's catalog" in out and "the service decides" in out
    assert '"model": "qwen4-omni-plus"' in out and "Dry run: nothing was sent." in out
    assert '"voice": "Tina"' in out and "voice of the default model" in out
    assert magics(ip)._client._emulator is None  # nothing started, nothing sent


@pytest.mark.parametrize(
    "line, fix",
    [
        ("-m qwen3-omni-flash-0915 -v Serena", "voices"),  # not in its confirmed list of 17
        ("-m qwen-omni-turbo -v Tina", "voices"),
        ("-m qwen-omni-turbo --system 'Be brief.'", "--text-only"),
        ("-m qwen-omni-turbo --think", "qwen3-omni-flash"),
        ("--think", "qwen3.8-omni-flash"),  # Qwen3.5-Omni has no thinking
        ("-m qwen3-omni-flash --max-tokens 16385", "output limit"),  # confirmed: refused
        ("-m qwen3.8-omni-flash --max-tokens 131073", "output limit"),
        ("--max-tokens 0", "positive"),
        # search, high resolution and effort where the model lacks them
        ("-m qwen3-omni-flash --search", "no web search"),
        ("-m qwen3-omni-flash --hi-res", "vl_high_resolution_images"),
        ("-m qwen-omni-turbo --search", "no web search"),
        ("-m qwen-omni-turbo --hi-res", "vl_high_resolution_images"),
        ("-m qwen3-omni-flash --effort low", "reasoning_effort"),
    ],
)
def test_rule_violations_are_refused_with_the_fix_and_send_nothing(ip, line, fix):
    run(ip, "--text-only", "warm up")
    before = requests_seen(ip)
    with pytest.raises(InvalidRequest, match=fix):
        run(ip, line, "Hello there")
    assert requests_seen(ip) == before


def test_errors_render_as_one_paragraph_not_a_traceback(ip):
    result = ip.run_cell("%%omni -m qwen3-omni-flash-0915 -v Serena\nHello")
    assert isinstance(result.error_in_exec, InvalidRequest)
    rendered = result.error_in_exec._render_traceback_()
    assert len(rendered) == 1 and "Serena" in rendered[0]


def test_bad_options_are_usage_errors(ip):
    with pytest.raises(UsageError):
        run(ip, "--max-tokens lots", "Hello")
    with pytest.raises(UsageError, match="cell body"):
        run(ip, "Hello there", "Hello")


def test_conversation_carries_over_until_new(ip):
    run(ip, "--text-only --out r1", "My name is Ada.")
    run(ip, "--text-only --out r2", "What is my name?")
    second = ip.user_ns["r2"].request["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[0]["content"] == "My name is Ada."
    assert second[1]["content"] == [{"type": "text", "text": ip.user_ns["r1"].text}]
    run(ip, "--text-only --new --out reply", "Fresh start")
    assert [m["role"] for m in ip.user_ns["reply"].request["messages"]] == ["user"]
    assert len(magics(ip).conversation) == 1


def run_in_cell(shell, cell_id: str, source: str):
    """Run ``source`` the way JupyterLab does: with the id of the cell it comes from."""
    with capture_output():
        result = shell.run_cell(source, cell_id=cell_id)
    result.raise_error()


def test_rerunning_a_cell_replaces_its_turn_and_sees_only_the_turns_before_it(ip):
    run_in_cell(ip, "cell-a", "%%omni --text-only --out a1\nMy name is Ada.")
    run_in_cell(ip, "cell-b", "%%omni --text-only\nWhat is my name?")
    run_in_cell(ip, "cell-a", "%%omni --text-only --out a2\nMy name is Grace.")
    turns = magics(ip).conversation.turns
    assert [t.user["content"] for t in turns] == ["My name is Grace.", "What is my name?"]
    assert [m["role"] for m in ip.user_ns["a2"].request["messages"]] == ["user"]  # no history
    run_in_cell(ip, "cell-b", "%%omni --text-only --out b2\nWhat is my name?")
    sent = ip.user_ns["b2"].request["messages"]
    assert [m["content"] if m["role"] == "user" else m["role"] for m in sent] == [
        "My name is Grace.", "assistant", "What is my name?"]
    assert len(magics(ip).conversation) == 2
    run_in_cell(ip, "cell-c", "%%omni --text-only\nAnd now?")
    assert len(magics(ip).conversation) == 3


def test_the_answer_is_also_in_underscore_but_not_kept_in_out(ip):
    ip.run_cell("%%omni --text-only\nHi", store_history=True)
    first = ip.user_ns["_"]
    assert isinstance(first, OmniResponse) and "Hi" in first.text
    ip.run_cell("%%omni --text-only\nAgain", store_history=True)
    assert ip.user_ns["__"] is first and "Again" in ip.user_ns["_"].text
    assert not any(isinstance(v, OmniResponse) for v in ip.user_ns["Out"].values())
    kept = [k for ns in (ip.user_ns, ip.user_ns_hidden) for k, v in ns.items() if v is first]
    assert sorted(kept) == ["__", "__"]  # only the rotation holds it, in both namespaces
    ip.run_cell("6 * 7", store_history=True)
    assert ip.user_ns["_"] == 42  # ordinary results still take _ over


def test_dry_run_shows_the_request_with_the_key_masked_and_sends_nothing(ip, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    cap = run(ip, "--dry-run --system 'Answer in French.'", "What is a kernel?")
    out = texts(cap)
    assert "POST https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions" in out
    assert "Authorization: Bearer ********" in out and CANARY not in out
    assert '"stream": true' in out and '"voice": "Tina"' in out
    assert '"model": "qwen3.5-omni-plus"' in out
    assert "speech prompt (hidden) [text]: 196" in out  # the service's hidden speech prompt
    assert '"content": "Answer in French."' in out  # the quotes are the shell's, not the message's
    assert magics(ip)._client._emulator is None  # nothing started, nothing sent


def test_region_cn_goes_to_beijing(ip, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    out = texts(run(ip, "--dry-run --region cn", "Hi"))
    assert "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions" in out


@pytest.mark.parametrize("line, url", [
    ("--region us", "{us}"),
    ("--region hk", "{hk}"),
    ("--workspace ws123", "https://ws123.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1"),
    ("--region jp --workspace ws123", "https://ws123.ap-northeast-1.maas.aliyuncs.com/compatible-mode/v1"),
    ("--region de --workspace ws123", "https://ws123.eu-central-1.maas.aliyuncs.com/compatible-mode/v1"),
])
def test_regions_and_workspaces_choose_the_endpoint(ip, monkeypatch, line, url):
    from omni_magic import catalog

    regions = catalog.default().regions
    url = url.format(us=regions["us"].base_url, hk=regions["hk"].base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    out = texts(run(ip, f"--dry-run -m qwen3.8-omni-flash {line}", "Hi"))
    assert f"POST {url}/chat/completions" in out


def test_a_region_without_a_shared_endpoint_or_unknown_is_refused(ip, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    with pytest.raises(InvalidRequest, match="--workspace"):
        run(ip, "--dry-run -m qwen3.8-omni-flash --region jp", "Hi")
    with pytest.raises(InvalidRequest, match="Unknown region 'xx': use one of intl"):
        run(ip, "--dry-run --region xx", "Hi")


def test_the_endpoint_follows_dashscope_base_url_unless_a_region_is_chosen(ip, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "https://dashscope.aliyuncs.com/compatible-mode/v1")
    out = texts(run(ip, "--dry-run", "Hi"))
    assert "POST https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions" in out
    assert magics(ip)._client.backend.region == "cn"
    out = texts(run(ip, "--dry-run --region intl", "Hi"))
    assert "POST https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions" in out


def _install_client(shell, handler, base_url="http://test.invalid/v1"):
    shell.run_line_magic("config", f"OmniMagics.base_url = '{base_url}'")
    m = magics(shell)
    m._client = OmniClient(base_url=base_url, transport=httpx.MockTransport(handler), max_retries=0)
    m._client_settings = m._settings(parse_argstring(m.omni, ""))


def test_a_stream_cut_short_keeps_the_partial_answer_in_out(ip):
    body = (
        b'data: {"choices":[{"delta":{"content":"Half an"},"index":0}],"model":"m","id":"x"}\n\n'
        b'data: {"choices":[{"delta":{"content":" answer"},"index":0}],"model":"m","id":"x"}\n\n'
    )
    _install_client(ip, lambda request: httpx.Response(200, content=body))
    try:
        cap = run(ip, "--text-only --out partial", "Tell me everything")
    finally:
        ip.run_line_magic("config", "OmniMagics.base_url = ''")
    partial = ip.user_ns["partial"]
    assert partial.text == "Half an answer"
    assert isinstance(partial.error, StreamCutShort)
    out = texts(cap)
    assert "Half an answer" in out and "partial" in out
    assert len(magics(ip).conversation) == 0  # an incomplete answer is not history


def test_401_says_what_to_check_and_never_shows_the_key(ip, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    error = {"error": {"code": "invalid_api_key", "message": f"Incorrect API key provided: {CANARY}"}}
    _install_client(ip, lambda request: httpx.Response(401, json=error))
    try:
        result = ip.run_cell("%%omni --text-only\nHello")
    finally:
        ip.run_line_magic("config", "OmniMagics.base_url = ''")
    message = "".join(result.error_in_exec._render_traceback_())
    assert "DASHSCOPE_API_KEY" in message and "base URL" in message and CANARY not in message


def test_line_commands(ip):
    models = texts(run_line(ip, "models"))
    assert "qwen3-omni-flash" in models and "qwen-omni-turbo-0326" in models
    voices = texts(run_line(ip, "voices qwen-omni-turbo"))
    assert "Serena" in voices and "Chelsie" in voices and "Jada" not in voices
    default = texts(run_line(ip, "voices"))  # the default model's
    assert "qwen3.5-omni-plus: 56 voices" in default and "Tina (default)" in default
    assert "Cantonese" in default
    run(ip, "--text-only", "Remember this.")
    assert "Remember this." in texts(run_line(ip, "history"))
    run_line(ip, "reset")
    assert "No turns yet" in texts(run_line(ip, "history"))
    config = texts(run_line(ip, "config"))
    assert "region" in config and "emulator_first_token" in config
    with pytest.raises(UsageError, match="models"):
        run_line(ip, "frobnicate")


def test_changing_the_timeout_or_retries_takes_effect_on_the_next_cell(ip):
    run(ip, "--text-only", "Hi")
    ip.run_line_magic("config", "OmniMagics.timeout = 7.5")
    ip.run_line_magic("config", "OmniMagics.max_retries = 0")
    run(ip, "--text-only", "Hi again")
    client = magics(ip)._client
    assert client._http.timeout.read == 7.5 and client.max_retries == 0


def test_config_traits_set_the_defaults(ip):
    ip.run_line_magic("config", "OmniMagics.model = 'qwen-omni-turbo'")
    ip.run_line_magic("config", "OmniMagics.audio = False")
    try:
        run(ip, "--out reply", "Hi")
    finally:
        ip.run_line_magic("config", "OmniMagics.model = 'qwen3.5-omni-plus'")
        ip.run_line_magic("config", "OmniMagics.audio = True")
    reply = ip.user_ns["reply"]
    assert reply.request["model"] == "qwen-omni-turbo" and reply.request["modalities"] == ["text"]


def test_help_has_options_and_examples(ip):
    doc = ip.find_cell_magic("omni").__doc__
    for option in ("--model", "--voice", "--think", "--text-only", "--dry-run", "--save", "Examples"):
        assert option in doc


def run_line(shell, line: str):
    with capture_output() as cap:
        shell.run_line_magic("omni", line)
    return cap


def test_wav_output_is_playable_bytes(ip):
    run(ip, "--out reply", "Say hi")
    data, rate = sf.read(io.BytesIO(ip.user_ns["reply"].wav_bytes()), dtype="int16")
    assert rate == 24000 and data.ndim == 1 and len(data) == ip.user_ns["reply"].audio.size


def test_a_failure_before_any_event_is_kept_in_out_with_its_error(ip):
    _install_client(ip, lambda request: httpx.Response(503, json={"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    ip.run_line_magic("config", "OmniMagics.display_mode = 'widgets'")
    try:
        with capture_output() as cap:
            result = ip.run_cell("%%omni --text-only --out partial\nHello")
    finally:
        ip.run_line_magic("config", "OmniMagics.base_url = ''")
        ip.run_line_magic("config", "OmniMagics.display_mode = 'auto'")
    assert type(result.error_in_exec).__name__ == "ServerError"
    partial = ip.user_ns["partial"]
    assert partial.text == "" and partial.error is result.error_in_exec
    shown = [o.data.get("text/plain", "") for o in cap.outputs]
    assert any("No answer" in text for text in shown)  # the waiting widget was replaced


def test_interrupting_the_kernel_keeps_the_partial_answer(ip):
    class Interrupting(httpx.SyncByteStream):
        def __iter__(self):
            yield b'data: {"choices":[{"delta":{"content":"So far"},"index":0}]}\n\n'
            raise KeyboardInterrupt

        def close(self):
            self.closed = True

    stream = Interrupting()
    _install_client(ip, lambda request: httpx.Response(200, stream=stream))
    try:
        cap = run(ip, "--text-only --out partial", "Go on and on")
    finally:
        ip.run_line_magic("config", "OmniMagics.base_url = ''")
    partial = ip.user_ns["partial"]
    assert partial.text == "So far" and type(partial.error).__name__ == "Interrupted"
    assert getattr(stream, "closed", False)  # the connection was released at once
    assert "Interrupted" in texts(cap)
    assert ip.user_ns["_"] is partial


def _models_table(shell) -> dict[str, str]:
    """%omni models as {model id: its row}, legacy marks left on the row."""
    rows = {}
    for line in texts(run_line(shell, "models")).splitlines():
        if line.startswith("qwen"):
            rows[line.split()[0]] = line
    return rows


def test_models_lists_the_2026_families_and_marks_the_legacy_ones(ip):
    rows = _models_table(ip)
    assert {"qwen3.5-omni-plus", "qwen3.5-omni-flash", "qwen3.8-omni-flash"} <= set(rows)
    plus, flash38 = rows["qwen3.5-omni-plus"], rows["qwen3.8-omni-flash"]
    assert "Qwen3.5-Omni" in plus and "text + speech" in plus and "56*" in plus
    assert " no " in plus  # no thinking
    assert "Qwen3.8-Omni-Flash" in flash38 and "text + speech" not in flash38
    assert "on (xhigh)" in flash38 and "131,072" in flash38
    assert "--think" in rows["qwen3-omni-flash"] and "49*" in rows["qwen3-omni-flash"]
    assert "49*" not in rows["qwen3-omni-flash-2025-12-01"]  # confirmed on the snapshot
    turbo = [line for line in texts(run_line(ip, "models")).splitlines()
             if line.startswith(("qwen-omni-turbo", "qwen2.5-omni"))]
    assert len(turbo) == 5 and all("(legacy)" in line for line in turbo)
    assert not any("(legacy)" in row for name, row in rows.items()
                   if name.startswith(("qwen3.5", "qwen3.8", "qwen3-omni")))
    assert "not confirmed" in texts(run_line(ip, "models"))  # what the * means


def test_voices_say_whether_the_list_is_confirmed(ip):
    plus = texts(run_line(ip, "voices qwen3.5-omni-plus"))
    assert "qwen3.5-omni-plus: 56 voices, NOT confirmed" in plus and "Tina (default)" in plus
    assert "warning" in plus  # what an unlisted voice does
    turbo = texts(run_line(ip, "voices qwen-omni-turbo"))
    assert "confirmed by the service's documentation" in turbo and "NOT confirmed" not in turbo
    assert "Cherry (default)" in turbo
    snapshot = texts(run_line(ip, "voices qwen3-omni-flash-2025-12-01"))
    assert "49 voices, confirmed" in snapshot
    text_only = texts(run_line(ip, "voices qwen3.8-omni-flash"))
    assert "qwen3.8-omni-flash answers in text only" in text_only and "no voices" in text_only
    with pytest.raises(UsageError, match="not in omni_magic's catalog"):
        run_line(ip, "voices no-such-model")


def test_a_catalog_file_adds_a_model(ip, tmp_path):
    path = tmp_path / "extra.json"
    path.write_text('{"models": {"qwen3.5-omni-max": {"extends": "qwen3.5-omni-plus"}}}')
    assert "qwen3.5-omni-max" not in _models_table(ip)
    ip.run_line_magic("config", f"OmniMagics.catalog_file = '{path}'")
    rows = _models_table(ip)
    assert "qwen3.5-omni-max" in rows and "Qwen3.5-Omni" in rows["qwen3.5-omni-max"]
    assert "qwen3.5-omni-plus" in rows  # merged over the shipped catalog, not instead of it
    assert str(path) in texts(run_line(ip, "models"))  # the caption names the file
    assert "Tina (default)" in texts(run_line(ip, "voices qwen3.5-omni-max"))
    out = texts(run(ip, "-m qwen3.5-omni-max --dry-run", "Hi"))
    assert "not in omni_magic's catalog" not in out and '"voice": "Tina"' in out
    run(ip, "-m qwen3.5-omni-max --out reply", "Hi")  # the emulator serves it too
    reply = ip.user_ns["reply"]
    assert reply.error is None and reply.request["model"] == "qwen3.5-omni-max"
    assert reply.voice == "Tina" and reply.audio.size > 0
    with pytest.raises(InvalidRequest, match="no thinking"):  # the family's rules apply to it
        run(ip, "-m qwen3.5-omni-max --think", "Hi")
    ip.run_line_magic("config", "OmniMagics.catalog_file = ''")
    assert "qwen3.5-omni-max" not in _models_table(ip)


def test_a_malformed_catalog_file_is_a_usage_error_naming_the_file_and_line(ip, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "models": {\n    "qwen3.5-omni-max": {"extends": "qwen3.5-omni-plus",}\n  }\n}\n')
    ip.run_line_magic("config", f"OmniMagics.catalog_file = '{path}'")
    with pytest.raises(UsageError) as info:
        run_line(ip, "models")
    assert str(path) in str(info.value) and "line 3" in str(info.value)
    with pytest.raises(UsageError, match="line 3"):  # a cell fails the same way, before sending
        run(ip, "--text-only", "Hi")
    assert magics(ip)._client is None



def test_a_catalog_file_with_a_wrong_entry_names_the_file_and_line(ip, tmp_path):
    path = tmp_path / "wrong.json"
    path.write_text('{\n  "models": {\n    "qwen3.5-omni-max": {\n'
                    '      "extends": "qwen3.5-omni-nope"\n    }\n  }\n}\n')
    ip.run_line_magic("config", f"OmniMagics.catalog_file = '{path}'")
    with pytest.raises(UsageError) as info:
        run_line(ip, "models")
    message = str(info.value)
    assert str(path) in message and "line 4" in message and "qwen3.5-omni-nope" in message
