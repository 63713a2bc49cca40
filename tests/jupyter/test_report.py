"""The demo report's static record of a RunView, from a saved widget state (pure)."""

from __future__ import annotations

from sgr_jupyter._report import escape_mermaid_pre, static_record

STATE = {
    "name": "etl <x>",
    "phase": "FAILED",
    "status": "FAILED",
    "reason": "step 'load' failed",
    "elapsed": 1.25,
    "mermaid": 'flowchart TD\n  s_extract["extract<br/>format"]\n  s_load["load<br/>python"]\n',
    "nodes": {"extract": "s_extract", "load": "s_load"},
    "states": {"extract": "COMMITTED", "load": "FAILED"},
    "errors": {
        "load": {
            "type": "SandboxExecutionError",
            "message": "the code raised KeyError",
            "why_not_retried": "it is deterministic",
        }
    },
}


def test_a_failed_run_reads_as_a_finished_record() -> None:
    out = static_record(STATE)
    text, page = out["text/plain"], out["text/html"]
    assert text.splitlines()[0] == ("Finished run 'etl <x>': FAILED, 1/2 steps committed in 1.25 s")
    assert "load  FAILED  the code raised KeyError (not retried: it is deterministic)" in text
    assert "reason: step 'load' failed" in text
    assert "&lt;x&gt;" in page and "<x>" not in page  # names are escaped
    # The DAG is coloured by final state and its labels survive as text.
    assert "class s_extract sgr_committed" in page and "class s_load sgr_failed" in page
    assert "extract&lt;br/&gt;format" in page


def test_a_live_state_says_it_is_as_last_seen() -> None:
    out = static_record({**STATE, "phase": "RUNNING", "errors": {}, "reason": ""})
    assert out["text/plain"].startswith("Run, as last seen: 'etl <x>': RUNNING")
    assert "<th>note</th>" not in out["text/html"]


def test_raw_line_breaks_in_mermaid_blocks_become_text() -> None:
    page = '<pre class="mermaid">a["x<br/>y"]\nb["p<br>q"]</pre><p>keep<br/>this</p>'
    assert escape_mermaid_pre(page) == (
        '<pre class="mermaid">a["x&lt;br/&gt;y"]\nb["p&lt;br/&gt;q"]</pre><p>keep<br/>this</p>'
    )
