"""A rendered video reaches the RunView's step detail as a ``video/mp4`` data URL (for a
``<video>`` player), next to the poster image; the server serves MP4 artifacts inline."""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

from sgr_jupyter.widgets import RunView
from sgr_kernel.dispatch.inline import InlineDispatcher
from sgr_kernel.runs import is_inline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "skills" / "heavy"))
from heavy_helpers import kernel, one_step

BOARD = {
    "title": "t",
    "fps": 4,
    "resolution": "360p",
    "scenes": [{"title": "Hello", "layout": "title", "duration_s": 0.5}],
}


def test_the_widget_carries_the_video_and_the_poster(tmp_path: Path) -> None:
    k = kernel(tmp_path, InlineDispatcher())
    plan = one_step("video_render", {"storyboard": BOARD}, step="v")
    res = asyncio.run(k.run(plan=plan))
    view = RunView(plan=plan, artifact_reader=lambda sha: k.store.get_artifact(res.run_id, sha))
    view.feed_many(k.store.read(res.run_id).records)
    view.select("v")
    (video,) = view.detail["videos"]
    (poster,) = view.detail["images"]
    assert video.startswith("data:video/mp4;base64,") and poster.startswith("data:image/png;")
    mp4 = base64.b64decode(video.split(",", 1)[1])
    arts = {a["name"]: a["sha256"] for a in res.outputs["v"]["artifacts"]}
    assert mp4 == k.store.get_artifact(res.run_id, arts["video.mp4"])
    assert is_inline("video/mp4")  # the one allowlist the server serves inline from
