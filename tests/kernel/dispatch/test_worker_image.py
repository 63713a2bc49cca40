"""The worker image's recipe, without Docker: what it pins, and what it refuses up front.
(The images themselves are built and run by the container tests.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from sgr_kernel.dispatch import worker_image as wi


def test_the_skills_image_pins_the_heavy_wheels_at_this_sides_versions() -> None:
    pytest.importorskip("numpy")
    from importlib.metadata import version

    pins = wi.heavy_pins()
    assert f"numpy=={version('numpy')}" in pins
    assert {p.split("==")[0] for p in pins} == set(wi._HEAVY)


def test_a_heavy_wheel_missing_here_is_named_with_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wi, "_HEAVY", ("numpy", "no-such-wheel-sgr"))
    with pytest.raises(RuntimeError, match=r"no-such-wheel-sgr is not installed here.*\[heavy\]"):
        wi.heavy_pins()


def test_a_folder_that_is_not_sgr_skills_is_refused_before_docker(tmp_path: Path) -> None:
    fake = tmp_path / "skills"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    # no Docker client at all: the refusal comes first
    with pytest.raises(RuntimeError, match="is not the sgr_skills package folder"):
        wi.build_worker_image(None, skills=fake)


def test_the_tag_names_the_content(tmp_path: Path) -> None:
    src = tmp_path / "sgr_kernel"
    src.mkdir()
    (src / "a.py").write_text("x = 1\n")
    skills = tmp_path / "sgr_skills"
    skills.mkdir()
    (skills / "__init__.py").write_text("")
    plain = wi._digest("base", ["p==1"], src, None)
    assert plain == wi._digest("base", ["p==1"], src, None)  # stable: a rebuild is skipped
    with_skills = wi._digest("base", ["p==1"], src, skills)
    (skills / "__init__.py").write_text("y = 2\n")
    assert len({plain, with_skills, wi._digest("base", ["p==1"], src, skills)}) == 3
    assert wi._digest("base", ["p==2"], src, None) != plain
