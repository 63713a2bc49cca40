"""Failures as the RunView shows them, with real code in the real Docker sandbox: a
deterministic code error says why it was not retried and keeps its traceback's lines; a plan
that lists the error in ``retry.retry_on`` gets its retry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from sgr_jupyter.magics import SgrMagics
from sgr_jupyter.session import Session

pytestmark = pytest.mark.docker

BROKEN = """
name: broken
steps:
  - id: bad
    skill: python
    inputs:
      code: |
        def divide(a, b):
            return a / b
        divide(1, 0)
"""

FLAKY = """
name: flaky
steps:
  - id: flaky
    skill: python
    retry: {max_attempts: 2, backoff_s: 0, retry_on: [SandboxExecutionError]}
    inputs:
      code: |
        import os
        if not os.path.exists("/workspace/tried"):
            open("/workspace/tried", "w").write("1")
            raise RuntimeError("fails the first time only")
        print("second try")
"""


@pytest.fixture(scope="module")
def docker_ready() -> None:
    from sgr_kernel.errors import SandboxUnavailable
    from sgr_kernel.sandbox._client import connect, default_image, require_image

    try:
        require_image(connect(timeout=30), default_image())
    except SandboxUnavailable as e:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the Docker sandbox is unusable: {e}")
        pytest.skip(str(e))


@pytest.fixture
def shell(tmp_path: Path, docker_ready: None) -> Iterator[InteractiveShell]:
    sh = InteractiveShell.instance()
    sh.config.pop("SgrMagics", None)
    session = Session()
    magics = SgrMagics(shell=sh, session=session)
    magics.home = str(tmp_path / "home")
    magics.widget = False
    magics.durability = "none"
    sh.register_magics(magics)
    yield sh
    session.close()
    sh.user_ns.pop("_sgr", None)


def test_a_deterministic_code_error_says_why_it_was_not_retried(shell: InteractiveShell) -> None:
    shell.run_cell_magic("sgr", "--plan --wait", BROKEN)
    view = shell.user_ns["_sgr"].view
    view.flush()
    assert view.phase == "FAILED" and view.status == "FAILED"
    err = view.errors["bad"]
    assert err["type"] == "SandboxExecutionError" and "ZeroDivisionError" in err["message"]
    assert err["retried"] is False
    assert "deterministic" in err["why_not_retried"] and "retry_on" in err["why_not_retried"]
    lines = err["traceback"].splitlines()
    assert len(lines) > 2, err["traceback"]  # lines kept, not squashed into one
    assert any("divide" in line for line in lines)
    assert view.answer == ""  # a failed run has no answer


def test_a_plan_can_retry_an_error_its_type_would_not(shell: InteractiveShell) -> None:
    shell.run_cell_magic("sgr", "--plan --wait --out res", FLAKY)
    ctl = shell.user_ns["_sgr"]
    ctl.view.flush()
    assert ctl.view.phase == "COMPLETED", ctl.result.reason
    assert ctl.view.fold.state.steps["flaky"].attempt == 2
    assert ctl.view.errors == {}  # committed on the retry: no stale error left
    assert "second try" in str(shell.user_ns["res"])
