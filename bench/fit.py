"""Time and peak memory of ``--fit`` on a 200 MB 1080p video and a 60-minute mp3, against ffmpeg.

    python bench/fit.py [--runs 3] [--keep] [--folder DIR]

The media are made once (tests/media_kinds.py, in seconds): a phone video held upright, 1920×1080
stored, tagged to be turned 90°, 30 fps H.264 at 6 Mbit/s with AAC 48 kHz stereo sound, 242 s
(about 200 MB); and a 60-minute 44.1 kHz stereo mp3 at 128 kbit/s (about 58 MB). Both are over
the service's 10 MB inline cap, so ``fit.fit_media(..., apply=True)`` for qwen3.5-omni-plus
re-encodes them.

The baseline is one plain ``ffmpeg`` command line making the same output: for the video, the
frames the service samples (2 a second, ``fps=2``) at the size omni_magic resizes them to,
H.264 (``-preset veryfast``) at the same bitrate with the same one-second VBV buffer, the sound
as 16 kHz mono AAC at 32 kbit/s; for the audio, 16 kHz mono MP3 at the bitrate omni_magic
chooses. Without ``ffmpeg`` on PATH the baseline is skipped (said so) and omni_magic is still
measured.

Every run is a fresh process; its time is the wall time of the job in it (omni_magic: from
before ``import omni_magic`` to the fitted bytes; ffmpeg: the whole ffmpeg process) and its
peak memory the job's own maximum resident set (``ru_maxrss``: omni_magic's process, which
includes the interpreter, PyAV and numpy; ffmpeg's, read by a small Python wrapper as
RUSAGE_CHILDREN once ffmpeg has ended). The medians of ``--runs`` runs are printed, with the
ratios omni_magic/ffmpeg, and the outputs are probed (omni_magic.probe) to check they are the
same job: both under the base64 cap, same frame count, size, length and sound.

Not a test (pytest collects only tests/), and not run in CI: timings vary on shared machines.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "qwen3.5-omni-plus"
CACHE = Path(tempfile.gettempdir()) / "omni_magic_bench_fit"
VIDEO = "phone_1080p_242s.mp4"
AUDIO = "lecture_60min.mp3"


# -- the children: one job each, in a fresh process ----------------------------------------------

def peak_mb() -> float:
    """This process's peak resident memory. Linux's ``ru_maxrss`` starts from the parent's peak
    at the fork (kept across exec), so a child of a big parent would report the parent's; the
    VmHWM line of /proc/self/status is this program's own."""
    status = Path("/proc/self/status")
    if status.exists():
        for row in status.read_text().splitlines():
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_omni(kind: str, source: str, out: str) -> None:
    """Fit one file as ``--fit`` does, write the bytes that would be sent, report time and RSS."""
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from omni_magic.attachments import Attachment
    from omni_magic.catalog import get_model
    from omni_magic.fit import fit_media

    imported = peak_mb()
    (fitted,) = fit_media([Attachment(kind, source)], get_model(MODEL), False, apply=True)
    seconds = time.perf_counter() - start
    used = resource.getrusage(resource.RUSAGE_SELF)
    if not isinstance(fitted.source, bytes):
        raise SystemExit(f"{source} was not fitted into one file: {fitted.kind}, {fitted.note}")
    Path(out).write_bytes(fitted.source)
    print(json.dumps({"seconds": seconds, "cpu": used.ru_utime + used.ru_stime,
                      "peak_mb": peak_mb(), "imports_mb": imported,
                      "note": fitted.note}))


def child_ffmpeg(command: list[str]) -> None:
    """Run one ffmpeg command line; report its wall time and its own peak RSS."""
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    # ffmpeg is this process's only child; its ru_maxrss is at least this small wrapper's peak
    # (about 10 MB, printed as floor_mb), for the reason peak_mb() gives.
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "cpu": used.ru_utime + used.ru_stime,
                      "peak_mb": used.ru_maxrss / 1024, "floor_mb": peak_mb()}))


def run_child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the media and the baseline's command lines --------------------------------------------------

def make_media(folder: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from media_kinds import mp3, phone_video

    video, audio = folder / VIDEO, folder / AUDIO
    if not video.exists():
        phone_video(folder, 242.0, 1920, 1080, 30, rotate=90, mbps=6.0, name=VIDEO)
    if not audio.exists():
        mp3(folder, 3600.0, 44_100, 2, 128_000, name=AUDIO)
    return video, audio


def video_job(path: Path) -> tuple[tuple[int, int], int]:
    """The size and picture bitrate (kbit/s) omni_magic encodes this video at: the same sums
    as ``fit.video_cure`` (its first try, which fits here), so ffmpeg is asked the same."""
    sys.path.insert(0, str(ROOT))
    from omni_magic import fit, transcode
    from omni_magic.catalog import get_model
    from omni_magic.probe import probe_video

    model = get_model(MODEL)
    info = probe_video(path, path.name)
    sampling = fit.Sampling.of(path, path.name, info.width, info.height, info.fps, 0.0, info.seconds, model)
    budget = fit.raw_cap(model.family.limits.video) * fit.MARGIN - 16_384
    picture = budget - transcode.AAC_KBPS * 125 * info.seconds * 1.05
    return sampling.size, int(picture * 8 / info.seconds / 1000)


def audio_kbps(path: Path) -> int:
    """The MP3 bitrate ``fit.audio_cure`` chooses for this file (the highest that fits)."""
    sys.path.insert(0, str(ROOT))
    from omni_magic import fit
    from omni_magic.catalog import get_model
    from omni_magic.probe import probe_audio

    model = get_model(MODEL)
    seconds = probe_audio(path, path.name).seconds
    budget = fit.raw_cap(model.family.limits.audio) * fit.MARGIN - 8192
    return next(k for k in fit.MP3_KBPS if seconds * k * 125 * 1.02 <= budget)


def ffmpeg_video(ffmpeg: str, source: Path, out: Path, size: tuple[int, int], kbps: int) -> list[str]:
    # ffmpeg turns a phone's video upright before the filters (autorotate), as omni_magic does.
    return [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(source),
            "-vf", f"fps=2,scale={size[0]}:{size[1]}:flags=area", "-pix_fmt", "yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k",
            "-bufsize", f"{kbps}k", "-c:a", "aac", "-ac", "1", "-ar", "16000", "-b:a", "32k",
            "-f", "mp4", str(out)]


def ffmpeg_audio(ffmpeg: str, source: Path, out: Path, kbps: int) -> list[str]:
    return [ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(source), "-vn", "-ac", "1",
            "-ar", "16000", "-c:a", "libmp3lame", "-b:a", f"{kbps}k",
            "-compression_level", "7", "-f", "mp3", str(out)]  # LAME -q 7, as transcode.py asks


# -- checking that both did the same job ---------------------------------------------------------

def describe(kind: str, path: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    import av

    from omni_magic.catalog import get_model
    from omni_magic.limits import encoded_length
    from omni_magic.probe import probe_audio, probe_video

    limits = getattr(get_model(MODEL).family.limits, kind)
    info = (probe_video if kind == "video" else probe_audio)(path, path.name)
    with av.open(str(path)) as container:
        sound = container.streams.audio[0] if container.streams.audio else None
        rate, channels = (sound.rate, sound.channels) if sound is not None else (None, None)
    return {"bytes": info.nbytes, "fits": encoded_length(info.nbytes) < limits.max_inline_chars,
            "frames": info.frames, "size": (info.width, info.height), "seconds": info.seconds,
            "sound": (rate, channels)}


def comparable(kind: str, ours: dict, theirs: dict) -> list[str]:
    """What differs between the two outputs beyond the encoders' own choices (empty: same job)."""
    found = [f"{who} output is over the 10 MB base64 cap" for who, d in (("omni_magic", ours), ("ffmpeg", theirs))
             if not d["fits"]]
    keys = ("frames", "size", "sound") if kind == "video" else ("sound",)
    found += [f"{key}: omni_magic {ours[key]}, ffmpeg {theirs[key]}" for key in keys if ours[key] != theirs[key]]
    if abs(ours["seconds"] - theirs["seconds"]) > 1.0:
        found.append(f"length: omni_magic {ours['seconds']:.1f} s, ffmpeg {theirs['seconds']:.1f} s")
    return found


# -- the report ----------------------------------------------------------------------------------

def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def spread(runs: list[dict], key: str) -> str:
    return f"{min(r[key] for r in runs):.1f}-{max(r[key] for r in runs):.1f}" if len(runs) > 1 else ""


def line(way: str, runs: list[dict], out: dict) -> str:
    return (f"  {way:<10} {median(runs, 'seconds'):7.1f} s ({spread(runs, 'seconds'):>9}) "
            f"cpu {median(runs, 'cpu'):6.1f} s  peak {median(runs, 'peak_mb'):6.0f} MB "
            f"({spread(runs, 'peak_mb'):>11})  out {out['bytes'] / 1e6:5.2f} MB")


def bench(kind: str, source: Path, folder: Path, baseline: list[str] | None, runs: int) -> None:
    label = "video" if kind == "video" else "audio"
    ours_out, theirs_out = folder / f"out_omni_{label}", folder / f"out_ffmpeg_{label}"
    ours = [run_child(["omni", kind, str(source), str(ours_out)]) for _ in range(runs)]
    theirs = [run_child(["ffmpeg", *baseline]) for _ in range(runs)] if baseline else []
    ours_desc = describe(kind, ours_out)
    print(f"{source.name}: {source.stat().st_size / 1e6:.1f} MB in; medians of {runs} "
          "(range), time is wall time, cpu is user+system")
    print(line("omni_magic", ours, ours_desc))
    print(f"             of which before the job (interpreter, omni_magic): "
          f"{median(ours, 'imports_mb'):.0f} MB; note: {ours[-1]['note']}")
    print(f"             output: {ours_desc['frames'] or '-'} frames, {ours_desc['size']}, "
          f"{ours_desc['seconds']:.1f} s, sound {ours_desc['sound']}")
    if not theirs:
        return
    theirs_desc = describe(kind, theirs_out)
    print(line("ffmpeg", theirs, theirs_desc))
    print(f"             (its peak counts at least the wrapper's {median(theirs, 'floor_mb'):.0f} MB)")
    print(f"  ratio omni_magic/ffmpeg: time {median(ours, 'seconds') / median(theirs, 'seconds'):.2f}x, "
          f"cpu {median(ours, 'cpu') / median(theirs, 'cpu'):.2f}x, "
          f"peak memory {median(ours, 'peak_mb') / median(theirs, 'peak_mb'):.2f}x, "
          f"output {ours_desc['bytes'] / theirs_desc['bytes']:.2f}x")
    differences = comparable(kind, ours_desc, theirs_desc)
    print("  same job: " + ("yes (both under the cap; same frames, size, length, sound)"
                            if not differences else "NO: " + "; ".join(differences)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each way; the median is shown")
    parser.add_argument("--keep", action="store_true",
                        help=f"make the media into --folder once and reuse them (default {CACHE})")
    parser.add_argument("--folder", type=Path, default=CACHE, help="where --keep keeps the media")
    parser.add_argument("--only", choices=("video", "audio"), help="one of the two files")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        way, *rest = args.child
        child_omni(*rest) if way == "omni" else child_ffmpeg(rest)
        return
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("ffmpeg is not on PATH: the baseline is skipped, omni_magic alone is measured "
              "(Debian/Ubuntu: apt-get install ffmpeg).")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        video, audio = make_media(folder)
        print(f"media in {folder} ({time.perf_counter() - started:.0f} s to make or find)\n")
        if args.only != "audio":
            size, kbps = video_job(video)
            baseline = ffmpeg_video(ffmpeg, video, folder / "out_ffmpeg_video", size, kbps) if ffmpeg else None
            print(f"video: {size[0]}×{size[1]} at 2 fps, H.264 {kbps} kbit/s (VBV {kbps}k), AAC 16 kHz mono 32k")
            bench("video", video, folder, baseline, args.runs)
            print()
        if args.only != "video":
            kbps = audio_kbps(audio)
            baseline = ffmpeg_audio(ffmpeg, audio, folder / "out_ffmpeg_audio", kbps) if ffmpeg else None
            print(f"audio: 16 kHz mono MP3 at {kbps} kbit/s")
            bench("audio", audio, folder, baseline, args.runs)


if __name__ == "__main__":
    main()
