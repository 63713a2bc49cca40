"""The heavy skills' public names are pinned, and loading them (as the skill registry does for
every kernel) imports none of numpy, pandas, matplotlib or ffmpeg."""

from __future__ import annotations

import subprocess
import sys

import sgr_skills.backtest
import sgr_skills.video


def test_exports_are_pinned() -> None:
    assert set(sgr_skills.backtest.__all__) == {
        "BacktestInput",
        "BacktestOutput",
        "BacktestSweepSkill",
    }
    assert set(sgr_skills.video.__all__) == {
        "Scene",
        "Storyboard",
        "VideoInput",
        "VideoOutput",
        "VideoRenderSkill",
    }
    for mod in (sgr_skills.backtest, sgr_skills.video):
        for name in mod.__all__:
            assert hasattr(mod, name), name


def test_loading_the_skills_is_cheap() -> None:
    heavy = ["numpy", "pandas", "pyarrow", "matplotlib", "PIL", "imageio_ffmpeg"]
    code = (
        "import sys, sgr_skills.backtest, sgr_skills.video;"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out


def test_the_catalogue_entries_describe_every_input() -> None:
    for skill in (sgr_skills.backtest.BacktestSweepSkill, sgr_skills.video.VideoRenderSkill):
        entry = skill.catalogue_entry()
        props = entry["inputs"]["properties"]
        assert all(p.get("description") for p in props.values()), skill.name
        assert "remote" in skill.capabilities and skill.idempotent


def test_a_missing_extra_names_the_install() -> None:
    import pytest

    from sgr_kernel.errors import StepContractError
    from sgr_skills._extras import require_on_worker
    from sgr_skills.backtest._skill import require_extra

    with pytest.raises(
        RuntimeError, match=r"lacks no_such_mod_12a: pip install 'sgr-jupyter\[heavy\]'"
    ):
        require_on_worker("numpy", "no_such_mod_12a")
    with pytest.raises(StepContractError, match=r"needs no_such_mod_12a: pip install"):
        require_extra("no_such_mod_12a")
    require_on_worker("numpy")  # present: nothing to say
