"""Storyboard -> frames (matplotlib, Agg canvas) -> H.264 MP4 through ffmpeg.

Each scene is laid out once; during its first moments the title fades in and the chart
grows (bars rise, the line is drawn), then the picture holds, so a held frame is encoded
from the same bytes instead of being drawn again. Frames go to ffmpeg's stdin as raw RGB;
ffmpeg is the static binary that the ``imageio-ffmpeg`` wheel ships, run as a separate
process (it is a GPL build; it is never linked into Python).
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sgr_skills.video._models import Scene, Storyboard

__all__ = ["INTRO_S", "encode", "ffmpeg_exe", "frames", "make_gif", "render_to"]

INTRO_S = 0.6
"""Seconds of animation at the start of each scene (or half the scene when shorter)."""

THEMES = {
    "light": {"bg": "#ffffff", "fg": "#1f2933", "muted": "#52606d", "accent": "#2f6fdf"},
    "dark": {"bg": "#111827", "fg": "#f3f4f6", "muted": "#9ca3af", "accent": "#60a5fa"},
}
PALETTE = ["#2f6fdf", "#e4572e", "#17bebb", "#ffc914", "#76b041", "#8e6c8a"]


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _ease(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return 1 - (1 - x) ** 3


def _escape(s: str) -> str:
    return s.replace("$", r"\$")  # tick labels: a dollar sign is text, never math


class _SceneArt:
    """One scene's figure and the artists that animate."""

    def __init__(self, board: Storyboard, scene: Scene) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        w, h = board.size
        self.theme = THEMES[board.theme]
        self.fig = Figure(figsize=(w / 100, h / 100), dpi=100, facecolor=self.theme["bg"])
        self.canvas = FigureCanvasAgg(self.fig)
        self.scene = scene
        self.fading: list[Any] = []
        self.bars: list[tuple[Any, float]] = []
        self.lines: list[tuple[Any, list[float], list[float]]] = []
        self._layout(board)

    def _text(self, x: float, y: float, s: str, size: float, **kw: Any) -> Any:
        t = self.fig.text(x, y, s, fontsize=size, parse_math=False, **kw)
        self.fading.append(t)
        return t

    def _layout(self, board: Storyboard) -> None:
        sc, th = self.scene, self.theme
        scale = board.size[1] / 720
        if sc.layout == "title":
            self._text(
                0.5,
                0.56,
                "\n".join(textwrap.wrap(sc.title, 40)),
                44 * scale,
                ha="center",
                va="center",
                color=th["fg"],
                weight="bold",
            )
            self._text(
                0.5,
                0.40,
                board.title if board.title != sc.title else "",
                22 * scale,
                ha="center",
                va="center",
                color=th["muted"],
            )
        else:
            self._text(
                0.06,
                0.90,
                sc.title,
                30 * scale,
                ha="left",
                va="center",
                color=th["fg"],
                weight="bold",
            )
        if sc.layout == "text":
            body = "\n".join(textwrap.wrap(sc.text, 60))
            self._text(
                0.08, 0.74, body, 22 * scale, ha="left", va="top", color=th["fg"], linespacing=1.5
            )
        elif sc.layout == "bullets":
            for i, b in enumerate(sc.bullets):
                line = "\n   ".join(textwrap.wrap(b, 64))
                self._text(
                    0.08,
                    0.76 - i * 0.085,
                    f"•  {line}",
                    21 * scale,
                    ha="left",
                    va="top",
                    color=th["fg"],
                )
        elif sc.layout in ("bar", "line"):
            self._chart(scale)
        if sc.narration:
            caption = "\n".join(textwrap.wrap(sc.narration, 90)[:3])
            self._text(
                0.5,
                0.05,
                caption,
                15 * scale,
                ha="center",
                va="bottom",
                color=th["muted"],
                style="italic",
            )

    def _chart(self, scale: float) -> None:
        data, th = self.scene.data, self.theme
        assert data is not None
        ax = self.fig.add_axes((0.1, 0.2, 0.84, 0.6), facecolor=th["bg"])
        n, k = len(data.labels), len(data.series)
        values = [v for vs in data.series.values() for v in vs]
        lo, hi = min(0.0, *values), max(0.0, *values)
        pad = (hi - lo) * 0.08 or 1.0
        ax.set_ylim(lo - (pad if lo < 0 else 0), hi + pad)
        ax.set_xticks(
            range(n),
            [_escape(lbl) for lbl in data.labels],
            color=th["fg"],
            fontsize=12 * scale,
            rotation=30 if n > 8 else 0,
        )
        ax.tick_params(colors=th["muted"], labelsize=12 * scale)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(th["muted"])
        if data.unit:
            ax.set_ylabel(_escape(data.unit), color=th["muted"], fontsize=13 * scale)
        width = 0.8 / k
        for j, (name, vs) in enumerate(data.series.items()):
            color = PALETTE[j % len(PALETTE)]
            if self.scene.layout == "bar":
                xs = [i - 0.4 + width * (j + 0.5) for i in range(n)]
                rects = ax.bar(xs, [0.0] * n, width=width * 0.92, color=color, label=_escape(name))
                self.bars += [(r, v) for r, v in zip(rects, vs, strict=True)]
            else:
                (line,) = ax.plot(
                    [], [], color=color, linewidth=3 * scale, marker="o", label=_escape(name)
                )
                self.lines.append((line, [float(i) for i in range(n)], list(vs)))
        ax.set_xlim(-0.6, n - 0.4)
        if k > 1:
            ax.legend(frameon=False, labelcolor=th["fg"], fontsize=12 * scale)

    def pose(self, t: float) -> None:
        """Set the animation state at fraction ``t`` of the intro (1 = final)."""
        e = _ease(t)
        for a in self.fading:
            a.set_alpha(_ease(t * 1.6))
        for rect, v in self.bars:
            rect.set_height(v * e)
        for line, xs, ys in self.lines:
            shown = max(1, round(len(xs) * e))
            line.set_data(xs[:shown], ys[:shown])

    def rgb(self) -> bytes:
        self.canvas.draw()
        buf = self.canvas.buffer_rgba()
        import numpy as np

        return bytes(np.asarray(buf)[:, :, :3].tobytes())


def frames(board: Storyboard) -> Iterator[tuple[bytes, bool]]:
    """Every frame as raw RGB, with ``True`` when it was drawn (``False``: a held repeat)."""
    for scene, count in zip(board.scenes, board.scene_frames(), strict=True):
        art = _SceneArt(board, scene)
        intro = max(1, min(round(INTRO_S * board.fps), count // 2))
        held: bytes | None = None
        for i in range(count):
            if i < intro:
                art.pose((i + 1) / intro)
                yield art.rgb(), True
            elif held is None:
                art.pose(1.0)
                held = art.rgb()
                yield held, True
            else:
                yield held, False


def encode(
    board: Storyboard,
    out: Path,
    *,
    on_frame: Callable[[int, int], None] | None = None,
    poster: Path | None = None,
) -> int:
    """Render ``board`` into the H.264 MP4 ``out``; return the frames written. ``on_frame``
    (done, total) runs after each frame and may raise to stop (ffmpeg is then killed)."""
    w, h = board.size
    total = sum(board.scene_frames())
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(board.fps),
        "-i", "-",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-map_metadata", "-1", str(out),
    ]  # fmt: skip
    done = 0
    poster_frame = max(1, board.scene_frames()[0]) - 1
    # stderr goes to a file, not a pipe: an encoder chatty enough to fill a pipe would block.
    with (
        tempfile.TemporaryFile() as err,
        subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err) as proc,
    ):
        assert proc.stdin is not None
        try:
            for rgb, _ in frames(board):
                proc.stdin.write(rgb)
                if poster is not None and done == poster_frame:
                    _png(poster, rgb, w, h)
                done += 1
                if on_frame is not None:
                    on_frame(done, total)
            proc.stdin.close()
        except BaseException:
            proc.kill()  # a cancel or a failure: the partial file is left for the caller
            with contextlib.suppress(OSError):
                proc.stdin.close()
            raise
        if proc.wait() != 0:
            err.seek(0)
            text = err.read().decode(errors="replace").strip()[-800:]
            raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {text}")
    return done


def _png(path: Path, rgb: bytes, w: int, h: int) -> None:
    from PIL import Image

    Image.frombytes("RGB", (w, h), rgb).save(path, format="PNG", optimize=True)


def make_gif(mp4: Path, gif: Path, *, fps: int = 8, width: int = 480) -> None:
    """A small looping preview of the MP4 (palette-optimised)."""
    graph = (
        f"fps={fps},scale={width}:-2:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse"
    )
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(mp4),
           "-vf", graph, "-loop", "0", str(gif)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"ffmpeg (gif) failed: {res.stderr.strip()[-800:]}")


def render_to(
    board: Storyboard, out_dir: Path, *, gif: bool, on_frame: Callable[[int, int], None] | None
) -> int:
    """video.mp4 and poster.png (and preview.gif) in ``out_dir``; the frames written."""
    n = encode(board, out_dir / "video.mp4", on_frame=on_frame, poster=out_dir / "poster.png")
    if gif:
        make_gif(out_dir / "video.mp4", out_dir / "preview.gif")
    return n
