"""The Python samples of the service's documentation, verbatim, for tests/test_fidelity.py.

Source: Alibaba Cloud Model Studio, "オムニモーダル (Qwen-Omni)" (Japanese page, last updated
Nov 20, 2025), as captured in the seed /work/shared/seeds/000_de439b9844d4fa29.txt; each
constant names the seed lines it was copied from. Nothing here is edited: the test substitutes
the base URL and the media URLs at run time, so a reader can diff these against the page. Three
of the four "Base64 local files" samples live in tests/test_fidelity.py (modules under 440 lines).
"""

from __future__ import annotations

# Getting started (使用開始): text in, text and speech out: seed lines 19-62.
TEXT_AND_SPEECH = r'''import os
import base64
import soundfile as sf
import numpy as np
from openai import OpenAI

# 1. クライアントを初期化します
client = OpenAI(
    api_key=os.getenv("DASHSCOPE_API_KEY"),  # 環境変数が構成されていることを確認してください
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)

# 2. リクエストを開始します
try:
    completion = client.chat.completions.create(
        model="qwen3-omni-flash",
        messages=[{"role": "user", "content": "Who are you"}],
        modalities=["text", "audio"],  # テキストと音声出力を指定します
        audio={"voice": "Cherry", "format": "wav"},
        stream=True,  # True に設定する必要があります
        stream_options={"include_usage": True},
    )

    # 3. ストリーミング応答を処理し、音声をデコードします
    print("Model response:")
    audio_base64_string = ""
    for chunk in completion:
        # テキスト部分を処理します
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="")

        # 音声部分を収集します
        if chunk.choices and hasattr(chunk.choices[0].delta, "audio") and chunk.choices[0].delta.audio:
            audio_base64_string += chunk.choices[0].delta.audio.get("data", "")

    # 4. 音声ファイルを保存します
    if audio_base64_string:
        wav_bytes = base64.b64decode(audio_base64_string)
        audio_np = np.frombuffer(wav_bytes, dtype=np.int16)
        sf.write("audio_assistant.wav", audio_np, samplerate=24000)
        print("\nAudio file saved to: audio_assistant.wav")

except Exception as e:
    print(f"Request failed: {e}")
'''

# Enable or disable thinking mode (思考モードの有効化または無効化): seed lines 569-600.
THINKING = r'''import os
from openai import OpenAI

client = OpenAI(
    # シンガポールリージョンと北京リージョンでは API キーが異なります。詳細については、https://www.alibabacloud.com/help/en/model-studio/get-api-key をご参照ください
    api_key=os.getenv("DASHSCOPE_API_KEY"),
    # 以下はシンガポールリージョンの URL です。北京リージョンのモデルを使用する場合は、URL を https://dashscope.aliyuncs.com/compatible-mode/v1 に置き換えてください
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)

completion = client.chat.completions.create(
    model="qwen3-omni-flash",
    messages=[{"role": "user", "content": "Who are you"}],

    # 思考モードを有効または無効にします。思考モードでは音声出力はサポートされていません。qwen-omni-turbo は enable_thinking の設定をサポートしていません。
    extra_body={'enable_thinking': True},

    # 出力データモダリティを設定します。現在、非思考モードでは ["text","audio"] と ["text"] の 2 つがサポートされています。思考モードでは ["text"] のみがサポートされています。
    modalities=["text"],

    # 音声を設定します。思考モードでは audio パラメーターはサポートされていません。
    # audio={"voice": "Cherry", "format": "wav"},
    # エラーを回避するには、stream を True に設定する必要があります。
    stream=True,
    stream_options={"include_usage": True},
)

for chunk in completion:
    if chunk.choices:
        print(chunk.choices[0].delta)
    else:
        print(chunk.usage)
'''

# Image and text input (画像とテキストの入力): seed lines 688-728.
IMAGE = r'''import os
from openai import OpenAI

client = OpenAI(
    # シンガポールリージョンと北京リージョンでは API キーが異なります。詳細については、https://www.alibabacloud.com/help/en/model-studio/get-api-key をご参照ください
    api_key=os.getenv("DASHSCOPE_API_KEY"),
    # 以下はシンガポールリージョンの URL です。北京リージョンのモデルを使用する場合は、URL を https://dashscope.aliyuncs.com/compatible-mode/v1 に置き換えてください
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)

completion = client.chat.completions.create(
    model="qwen3-omni-flash", # モデルが Qwen3-Omni-Flash の場合、非思考モードで実行します。
    messages=[
        {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {
                        "url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20241022/emyrja/dog_and_girl.jpeg"
                    },
                },
                {"type": "text", "text": "What scene is depicted in the image?"},
            ],
        },
    ],
    # 出力データモダリティを設定します。現在サポートされているのは ["text","audio"] と ["text"] の 2 つです。
    modalities=["text", "audio"],
    audio={"voice": "Cherry", "format": "wav"},
    # エラーを回避するには、stream を True に設定する必要があります。
    stream=True,
    stream_options={
        "include_usage": True
    }
)

for chunk in completion:
    if chunk.choices:
        print(chunk.choices[0].delta)
    else:
        print(chunk.usage)
'''

# Audio and text input: seed lines 815-854.
AUDIO = r'''import os
from openai import OpenAI

client = OpenAI(
    # シンガポールリージョンと北京リージョンでは API キーが異なります。詳細については、https://www.alibabacloud.com/help/en/model-studio/get-api-key をご参照ください
    api_key=os.getenv("DASHSCOPE_API_KEY"),
    # 以下はシンガポールリージョンの URL です。北京リージョンのモデルを使用する場合は、URL を https://dashscope.aliyuncs.com/compatible-mode/v1 に置き換えてください
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)

completion = client.chat.completions.create(
    model="qwen3-omni-flash",# モデルが Qwen3-Omni-Flash の場合、非思考モードで実行します。
    messages=[
        {
            "role": "user",
            "content": [
                {
                    "type": "input_audio",
                    "input_audio": {
                        "data": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20250211/tixcef/cherry.wav",
                        "format": "wav",
                    },
                },
                {"type": "text", "text": "What is this audio about"},
            ],
        },
    ],
    # 出力データモダリティを設定します。現在サポートされているのは ["text","audio"] と ["text"] の 2 つです。
    modalities=["text", "audio"],
    audio={"voice": "Cherry", "format": "wav"},
    # エラーを回避するには、stream を True に設定する必要があります。
    stream=True,
    stream_options={"include_usage": True},
)

for chunk in completion:
    if chunk.choices:
        print(chunk.choices[0].delta)
    else:
        print(chunk.usage)
'''

# Video input as an image list: seed lines 943-984.
FRAMES = r'''import os
from openai import OpenAI

client = OpenAI(
    # シンガポールリージョンと北京リージョンでは API キーが異なります。詳細については、https://www.alibabacloud.com/help/en/model-studio/get-api-key をご参照ください
    api_key=os.getenv("DASHSCOPE_API_KEY"),
    # 以下はシンガポールリージョンの URL です。北京リージョンのモデルを使用する場合は、URL を https://dashscope.aliyuncs.com/compatible-mode/v1 に置き換えてください
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)

completion = client.chat.completions.create(
    model="qwen3-omni-flash", # モデルが Qwen3-Omni-Flash の場合、非思考モードで実行します。
    messages=[
        {
            "role": "user",
            "content": [
                {
                    "type": "video",
                    "video": [
                        "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20241108/xzsgiz/football1.jpg",
                        "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20241108/tdescd/football2.jpg",
                        "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20241108/zefdja/football3.jpg",
                        "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20241108/aedbqh/football4.jpg",
                    ],
                },
                {"type": "text", "text": "Describe the process shown in this video"},
            ],
        }
    ],
    # 出力データモダリティを設定します。現在サポートされているのは ["text","audio"] と ["text"] の 2 つです。
    modalities=["text", "audio"],
    audio={"voice": "Cherry", "format": "wav"},
    # エラーを回避するには、stream を True に設定する必要があります。
    stream=True,
    stream_options={"include_usage": True},
)

for chunk in completion:
    if chunk.choices:
        print(chunk.choices[0].delta)
    else:
        print(chunk.usage)
'''

# Video input as a video file: seed lines 1085-1123.
VIDEO = r'''import os
from openai import OpenAI

client = OpenAI(
    # シンガポールリージョンと北京リージョンでは API キーが異なります。詳細については、https://www.alibabacloud.com/help/en/model-studio/get-api-key をご参照ください
    api_key=os.getenv("DASHSCOPE_API_KEY"),
    # 以下はシンガポールリージョンの URL です。北京リージョンのモデルを使用する場合は、URL を https://dashscope.aliyuncs.com/compatible-mode/v1 に置き換えてください
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)

completion = client.chat.completions.create(
    model="qwen3-omni-flash", # モデルが Qwen3-Omni-Flash の場合、非思考モードで実行します。
    messages=[
        {
            "role": "user",
            "content": [
                {
                    "type": "video_url",
                    "video_url": {
                        "url": "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20241115/cqqkru/1.mp4"
                    },
                },
                {"type": "text", "text": "What is the content of the video?"},
            ],
        },
    ],
    # 出力データモダリティを設定します。現在サポートされているのは ["text","audio"] と ["text"] の 2 つです。
    modalities=["text", "audio"],
    audio={"voice": "Cherry", "format": "wav"},
    # エラーを回避するには、stream を True に設定する必要があります。
    stream=True,
    stream_options={"include_usage": True},
)

for chunk in completion:
    if chunk.choices:
        print(chunk.choices[0].delta)
    else:
        print(chunk.usage)
'''

# Multi-turn conversation: seed lines 1210-1256.
MULTI_TURN = r'''import os
from openai import OpenAI

client = OpenAI(
    # シンガポールリージョンと北京リージョンでは API キーが異なります。詳細については、https://www.alibabacloud.com/help/en/model-studio/get-api-key をご参照ください
    api_key=os.getenv("DASHSCOPE_API_KEY"),
    # 以下はシンガポールリージョンの URL です。北京リージョンのモデルを使用する場合は、URL を https://dashscope.aliyuncs.com/compatible-mode/v1 に置き換えてください
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)

completion = client.chat.completions.create(
    model="qwen3-omni-flash", # モデルが Qwen3-Omni-Flash の場合、非思考モードで実行します。
    messages=[
        {
            "role": "user",
            "content": [
                {
                    "type": "input_audio",
                    "input_audio": {
                        "data": "https://dashscope.oss-cn-beijing.aliyuncs.com/audios/welcome.mp3",
                        "format": "mp3",
                    },
                },
                {"type": "text", "text": "What is this audio about"},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "This audio says: Welcome to Alibaba Cloud"}],
        },
        {
            "role": "user",
            "content": [{"type": "text", "text": "Can you tell me about this company?"}],
        },
    ],
    # 出力データモダリティを設定します。現在サポートされているのは ["text","audio"] と ["text"] の 2 つです。
    modalities=["text"],
    # エラーを回避するには、stream を True に設定する必要があります。
    stream=True,
    stream_options={"include_usage": True},
)

for chunk in completion:
    if chunk.choices:
        print(chunk.choices[0].delta)
    else:
        print(chunk.usage)
'''

# Text and speech output, decoded after the stream (方法 1): seed lines 1375-1442.
SPEECH_DECODED = r'''import os
from openai import OpenAI
import base64
import numpy as np
import soundfile as sf

client = OpenAI(
    # シンガポールリージョンと北京リージョンの API キーは異なります。詳細については、「https://www.alibabacloud.com/help/en/model-studio/get-api-key」をご参照ください。
    api_key=os.getenv("DASHSCOPE_API_KEY"),
    # 以下はシンガポールリージョンの URL です。北京リージョンのモデルを使用する場合は、URL を https://dashscope.aliyuncs.com/compatible-mode/v1 に置き換えてください
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)

completion = client.chat.completions.create(
    model="qwen3-omni-flash", # モデルが Qwen3-Omni-Flash の場合、非思考モードで実行します。
    messages=[{"role": "user", "content": "Who are you"}],
    # 出力データのモダリティを設定します。現在サポートされているのは ["text","audio"] と ["text"] の 2 つです。
    modalities=["text", "audio"],
    audio={"voice": "Cherry", "format": "wav"},
    # エラーを避けるために stream は True に設定する必要があります。
    stream=True,
    stream_options={"include_usage": True},
)

# 方法 1: 生成完了後にデコード
audio_string = ""
for chunk in completion:
    if chunk.choices:
        if hasattr(chunk.choices[0].delta, "audio"):
            try:
                audio_string += chunk.choices[0].delta.audio["data"]
            except Exception as e:
                print(chunk.choices[0].delta.audio["transcript"])
    else:
        print(chunk.usage)

wav_bytes = base64.b64decode(audio_string)
audio_np = np.frombuffer(wav_bytes, dtype=np.int16)
sf.write("audio_assistant_py.wav", audio_np, samplerate=24000)

# 方法 2: 生成中にデコード (方法 2 を使用するには、方法 1 のコードをコメントアウトします)
# # PyAudio を初期化
# import pyaudio
# import time
# p = pyaudio.PyAudio()
# # オーディオストリームを作成
# stream = p.open(format=pyaudio.paInt16,
#                 channels=1,
#                 rate=24000,
#                 output=True)

# for chunk in completion:
#     if chunk.choices:
#         if hasattr(chunk.choices[0].delta, "audio"):
#             try:
#                 audio_string = chunk.choices[0].delta.audio["data"]
#                 wav_bytes = base64.b64decode(audio_string)
#                 audio_np = np.frombuffer(wav_bytes, dtype=np.int16)
#                 # オーディオデータを直接再生
#                 stream.write(audio_np.tobytes())
#             except Exception as e:
#                 print(chunk.choices[0].delta.audio["transcript"])

# time.sleep(0.8)
# # リソースをクリーンアップ
# stream.stop_stream()
# stream.close()
# p.terminate()
'''

# Base64 local files: image (eagle.png): seed lines 1571-1617.
BASE64_IMAGE = r'''import os
from openai import OpenAI
import base64

client = OpenAI(
    # シンガポールリージョンと北京リージョンの API キーは異なります。API キーを取得するには、https://www.alibabacloud.com/help/en/model-studio/get-api-key をご参照ください。
    api_key=os.getenv("DASHSCOPE_API_KEY"),
    # 次の URL はシンガポールリージョン用です。北京リージョンのモデルを使用する場合は、URL を https://dashscope.aliyuncs.com/compatible-mode/v1 に置き換えてください。
    base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
)


# Base64 エンコード形式
def encode_image(image_path):
    with open(image_path, "rb") as image_file:
        return base64.b64encode(image_file.read()).decode("utf-8")


base64_image = encode_image("eagle.png")

completion = client.chat.completions.create(
    model="qwen3-omni-flash", # Qwen3-Omni-Flash モデルを使用する場合、非思考モードで実行します。
    messages=[
        {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:image/png;base64,{base64_image}"},
                },
                {"type": "text", "text": "このイメージは何のシーンを描いていますか?"},
            ],
        },
    ],
    # 出力モダリティを設定します。サポートされているモダリティは ["text", "audio"] と ["text"] です。
    modalities=["text", "audio"],
    audio={"voice": "Cherry", "format": "wav"},
    # stream を True に設定します。そうしないと、エラーが発生します。
    stream=True,
    stream_options={"include_usage": True},
)

for chunk in completion:
    if chunk.choices:
        print(chunk.choices[0].delta)
    else:
        print(chunk.usage)
'''
