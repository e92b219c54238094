"""Where the demo notebooks are, and the ones the product promises."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DEMOS = ["quickstart", "image_question", "audio_captioning", "video_description",
         "conversation", "thinking_mode", "mixed_media"]
# Demos whose questions are recorded in the page: headless runs skip those cells (tagged
# needs-microphone), so they ask nothing there and have no recordings to replay; the browser
# test runs them with a fake microphone (tests/ui/test_voice.py).
WITH_MICROPHONE = ["voice_conversation"]
