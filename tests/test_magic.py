"""The magic on an in-process IPython shell, against the embedded emulator (no pacing)."""

from __future__ import annotations

import io

import httpx
import pytest
import soundfile as sf
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from omni_magic import InvalidRequest, OmniClient, OmniResponse, StreamCutShort

CANARY = "sk-canary-0123456789abcdef"


def magics(shell):
    return shell.magics_manager.registry["OmniMagics"]


def run(shell, line: str, cell: str):
    with capture_output() as cap:
        shell.run_cell_magic("omni", line, cell)
    return cap


def texts(cap) -> str:
    """Everything a terminal user would read: stdout plus the text of each display."""
    return cap.stdout + "\n".join(o.data.get("text/plain", "") for o in cap.outputs)


def requests_seen(shell) -> int:
    client = magics(shell)._client
    emulator = client._emulator if client is not None else None
    return emulator.request_count if emulator is not None else 0


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


def test_think_turns_speech_off_with_a_note(ip):
    cap = run(ip, "--think --out reply", "Why is the sky blue?")
    reply = ip.user_ns["reply"]
    assert "speech is off" in texts(cap)
    assert reply.reasoning and reply.text and reply.audio.size == 0
    assert reply.request["enable_thinking"] is True and "audio" not in reply.request


def test_think_with_a_voice_is_refused_before_sending(ip):
    run(ip, "--text-only", "warm up")  # starts the emulator so the count is observable
    before = requests_seen(ip)
    with pytest.raises(UsageError, match="--think"):
        run(ip, "--think -v Ethan", "Hi")
    assert requests_seen(ip) == before


@pytest.mark.parametrize(
    "line, fix",
    [
        ("-v Serena", "voices"),  # a turbo voice on qwen3-omni-flash
        ("-m qwen-omni-turbo --system 'Be brief.'", "--text-only"),
        ("-m no-such-model", "Known Qwen-Omni models"),
        ("-m qwen-omni-turbo --think", "qwen3-omni-flash"),
        ("--max-tokens 999999", "output limit"),
        ("--max-tokens 0", "positive"),
    ],
)
def test_rule_violations_are_refused_with_the_fix_and_send_nothing(ip, line, fix):
    run(ip, "--text-only", "warm up")
    before = requests_seen(ip)
    with pytest.raises(InvalidRequest, match=fix):
        run(ip, line, "Hello there")
    assert requests_seen(ip) == before


def test_errors_render_as_one_paragraph_not_a_traceback(ip):
    result = ip.run_cell("%%omni -v Serena\nHello")
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
    assert '"stream": true' in out and '"voice": "Cherry"' in out
    assert '"content": "Answer in French."' in out  # the quotes are the shell's, not the message's
    assert magics(ip)._client._emulator is None  # nothing started, nothing sent


def test_region_cn_goes_to_beijing(ip, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", CANARY)
    out = texts(run(ip, "--dry-run --region cn", "Hi"))
    assert "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions" in out


def _install_client(shell, handler, base_url="http://test.invalid/v1"):
    shell.run_line_magic("config", f"OmniMagics.base_url = '{base_url}'")
    m = magics(shell)
    m._client = OmniClient(base_url=base_url, transport=httpx.MockTransport(handler), max_retries=0)
    m._client_settings = m._settings("intl", base_url)


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
    assert "Cantonese" in texts(run_line(ip, "voices"))
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
        ip.run_line_magic("config", "OmniMagics.model = 'qwen3-omni-flash'")
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
