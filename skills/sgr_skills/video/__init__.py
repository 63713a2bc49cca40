"""``video_render``: storyboard -> matplotlib frames -> H.264 MP4 (ffmpeg) on a remote worker.

matplotlib and imageio-ffmpeg (the ``heavy`` extra) are imported only when a video renders.
"""

from sgr_skills.video._models import Scene, Storyboard, VideoInput, VideoOutput
from sgr_skills.video._skill import VideoRenderSkill

__all__ = ["Scene", "Storyboard", "VideoInput", "VideoOutput", "VideoRenderSkill"]
