"""``video_render``: a 1-second clip framed and encoded to H.264, read back two ways (the MP4
boxes, and every frame decoded by ffmpeg); storyboards are data, never code."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from heavy_helpers import kernel, one_step, progress
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sgr_kernel.dispatch._jobctx import CANCELLED, RunningJob, run_body
from sgr_kernel.dispatch.base import job_function
from sgr_kernel.dispatch.inline import InlineDispatcher
from sgr_kernel.errors import PlanValidationError
from sgr_kernel.models.status import RunStatus
from sgr_skills.video._job import RENDER_JOB
from sgr_skills.video._models import Storyboard
from sgr_skills.video._mp4 import Mp4Error, read_mp4
from sgr_skills.video._render import encode, ffmpeg_exe, frames

CLIP: dict[str, Any] = {
    "title": "One second",
    "fps": 12,
    "resolution": "360p",
    "scenes": [
        {"title": "Hello", "layout": "title", "duration_s": 0.5},
        {
            "title": "Sales",
            "layout": "bar",
            "narration": "Up and to the right.",
            "duration_s": 0.5,
            "data": {"labels": ["a", "b"], "series": {"s": [1.0, 3.0]}},
        },
    ],
}


def decoded(path: Path) -> list[Any]:
    """Every frame, decoded by the same ffmpeg binary to raw RGB (imageio's own reader leaves
    pipes open, which this suite's warnings-as-errors would report)."""
    info = read_mp4(path)
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    return list(np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3))


def test_a_one_second_clip_is_h264_with_every_frame(tmp_path: Path) -> None:
    board = Storyboard.model_validate(CLIP)
    out = tmp_path / "clip.mp4"
    seen: list[int] = []
    assert (
        encode(
            board, out, on_frame=lambda done, total: seen.append(done), poster=tmp_path / "p.png"
        )
        == 12
    )
    assert seen == list(range(1, 13))
    info = read_mp4(out)
    assert (info.codec, info.width, info.height, info.frames) == ("avc1", 640, 360, 12)
    assert info.duration_s == pytest.approx(1.0, abs=0.01)
    assert info.brand in ("isom", "mp42", "iso5")
    frames_ = decoded(out)
    assert len(frames_) == 12 and frames_[0].shape == (360, 640, 3)
    # The title card is white with dark text; the chart's bars are blue (the first palette colour).
    assert frames_[5].mean() > 200
    bar = frames_[-1][200:280, :, :].reshape(-1, 3).astype(int)
    blue = (bar[:, 2] > 150) & (bar[:, 0] < 120)
    assert blue.sum() > 500
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_held_frames_repeat_the_final_pose_and_intros_animate() -> None:
    board = Storyboard.model_validate(
        {**CLIP, "fps": 24, "scenes": [CLIP["scenes"][1] | {"duration_s": 2.0}]}
    )
    got = list(frames(board))
    drawn = [d for _, d in got]
    assert len(got) == 48 and drawn.count(True) == 15  # 14 intro frames + the held pose once
    assert len({f for f, _ in got[15:]}) == 1 and got[14][0] == got[47][0]
    assert got[0][0] != got[13][0]  # the bars grow


def test_dark_theme_and_text_that_looks_like_math_are_drawn_literally(tmp_path: Path) -> None:
    tricky = r"costs $\frac{1}{ and $x^2$"
    board = Storyboard.model_validate(
        {
            "title": tricky,
            "fps": 4,
            "resolution": "360p",
            "theme": "dark",
            "scenes": [
                {
                    "title": tricky,
                    "layout": "text",
                    "text": tricky,
                    "narration": tricky,
                    "duration_s": 0.5,
                },
                {"title": "b", "layout": "bullets", "bullets": [tricky], "duration_s": 0.5},
                {
                    "title": "c",
                    "layout": "line",
                    "duration_s": 0.5,
                    "data": {"labels": [tricky[:40], "$"], "series": {tricky: [1, 2]}, "unit": "$"},
                },
            ],
        }
    )
    out = tmp_path / "dark.mp4"
    assert encode(board, out) == 6
    assert decoded(out)[1].mean() < 60  # dark background


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scenes": [{"title": "x", "layout": "bar", "duration_s": 1}]}, "needs data"),
        (
            {
                "scenes": [
                    {
                        "title": "x",
                        "layout": "line",
                        "data": {"labels": ["a"], "series": {"s": [1, 2]}},
                    }
                ]
            },
            "one value per label",
        ),
        (
            {"scenes": [{"title": "x", "layout": "title", "code": "import os"}]},
            "Extra inputs are not permitted",
        ),
        (
            {"fps": 60, "scenes": [{"title": "x", "layout": "title", "duration_s": 120}] * 3},
            "at most 18000",
        ),
        ({"scenes": []}, "at least 1"),
    ],
)
def test_bad_storyboards_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Storyboard.model_validate({**CLIP, **change})


def test_the_skill_renders_on_the_dispatcher_with_artifacts_and_progress(tmp_path: Path) -> None:
    d = InlineDispatcher()
    k = kernel(tmp_path, d)

    async def go() -> tuple[Any, Any]:
        res = await k.run(plan=one_step("video_render", {"storyboard": CLIP, "gif": True}))
        return res, await k.replay(res.run_id, strict=True)

    res, report = asyncio.run(go())
    assert res.status is RunStatus.COMPLETED, k.show(res.run_id)
    out = res.outputs["s"]
    assert (out["frames"], out["width"], out["height"], out["codec"]) == (12, 640, 360, "avc1")
    arts = {a["name"]: a for a in out["artifacts"]}
    assert {n: a["media_type"] for n, a in arts.items()} == {
        "video.mp4": "video/mp4",
        "poster.png": "image/png",
        "preview.gif": "image/gif",
    }
    mp4 = k.store.get_artifact(res.run_id, arts["video.mp4"]["sha256"])
    (tmp_path / "back.mp4").write_bytes(mp4)
    assert read_mp4(tmp_path / "back.mp4").frames == 12
    assert k.store.get_artifact(res.run_id, arts["preview.gif"]["sha256"]).startswith(b"GIF8")
    assert progress(k.store.read(res.run_id).records)[-1]["fraction"] == 1.0
    assert d.submitted == 1 and report.ok and report.live_calls == 0


def test_a_bad_storyboard_fails_plan_validation_before_any_job(tmp_path: Path) -> None:
    d = InlineDispatcher()
    k = kernel(tmp_path, d)
    bad = {**CLIP, "scenes": [{"title": "x", "layout": "bar"}]}
    with pytest.raises(PlanValidationError, match="needs data"):
        asyncio.run(k.run(plan=one_step("video_render", {"storyboard": bad})))
    assert d.submitted == 0


def test_a_cancelled_render_stops_between_frames() -> None:
    asked: list[int] = []

    def cancelled_after_three() -> bool:
        asked.append(1)
        return len(asked) > 3

    ctx = RunningJob("v", lambda p: None, cancelled_after_three, poll_s=0.0)
    board = {**CLIP, "scenes": [CLIP["scenes"][0] | {"duration_s": 60}]}
    assert run_body(job_function(RENDER_JOB), {"storyboard": board}, ctx) == {CANCELLED: "v"}
    assert len(asked) == 4


def test_read_mp4_refuses_what_is_not_an_mp4(tmp_path: Path) -> None:
    (tmp_path / "x.mp4").write_bytes(b"\x00\x00\x00\x10notanmp4atall!!!")
    with pytest.raises(Mp4Error):
        read_mp4(tmp_path / "x.mp4")


def test_the_storyboard_in_the_docs_is_valid() -> None:
    import re

    import yaml

    text = (Path(__file__).resolve().parents[3] / "docs" / "skills.md").read_text()
    (block,) = re.findall(r"```yaml\n(storyboard:.*?)```", text, re.S)
    board = Storyboard.model_validate(yaml.safe_load(block)["storyboard"])
    assert [s.layout for s in board.scenes] == ["title", "bar"]


LAYOUTS = {
    "title": {},
    "text": {"text": "Some words about it."},
    "bullets": {"bullets": ["one", "two"]},
    "bar": {"data": {"labels": ["a", "b", "c"], "series": {"s": [1.0, -2.0, 3.5]}}},
    "line": {"data": {"labels": ["x", "y"], "series": {"u": [0.0, 1.0], "v": [2.0, 1.5]}}},
}


@settings(max_examples=8, deadline=None)
@given(
    layouts=st.lists(st.sampled_from(sorted(LAYOUTS)), min_size=1, max_size=3),
    fps=st.integers(1, 8),
    halves=st.integers(1, 3),
)
def test_every_frame_of_any_storyboard_is_in_the_file(
    layouts: list[str], fps: int, halves: int
) -> None:
    board = Storyboard.model_validate(
        {
            "title": "prop",
            "fps": fps,
            "resolution": "360p",
            "scenes": [
                {"title": f"s{i}", "layout": lay, "duration_s": 0.5 * halves, **LAYOUTS[lay]}
                for i, lay in enumerate(layouts)
            ],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.mp4"
        written = encode(board, out)
        info = read_mp4(out)
        assert written == info.frames == sum(board.scene_frames()) == len(decoded(out))
        assert info.duration_s == pytest.approx(written / fps, abs=1e-3)
