"""Regenerate the small media files the demo notebooks attach; run from anywhere:

    python notebooks/media/make_media.py

Everything is drawn or synthesized here (Pillow, espeak-ng through omni_magic's emulator,
PyAV), so the demos carry no third-party media and run offline. Needs the ``speech`` and
``video`` extras.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZE = (640, 400)


def garden() -> Image.Image:
    """A sunny garden: sky, sun, a house and a tree. Something to ask questions about."""
    img = Image.new("RGB", SIZE, (135, 196, 235))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 290, 640, 400), fill=(88, 160, 72))
    draw.ellipse((500, 40, 580, 120), fill=(250, 210, 60))
    draw.rectangle((120, 190, 300, 310), fill=(196, 90, 70))
    draw.polygon([(105, 195), (210, 120), (315, 195)], fill=(110, 60, 50))
    draw.rectangle((190, 245, 230, 310), fill=(90, 55, 40))
    draw.rectangle((140, 215, 175, 245), fill=(220, 235, 250))
    draw.rectangle((420, 220, 440, 310), fill=(100, 70, 40))
    draw.ellipse((380, 140, 480, 240), fill=(40, 120, 50))
    return img


def ball_frame(t: float) -> Image.Image:
    """A red ball bouncing across the floor at time ``t`` seconds (a 4 s loop)."""
    img = Image.new("RGB", (320, 240), (235, 235, 225))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 200, 320, 240), fill=(120, 100, 80))
    x = 20 + (t / 4.0) * 260
    y = 180 - abs(np.sin(np.pi * t)) * 120
    draw.ellipse((x - 20, y - 20, x + 20, y + 20), fill=(210, 40, 40))
    return img


def write_video(path: Path, seconds: float = 4.0, fps: int = 12) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"crf": "30"}
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_image(ball_frame(i / fps))
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def write_speech(path: Path) -> None:
    import soundfile as sf

    from omni_magic.emulator import speech

    text = ("Welcome to the school science fair. Today our class shows how plants "
            "turn sunlight into food, and why the leaves are green.")
    pcm, label = speech.synthesize(text, "Ethan")
    if "tone" in label:
        raise SystemExit("Install the speech extra first: pip install 'omni_magic[speech]'")
    # 16 kHz mono, the usual rate of recordings people attach.
    samples = np.interp(np.arange(0, len(pcm), 1.5), np.arange(len(pcm)), pcm).astype(np.int16)
    sf.write(path, samples, 16_000, subtype="PCM_16")


def main() -> None:
    garden().save(HERE / "garden.png", optimize=True)
    frames = HERE / "frames"
    frames.mkdir(exist_ok=True)
    for i, t in enumerate((0.0, 1.0, 2.0, 3.0), start=1):
        ball_frame(t).save(frames / f"frame{i}.jpg", quality=80)
    write_video(HERE / "bouncing_ball.mp4")
    write_speech(HERE / "science_fair.wav")
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and path.suffix != ".py":
            print(f"{path.relative_to(HERE)}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
