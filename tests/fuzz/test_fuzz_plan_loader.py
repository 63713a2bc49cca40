"""Property-based fuzzing of the plan loader: any text or bytes becomes a plan or one clear
usage error, within a bound; nothing else (no traceback, no hang, no plan the trace cannot
record)."""

from __future__ import annotations

import json
from pathlib import Path

from _strategies import PLAN_TEXTS
from _tally import Tally, bounded, one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgr_kernel._defaults import default_skills
from sgr_kernel.errors import SgrUsageError
from sgr_kernel.graph.dag import check_plan
from sgr_kernel.models.plan import Plan, parse_plan, read_plan_file

SKILLS = default_skills()
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _judge(t: Tally, fn, what: str) -> None:  # type: ignore[no-untyped-def]
    t.cases += 1
    finished, out = bounded(fn)
    if not finished:
        t.bad("hangs", what)
    elif isinstance(out, SgrUsageError):
        if one_line_error(str(out)):
            t.clear_errors += 1
        else:
            t.bad("tracebacks", f"unclear message for {what}: {out}")
    elif isinstance(out, BaseException):
        t.bad("tracebacks", f"{type(out).__name__}: {out} <- {what}")
    else:
        assert isinstance(out, Plan)
        try:  # what the trace will record must be canonical, finite JSON
            json.dumps(out.model_dump(mode="json"), allow_nan=False)
        except (ValueError, TypeError) as e:
            t.bad("state_damaged", f"{e} <- {what}")
            return
        t.clean += 1


def _load_and_check(text: str) -> Plan:
    plan = parse_plan(text, source="fuzz")
    check_plan(plan, SKILLS)
    return plan


def test_plan_texts_become_a_plan_or_one_clear_error() -> None:
    t = Tally("plan_loader")

    @FUZZ
    @given(PLAN_TEXTS)
    def case(text: str) -> None:
        _judge(t, lambda: _load_and_check(text), repr(text[:200]))

    case()
    t.check()


def test_plan_files_of_any_bytes(tmp_path: Path) -> None:
    t = Tally("plan_files")
    path = tmp_path / "plan.yaml"
    encodings = st.sampled_from(["utf-8", "utf-16", "utf-16-le", "latin-1", "utf-8-sig"])

    @settings(FUZZ, max_examples=120)
    @given(st.one_of(st.binary(max_size=300), st.tuples(PLAN_TEXTS, encodings)))
    def case(data: bytes | tuple[str, str]) -> None:
        raw = data[0].encode(data[1], errors="replace") if isinstance(data, tuple) else data
        path.write_bytes(raw)
        _judge(t, lambda: read_plan_file(path), repr(raw[:200]))

    case()
    for special in (tmp_path, Path("/dev/zero"), tmp_path / "missing.yaml"):
        _judge(t, lambda p=special: read_plan_file(p), str(special))  # type: ignore[misc]
    t.check()
