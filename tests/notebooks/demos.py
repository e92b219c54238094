"""Where the demo notebooks are, and the ones the product promises."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DEMOS = ["quickstart", "image_question", "audio_captioning", "video_description",
         "conversation", "thinking_mode", "mixed_media"]
