"""``video_render``: a storyboard rendered to an H.264 MP4 on a remote worker."""

from __future__ import annotations

from sgr_kernel.errors import SkillFailed
from sgr_kernel.skills.base import CAP_REMOTE, Skill, SkillContext
from sgr_kernel.trace.base import ArtifactRef
from sgr_skills.video._job import RENDER_JOB
from sgr_skills.video._models import VideoInput, VideoOutput

__all__ = ["VideoRenderSkill"]


class VideoRenderSkill(Skill):
    name = "video_render"
    description = (
        "Render a short explainer video from a storyboard: scenes with a title, narration "
        "(shown as captions) and a layout (title card, text, bullets, or a bar/line chart of "
        "given numbers), each with a duration. Output: an H.264 MP4 that plays inline, a "
        "poster PNG (and a GIF preview if asked). Storyboards hold data only, no code."
    )
    Input = VideoInput
    Output = VideoOutput
    cues = (
        r"\b(make|render|create|produce|generate)\b.{0,60}\b(video|mp4|clip)s?\b",
        r"\bstoryboard",
    )
    capabilities = frozenset({CAP_REMOTE})
    idempotent = True  # the same storyboard renders the same video; a re-run is harmless

    async def run(self, ctx: SkillContext, inputs: VideoInput) -> VideoOutput:
        board = inputs.storyboard
        expected = sum(board.scene_frames())
        ctx.emit("progress", {"message": f"{len(board.scenes)} scenes, {expected} frames"})
        out = await ctx.remote(
            RENDER_JOB,
            {"storyboard": board.model_dump(mode="json"), "gif": inputs.gif},
            resources=dict(inputs.resources),
            timeout_s=inputs.timeout_s,
        )
        if out["frames"] != expected or out["codec"] != "avc1":
            raise SkillFailed(
                f"the encoder wrote {out['frames']} {out['codec']} frames, not {expected} "
                "H.264 frames"
            )
        width, height = board.size
        return VideoOutput(
            frames=out["frames"],
            duration_s=out["duration_s"],
            width=width,
            height=height,
            fps=board.fps,
            codec=out["codec"],
            scenes=len(board.scenes),
            artifacts=[ArtifactRef.model_validate(a) for a in out.get("artifacts", [])],
        )
