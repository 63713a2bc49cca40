"""`make demo`: the quickstart runs headless and an HTML report is written, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgr_jupyter.demo import main


def _check_report(report: Path) -> str:
    html = report.read_text(encoding="utf-8")
    assert "COMPLETED" in html and "no divergence" in html
    # It opens offline: nothing is loaded from a CDN (Mermaid is inlined).
    assert "cdnjs" not in html and 'src="http' not in html
    return html


def test_demo_writes_an_html_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--scripted"]) == 0
    report = tmp_path / "01_quickstart.html"
    html = _check_report(report)
    assert "Paris." in html
    # A finished, static record: no live-looking widget text, DAG labels keep their breaks
    # (a raw <br/> inside pre.mermaid would be an element, and the label would lose it).
    assert "the plan is being made" not in html
    assert "Finished run 'greeting': COMPLETED, 2/2 steps committed" in html
    assert 's_hello["hello&lt;br/&gt;format"]' in html and "hello<br/>format" not in html
    out = capsys.readouterr().out
    assert f"report: {report}" in out and "COMPLETED" in out


@pytest.mark.slow
@pytest.mark.local_model
def test_demo_on_the_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `make demo` runs: nothing configured, so the embedded local model plans and
    answers, offline."""
    for name in ("SGR_PROVIDER", "SGR_MODEL", "SGR_BASE_URL", "SGR_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.sgr/config.toml either
    assert main(["--out", str(tmp_path)]) == 0
    html = _check_report(tmp_path / "01_quickstart.html")
    assert "embedded defaults" in html and "scripted:" not in html
    assert "COMPLETED" in capsys.readouterr().out
