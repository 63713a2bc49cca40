"""The storyboard of ``video_render``: scenes as data, never code.

A scene is a title, narration text (shown as a caption), a layout and, for charts, the
numbers to plot. Nothing in a storyboard is evaluated: there is no field for code,
formulas or templates, text is drawn literally (matplotlib's math parser is off), and
unknown fields are refused. Charts that need code are drawn with the ``python`` skill,
which runs in the sandbox (docs/adr/025-heavy-skills-backtest-video.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sgr_kernel.trace.base import ArtifactRef

__all__ = ["ChartData", "Scene", "Storyboard", "VideoInput", "VideoOutput"]

RESOLUTIONS = {"360p": (640, 360), "480p": (854, 480), "720p": (1280, 720)}
MAX_FRAMES = 18_000  # ten minutes at 30 fps


class ChartData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: list[str] = Field(
        min_length=1, max_length=60, description="Category or x-axis labels, in order."
    )
    series: dict[str, list[float]] = Field(
        min_length=1,
        max_length=6,
        description='Named series of numbers, one per label, e.g. {"revenue": [1, 2, 3]}.',
    )
    unit: str = Field("", max_length=30, description="Unit shown on the value axis.")

    @model_validator(mode="after")
    def _lengths(self) -> ChartData:
        for name, values in self.series.items():
            if len(values) != len(self.labels):
                raise ValueError(
                    f"series {name!r} has {len(values)} values for {len(self.labels)} labels; "
                    "give one value per label"
                )
        if any(len(label) > 40 for label in self.labels):
            raise ValueError("chart labels are at most 40 characters")
        return self


class Scene(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(max_length=120, description="Heading of the scene.")
    narration: str = Field(
        "", max_length=600, description="What the narrator says; shown as a caption."
    )
    layout: Literal["title", "text", "bullets", "bar", "line"] = Field(
        description="title: a title card; text: a paragraph; bullets: a list; "
        "bar or line: a chart of data."
    )
    text: str = Field("", max_length=1200, description="Body text (layout text).")
    bullets: list[str] = Field(
        default_factory=list, max_length=8, description="Points (layout bullets)."
    )
    data: ChartData | None = Field(None, description="The numbers (layout bar or line).")
    duration_s: float = Field(3.0, ge=0.5, le=120, description="How long the scene lasts.")

    @model_validator(mode="after")
    def _fits_layout(self) -> Scene:
        if self.layout in ("bar", "line") and self.data is None:
            raise ValueError(f"a {self.layout} scene needs data: {{labels, series}}")
        if self.layout == "bullets" and not self.bullets:
            raise ValueError("a bullets scene needs at least one bullet")
        if self.layout == "text" and not self.text.strip():
            raise ValueError("a text scene needs text")
        if any(len(b) > 160 for b in self.bullets):
            raise ValueError("bullets are at most 160 characters")
        return self


class Storyboard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(max_length=120, description="The video's title.")
    scenes: list[Scene] = Field(min_length=1, max_length=40, description="Scenes in order.")
    fps: int = Field(24, ge=1, le=60, description="Frames per second.")
    resolution: Literal["360p", "480p", "720p"] = Field("720p", description="Frame size.")
    theme: Literal["light", "dark"] = Field("light", description="Colours.")

    @model_validator(mode="after")
    def _not_too_long(self) -> Storyboard:
        frames = sum(self.scene_frames())
        if frames > MAX_FRAMES:
            raise ValueError(
                f"the storyboard is {frames} frames; at most {MAX_FRAMES} (shorten the "
                "scenes or lower fps)"
            )
        return self

    def scene_frames(self) -> list[int]:
        """Frames per scene (at least one each)."""
        return [max(1, round(s.duration_s * self.fps)) for s in self.scenes]

    @property
    def size(self) -> tuple[int, int]:
        return RESOLUTIONS[self.resolution]


class VideoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    storyboard: Storyboard = Field(
        description="title, scenes [{title, narration, layout, text|bullets|data, "
        "duration_s}], fps, resolution."
    )
    gif: bool = Field(False, description="Also make a small animated GIF preview.")
    timeout_s: float = Field(1800, gt=0, le=86_400, description="Deadline of the render job.")
    resources: dict[str, float] = Field(
        default_factory=dict,
        max_length=8,
        description='Dask worker resources the render job needs, e.g. {"VIDEO": 1}.',
    )


class VideoOutput(BaseModel):
    frames: int = Field(description="Frames in the MP4, as read back from the file.")
    duration_s: float = Field(description="Length of the video, read back from the file.")
    width: int
    height: int
    fps: int
    codec: str = Field(description="The video codec in the file (avc1 = H.264).")
    scenes: int
    artifacts: list[ArtifactRef] = Field(
        default_factory=list, description="video.mp4, poster.png and, if asked, preview.gif."
    )
