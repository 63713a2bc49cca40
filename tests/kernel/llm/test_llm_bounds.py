"""Each field's bound fits what the field needs, in the schema sent to servers and in the
local grammar (code is not cut at 200 or 1,000 characters; prose stays bounded)."""

from __future__ import annotations

import re

import pytest

from sgr_kernel.llm._gbnf import LOCAL_MAX_DECLARED_LENGTH, LOCAL_MAX_STRING_LENGTH
from sgr_kernel.llm.schema_guided import DEFAULT_MAX_STRING_LENGTH, json_schema_for
from sgr_kernel.llm.structured import GRAMMAR_MAX_LENGTH, apply_mode
from sgr_skills.answer import _Answer
from sgr_skills.code_interpreter import CodeModel


def test_server_schema_keeps_declared_bounds() -> None:
    schema = json_schema_for(CodeModel)
    assert schema["properties"]["code"]["maxLength"] == 20_000  # what the skill accepts
    assert schema["properties"]["explanation"]["maxLength"] == 1000
    answer = json_schema_for(_Answer)["properties"]["answer"]
    assert answer["maxLength"] == 4000 and answer["minLength"] == 1
    assert DEFAULT_MAX_STRING_LENGTH == 1000  # only for fields that declare nothing


def test_grammar_modes_drop_bounds_llama_cpp_cannot_take() -> None:
    schema = json_schema_for(CodeModel)
    _, extra = apply_mode("json_object_schema", [], schema, "CodeModel")
    sent = extra["response_format"]["schema"]["properties"]
    assert "maxLength" not in sent["code"] and sent["explanation"]["maxLength"] == 1000
    assert GRAMMAR_MAX_LENGTH == 1000
    _, extra = apply_mode("json_schema", [], schema, "CodeModel")
    assert (
        extra["response_format"]["json_schema"]["schema"]["properties"]["code"]["maxLength"]
        == 20_000
    )


@pytest.mark.local_model
def test_local_grammar_gives_code_room_and_flat_repetition() -> None:
    from llama_cpp.llama_grammar import LlamaGrammar

    from sgr_kernel.llm._gbnf import grammar_for_schema

    gbnf = grammar_for_schema(json_schema_for(CodeModel), max_string_length=LOCAL_MAX_STRING_LENGTH)
    bounds = sorted(int(n) for n in re.findall(r"char\{\d+,(\d+)\}", gbnf))
    assert bounds == [1000, LOCAL_MAX_DECLARED_LENGTH]  # explanation, code (not 200)
    assert "(char (char" not in gbnf  # no nesting llama.cpp would refuse
    LlamaGrammar.from_string(gbnf, verbose=False)  # llama.cpp accepts it
