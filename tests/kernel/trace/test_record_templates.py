"""The launch and commit records are encoded from templates: byte for byte what the generic
canonical encoder writes, and the generic path whenever a value is not what a template
assumes."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgr_kernel.trace import RecordType, _format

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(attempt=st.integers(), elapsed=st.floats(allow_nan=False, allow_infinity=False))
def test_the_launch_template_is_the_canonical_json(attempt: int, elapsed: float) -> None:
    data = {"status": "RUNNING", "attempt": attempt, "elapsed_s": elapsed}
    assert _format.launch_json(attempt, elapsed) == _format.canonical(data).decode()


@settings(max_examples=400, deadline=None)
@given(attempt=st.integers(), output=_JSON)
def test_the_commit_template_is_the_canonical_json(attempt: int, output: Any) -> None:
    data = {"status": "COMMITTED", "attempt": attempt, "output": output}
    assert _format.commit_json(attempt, output) == _format.canonical(data).decode()


@pytest.mark.parametrize(
    ("attempt", "elapsed"),
    [(True, 0.5), (1, math.inf), (1, math.nan), (1, 2), (1.0, 0.5), (1, None)],
)
def test_values_a_launch_template_does_not_assume_take_the_generic_path(
    attempt: Any, elapsed: Any
) -> None:
    assert _format.launch_json(attempt, elapsed) is None
    data = {"status": "RUNNING", "attempt": attempt, "elapsed_s": elapsed}
    try:  # what the generic encoder makes of them is what is written (or refused)
        want = _format.canonical(data)
    except ValueError:
        with pytest.raises(ValueError):
            _format.encode_line(0, 1.5, RecordType.STEP, "s", data, 7, None)
        return
    _, _, line = _format.encode_line(0, 1.5, RecordType.STEP, "s", data, 7, None)
    assert b'"data":' + want + b"," in line


def test_a_commit_whose_output_is_not_json_is_refused_before_anything_is_written() -> None:
    assert _format.commit_json(True, {"v": 1}) is None  # a bool attempt: the generic path
    with pytest.raises(ValueError):
        _format.commit_json(1, {"v": math.nan})
    with pytest.raises(TypeError):
        _format.commit_json(1, {"v": object()})


def test_a_line_written_from_a_template_is_the_line_the_generic_encoder_writes() -> None:
    data = {"status": "COMMITTED", "attempt": 2, "output": {"ü": [1, 2.5, None]}}
    text = _format.commit_json(2, data["output"])
    templated = _format.encode_line(5, 1796157793.8864956, RecordType.STEP, "n1", data, 9, text)
    generic = _format.encode_line(5, 1796157793.8864956, RecordType.STEP, "n1", data, 9, None)
    assert templated == generic


def test_a_timestamp_is_written_as_its_own_value_whatever_came_before() -> None:
    """The encoder keeps the last timestamp's text (a turn's records share one): a different
    float object of equal value (0.0 and -0.0) is written as itself."""
    for ts in (0.0, -0.0, 0.0, 1.5, 1.5, -0.0):
        _, _, line = _format.encode_line(0, ts, RecordType.EVENT, None, {}, 7)
        assert b'"ts":%b,' % repr(ts).encode() in line
