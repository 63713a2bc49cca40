"""``sgr.video.render``: the worker side of ``video_render``."""

from __future__ import annotations

import time
from typing import Any

from sgr_kernel.dispatch.base import JobCancelled, current_job, job

__all__ = ["RENDER_JOB", "render"]

RENDER_JOB = "sgr.video.render"


@job(RENDER_JOB)
def render(storyboard: dict[str, Any], gif: bool = False) -> dict[str, Any]:
    """Render the storyboard; progress at least every 0.5 s, cancel between frames. The MP4
    is read back from its boxes, so what is reported is what the file holds."""
    from sgr_skills._extras import require_on_worker

    require_on_worker("numpy", "matplotlib", "imageio_ffmpeg", "PIL")
    from sgr_skills.video._models import Storyboard
    from sgr_skills.video._mp4 import read_mp4
    from sgr_skills.video._render import render_to

    ctx = current_job()
    board = Storyboard.model_validate(storyboard)
    last = [0.0]

    def on_frame(done: int, total: int) -> None:
        if ctx.cancelled():
            raise JobCancelled(ctx.key)
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == total:
            last[0] = now
            ctx.progress(0.95 * done / total, f"frame {done}/{total}", frames=done)

    written = render_to(board, ctx.artifact_dir, gif=gif, on_frame=on_frame)
    info = read_mp4(ctx.artifact_dir / "video.mp4")
    ctx.progress(1.0, f"encoded {info.frames} frames ({info.codec})", frames=info.frames)
    return {
        "written": written,
        "frames": info.frames,
        "duration_s": info.duration_s,
        "width": info.width,
        "height": info.height,
        "codec": info.codec,
    }
