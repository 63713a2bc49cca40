"""Video render speed: frames per second of ``video_render``'s renderer against the usual way
of making a matplotlib video, in the same run on the same storyboard.

- Baseline: every frame drawn again and saved as a PNG file (``savefig``), then ffmpeg encodes
  the PNG sequence (what matplotlib's file-based movie writers do).
- Ours, no reuse: every frame drawn again, raw RGB piped to ffmpeg's stdin (no PNG round trip).
- Ours: the same pipe, and a held frame (after each scene's short intro animation) is encoded
  from the bytes already drawn instead of being drawn again.

Four scenes (title, bar, line, bullets) of 3 s at 24 fps, 720p: 288 frames. Rounds interleave.
Run: ``.venv/bin/python bench/render_bench.py``. Writes ``bench/results/render.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sgr_skills.video._models import Storyboard
from sgr_skills.video._mp4 import read_mp4
from sgr_skills.video._render import _SceneArt, encode, ffmpeg_exe

OUT = Path(__file__).parent / "results" / "render.json"
ROUNDS = 3
BOARD = Storyboard.model_validate(
    {
        "title": "Quarterly review",
        "fps": 24,
        "resolution": "720p",
        "scenes": [
            {
                "title": "Quarterly review",
                "layout": "title",
                "narration": "Where we stand.",
                "duration_s": 3,
            },
            {
                "title": "Revenue by region",
                "layout": "bar",
                "narration": "EMEA grew fastest.",
                "duration_s": 3,
                "data": {
                    "labels": ["EMEA", "APAC", "AMER", "LATAM"],
                    "series": {"Q2": [3, 4, 5, 1], "Q3": [4.5, 4.2, 5.1, 1.4]},
                },
            },
            {
                "title": "Cost trend",
                "layout": "line",
                "duration_s": 3,
                "data": {
                    "labels": [f"W{i}" for i in range(1, 13)],
                    "series": {"cost": [1, 1.2, 1.1, 1.4, 1.3, 1.5, 1.6, 1.5, 1.7, 1.8, 1.7, 1.9]},
                },
            },
            {
                "title": "Next",
                "layout": "bullets",
                "bullets": ["Hire two engineers", "Ship the widget"],
                "duration_s": 3,
            },
        ],
    }
)


def _frames_redrawn() -> Any:
    for scene, count in zip(BOARD.scenes, BOARD.scene_frames(), strict=True):
        art = _SceneArt(BOARD, scene)
        intro = max(1, min(round(0.6 * BOARD.fps), count // 2))
        for i in range(count):
            art.pose(min(1.0, (i + 1) / intro))
            yield art


def baseline_png(tmp: Path) -> float:
    t0 = time.perf_counter()
    for i, art in enumerate(_frames_redrawn()):
        art.fig.savefig(tmp / f"f{i:05d}.png", format="png")
    cmd = [
        ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-framerate",
        str(BOARD.fps),
        "-i",
        str(tmp / "f%05d.png"),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        str(tmp / "b.mp4"),
    ]
    subprocess.run(cmd, check=True)
    took = time.perf_counter() - t0
    assert read_mp4(tmp / "b.mp4").frames == sum(BOARD.scene_frames())
    return took


def ours_no_reuse(tmp: Path) -> float:
    w, h = BOARD.size
    cmd = [
        ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        str(BOARD.fps),
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        str(tmp / "n.mp4"),
    ]
    t0 = time.perf_counter()
    with subprocess.Popen(cmd, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        for art in _frames_redrawn():
            proc.stdin.write(art.rgb())
        proc.stdin.close()
    took = time.perf_counter() - t0
    assert read_mp4(tmp / "n.mp4").frames == sum(BOARD.scene_frames())
    return took


def ours(tmp: Path) -> float:
    t0 = time.perf_counter()
    encode(BOARD, tmp / "o.mp4")
    took = time.perf_counter() - t0
    assert read_mp4(tmp / "o.mp4").frames == sum(BOARD.scene_frames())
    return took


def main() -> None:
    frames = sum(BOARD.scene_frames())
    load0 = os.getloadavg()[0]
    times: dict[str, list[float]] = {
        "baseline_png_sequence": [],
        "ours_pipe_no_reuse": [],
        "ours": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        ours(Path(tmp))  # warm: fonts cached, ffmpeg in the page cache
        for r in range(ROUNDS):
            for name, fn in (
                ("baseline_png_sequence", baseline_png),
                ("ours_pipe_no_reuse", ours_no_reuse),
                ("ours", ours),
            ):
                d = Path(tmp) / f"{name}{r}"
                d.mkdir()
                times[name].append(fn(d))
    fps = {k: round(frames / statistics.median(v), 1) for k, v in times.items()}
    result = {
        "bench": "render",
        "rounds": ROUNDS,
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(load0, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "workload": {
            "frames": frames,
            "size": "1280x720",
            "fps": BOARD.fps,
            "scenes": len(BOARD.scenes),
        },
        "metrics": {
            "fps": fps,
            "speedup_vs_baseline": round(fps["ours"] / fps["baseline_png_sequence"], 2),
            "pipe_alone_vs_baseline": round(
                fps["ours_pipe_no_reuse"] / fps["baseline_png_sequence"], 2
            ),
        },
        "target": "ours faster than the PNG-sequence baseline; real time (24 fps) or better",
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    m = result["metrics"]
    print(
        f"FIGURE render frames={frames} baseline_fps={fps['baseline_png_sequence']} "
        f"pipe_fps={fps['ours_pipe_no_reuse']} ours_fps={fps['ours']} "
        f"speedup={m['speedup_vs_baseline']} load={result['loadavg_1m_before']}"
    )


if __name__ == "__main__":
    main()
