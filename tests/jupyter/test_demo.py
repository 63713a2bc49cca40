"""`make demo`: the quickstart runs headless and an HTML report is written."""

from __future__ import annotations

from pathlib import Path

from sgr_jupyter.demo import main


def test_demo_writes_an_html_report(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    report = tmp_path / "01_quickstart.html"
    html = report.read_text(encoding="utf-8")
    assert "COMPLETED" in html and "no divergence" in html
    # It opens offline: nothing is loaded from a CDN (Mermaid is inlined).
    assert "cdnjs" not in html and 'src="http' not in html
    out = capsys.readouterr().out
    assert f"report: {report}" in out and "COMPLETED" in out
