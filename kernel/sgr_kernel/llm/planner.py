"""The planner: a task plus the skill catalogue in, a validated :class:`Plan` out.

The model fills a schema built from the catalogue, shaped so that even a 135M-parameter
local model under a grammar can fill it: a list of steps, each a discriminated union on
the skill name (an enum), whose ``inputs`` object has exactly that skill's input names, every
value a bounded string. Step ids are not the model's to invent: step *k* is ``sk``, and an
input may use ``${sk.output.FIELD}`` to take an earlier step's output. The planner then
checks references against the catalogue, asks the caller's ``validate`` (the engine's graph
validation) and replans with the problems at most ``max_replans`` times.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from sgr_kernel.errors import PlanValidationError
from sgr_kernel.llm.base import Message
from sgr_kernel.llm.plan_grammar import constrain_steps
from sgr_kernel.llm.plan_repair import repair_references
from sgr_kernel.llm.planner_prompt import (
    _by_name,
    _props,
    _required,
    _shapes,
    planner_messages,
)
from sgr_kernel.llm.schema_guided import LLMCall, generate, json_schema_for
from sgr_kernel.llm.shapes import FREE_SHAPE, expand_shape
from sgr_kernel.llm.skill_shapes import (
    expand_skill_shape,
    explains,
    skill_of_shape,
    with_skill_inputs,
)
from sgr_kernel.models.plan import Plan
from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.models.refs import Ref, RefError, find_refs

__all__ = [
    "MAX_CODE_CHARS",
    "MAX_INPUT_CHARS",
    "MAX_PLAN_STEPS",
    "check_against_catalogue",
    "input_bound",
    "plan_task",
    "planner_messages",
    "planner_output_model",
    "planner_schema",
    "to_plan",
    "unreferenced_problem",
]

MAX_PLAN_STEPS = 6
MAX_INPUT_CHARS = 300
"""Bound of a text input: a tiny model that loops inside a string must stop."""
SKILL_INPUT_CHARS = 160
"""Bound of a string in a skill shape's inputs: a name, a path, a title (a tiny model fills
every string it may to the brim)."""
MAX_CODE_CHARS = 1500
"""Bound of a code input (``python.code``): a program needs more room than a question."""
_CODE_INPUTS = frozenset({"code", "source", "script"})


def input_bound(prop: str, schema: Mapping[str, Any]) -> int:
    """How long the planner may make input ``prop``: what the field needs, within reason."""
    cap = MAX_CODE_CHARS if prop in _CODE_INPUTS else MAX_INPUT_CHARS
    declared = schema.get("maxLength")
    return min(int(declared), cap) if isinstance(declared, int) and declared > 0 else cap


REPLAN_TEMPERATURE = 0.7
"""Sampling temperature of replanning rounds (the first round uses the caller's, default 0)."""

Validate = Callable[[Plan], list[str]]


def _is_string(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "string":
        return True
    return any(_is_string(s) for s in schema.get("anyOf", ()) if s.get("type") != "null")


def _model_name(skill: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in skill.title())


def _needs_steps(value: Any) -> Any:
    if value.shape == FREE_SHAPE and not value.steps:
        raise ValueError(f"shape {FREE_SHAPE!r} needs the list of steps (or choose a shape)")
    return value


_STEPS_VALIDATOR: Any = model_validator(mode="after")(_needs_steps)


def planner_output_model(
    catalogue: Sequence[Mapping[str, Any]],
    *,
    max_steps: int = MAX_PLAN_STEPS,
    task: str | None = None,
) -> type[BaseModel]:
    """The pydantic model the planner asks the LLM to fill, built from the catalogue.

    With ``task``, the shapes offered are those its cues allow (:func:`shapes_for_task`).
    """
    if not catalogue:
        raise PlanValidationError(["the skill catalogue is empty: no skill to plan with"])
    step_models: list[type[BaseModel]] = []
    for name, entry in _by_name(catalogue).items():
        required = _required(entry)
        fields: dict[str, Any] = {}
        for i, (prop, schema) in enumerate(_props(entry).items()):
            hint = str(schema.get("description") or schema.get("title") or prop)
            if not _is_string(schema):
                hint += " (a JSON value)"
            # Aliases keep input names such as "json" or "copy" from shadowing BaseModel.
            kw: dict[str, Any] = {
                "alias": prop,
                "max_length": input_bound(prop, schema),
                "description": hint[:200],
            }
            if prop in required:
                fields[f"f{i}"] = (str, Field(**kw))
            else:
                fields[f"f{i}"] = (str | None, Field(None, **kw))
        base = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
        inputs = create_model(f"{_model_name(name)}Inputs", __config__=base, **fields)
        skill_type: Any = Literal[name]  # a one-value enum: the union's discriminator
        step = create_model(
            f"{_model_name(name)}Step",
            __config__=ConfigDict(frozen=True, extra="forbid"),
            skill=(skill_type, Field(description=str(entry.get("description", ""))[:200])),
            inputs=(inputs, ...),
        )
        step_models.append(step)
    step_type: Any = step_models[0]
    if len(step_models) > 1:
        step_type = Annotated[Union[tuple(step_models)], Field(discriminator="skill")]  # noqa: UP007
    shapes = _shapes(catalogue, task)
    shape_type: Any = Literal[tuple(shapes)]
    text: Any = str | None
    top: dict[str, Any] = {
        "shape": (shape_type, Field(FREE_SHAPE, description="The task's shape; steps: any other."))
    }
    by = _by_name(catalogue)
    if any(skill_of_shape(s, by) for s in shapes):
        # A skill shape: the model writes the skill's inputs (typed by its own schema) and
        # no layout text (only answer_then_format has any).
        top["inputs"] = (
            dict[str, Any] | None,
            Field(None, description="The skill's inputs (skill shapes only)."),
        )
    else:
        for side in ("before", "after"):
            top[side] = (text, Field(None, max_length=MAX_INPUT_CHARS, description="Layout text."))
    return create_model(
        "PlannerOutput",
        __config__=ConfigDict(frozen=True, extra="forbid"),
        __validators__={"steps_for_free_shape": _STEPS_VALIDATOR},
        **top,
        steps=(
            list[step_type] | None,
            Field(None, min_length=1, max_length=max_steps, description="Shape steps only."),
        ),
    )


def planner_schema(
    output_cls: type[BaseModel], catalogue: Sequence[Mapping[str, Any]], task: str = ""
) -> dict[str, Any]:
    """The JSON schema the planner sends: position-aware steps and, for a skill shape, the
    skill's own input schema as ``inputs``."""
    schema = constrain_steps(json_schema_for(output_cls), catalogue, MAX_PLAN_STEPS)
    by = _by_name(catalogue)
    shapes = (schema.get("properties") or {}).get("shape", {}).get("enum", ())
    for shape in shapes:
        found = skill_of_shape(str(shape), by)
        if found is not None:
            free = FREE_SHAPE in shapes
            return with_skill_inputs(schema, found, SKILL_INPUT_CHARS, task, free=free)
    return schema


def _convert(value: str, schema: Mapping[str, Any]) -> Any:
    # Non-string inputs arrive as JSON text; a lone ${...} stays a string (typed at run time).
    if _is_string(schema) or value.strip().startswith("${"):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def to_plan(
    output: BaseModel,
    catalogue: Sequence[Mapping[str, Any]],
    *,
    name: str = "plan",
    budget: BudgetPolicy | None = None,
    task: str | None = None,
) -> tuple[Plan | None, list[str]]:
    """Turn the planner's output into a :class:`Plan`: the plan (or None) and its problems.

    A known shape becomes its steps (``shapes.py``) with ``task`` (default ``name``) as the
    user's words; the ``steps`` shape takes the model's own steps.
    """
    by = _by_name(catalogue)
    data_out = output.model_dump(by_alias=True)
    shape = data_out.get("shape", FREE_SHAPE)
    skill_entry = skill_of_shape(shape, by)
    typed: set[int] = set()  # steps whose inputs the skill's own schema already typed
    raw: list[dict[str, Any]]
    if skill_entry is not None:
        words = task or name
        explain = explains(words, catalogue)
        raw = expand_skill_shape(skill_entry, explain, data_out.get("inputs"), words)
        typed = {1}
    elif shape != FREE_SHAPE:
        pairs = expand_shape(shape, task or name, data_out.get("before"), data_out.get("after"))
        raw = [{"skill": sk, "inputs": ins} for sk, ins in pairs]
    elif not data_out.get("steps"):
        return None, [f"shape {FREE_SHAPE!r} needs the list of steps; or choose another shape"]
    else:
        raw, _ = repair_references(list(data_out["steps"]), by)
    steps: list[dict[str, Any]] = []
    for k, step in enumerate(raw, 1):
        props = _props(by[step["skill"]])
        inputs = {
            key: val if k in typed else _convert(val, props.get(key, {}))
            for key, val in step["inputs"].items()
            if val is not None
        }
        spec: dict[str, Any] = {"id": f"s{k}", "skill": step["skill"], "inputs": inputs}
        if step.get("capabilities"):
            spec["capabilities"] = list(step["capabilities"])
        attempts = int(by[step["skill"]].get("planned_attempts") or 1)
        if attempts > 1:
            spec["retry"] = {"max_attempts": attempts, "backoff_s": 0.0}
        steps.append(spec)
    problems: list[str] = []
    for k, step in enumerate(steps, 1):
        deps: list[str] = []
        for ref in find_refs(step["inputs"]):
            if isinstance(ref, RefError):
                problems.append(f"step s{k}: {ref}")
            else:
                problems += _ref_problems(ref, k, steps, by)
                if ref.step not in deps:
                    deps.append(ref.step)
        step["depends_on"] = [d for d in deps if d in {f"s{j}" for j in range(1, k)}]
    data: dict[str, Any] = {"name": name[:200] or "plan", "steps": steps}
    if budget is not None:
        data["budget"] = budget.model_dump()
    try:
        plan = Plan.model_validate(data)
    except ValidationError as e:
        return None, problems + [f"{err['loc']}: {err['msg']}" for err in e.errors()]
    return plan, problems + check_against_catalogue(plan, catalogue)


def _ref_problems(
    ref: Ref, k: int, steps: Sequence[Mapping[str, Any]], by: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    earlier = {f"s{j}": steps[j - 1] for j in range(1, k)}
    if ref.step not in earlier:
        return [f"step s{k}: ${{{ref}}} must name an earlier step (s1 … s{k - 1})"[:300]]
    outputs = list(by[earlier[ref.step]["skill"]].get("outputs") or ())
    if ref.path and outputs and ref.path[0] not in outputs:
        return [
            f"step s{k}: ${{{ref}}}: {ref.step} has no output {ref.path[0]!r}; it has {outputs}"
        ]
    return []


def unreferenced_problem(step_id: str, skill: str) -> str:
    """A planned step that must use an earlier output does not (``needs_reference``)."""
    return (
        f"step {step_id}: {skill} uses no earlier step's output, so its text was made up by "
        f"the planner; refer to the output to show, e.g. ${{s1.output.text}}, or drop the step"
    )


def check_against_catalogue(plan: Plan, catalogue: Sequence[Mapping[str, Any]]) -> list[str]:
    """Catalogue-level checks: known skills, known input names, required inputs present."""
    by = _by_name(catalogue)
    problems: list[str] = []
    for step in plan.steps:
        entry = by.get(step.skill)
        if entry is None:
            problems.append(
                f"step {step.id}: unknown skill {step.skill!r}; use one of {sorted(by)}"
            )
            continue
        props = _props(entry)
        problems += [
            f"step {step.id}: {step.skill} has no input {key!r}"
            for key in step.inputs
            if key not in props
        ]
        problems += [
            f"step {step.id}: {step.skill} needs input {key!r}"
            for key in sorted(_required(entry))
            if step.inputs.get(key) in (None, "")
        ]
        refers = any(not isinstance(r, RefError) for r in find_refs(step.inputs))
        if entry.get("needs_reference") and len(plan.steps) > 1 and not refers:
            problems.append(unreferenced_problem(step.id, step.skill))
    return problems


async def plan_task(
    call: LLMCall,
    task: str,
    catalogue: Sequence[Mapping[str, Any]],
    *,
    validate: Validate,
    max_replans: int = 2,
    budget: BudgetPolicy | None = None,
    max_repairs: int = 2,
    request_defaults: Mapping[str, Any] | None = None,
) -> Plan:
    """Plan ``task`` with the skills in ``catalogue``.

    Args:
        call: The model call (the engine's recorded, budget-checked one).
        task: What the user asked for.
        catalogue: ``Skill.catalogue_entry()`` of every skill the plan may use.
        validate: The caller's plan validation; its problems are fed back for replanning.
        max_replans: Extra planning rounds after the first when the plan has problems; they
            sample at ``REPLAN_TEMPERATURE`` with seed = round unless ``request_defaults``
            sets ``temperature``/``seed``.
        budget: Put on the plan as its budget.
        max_repairs: Schema repairs per round (see :func:`generate`).
        request_defaults: Other request fields (``model``, ``temperature``, ``seed`` …).

    Raises:
        PlanValidationError: Still invalid after the last replan; lists every problem.
        LLMInvalidOutput: The model's JSON stayed schema-invalid after the repairs.
    """
    output_cls = planner_output_model(catalogue, task=task)
    schema = planner_schema(output_cls, catalogue, task)
    messages = planner_messages(task, catalogue)
    problems: list[str] = []
    for round_ in range(max_replans + 1):
        defaults = dict(request_defaults or {})
        if round_:
            # A greedy small model ignores the feedback and repeats itself; a replan samples
            # (seeded, so the same run asks the same thing) unless the caller chose otherwise.
            defaults = {"temperature": REPLAN_TEMPERATURE, "seed": round_, **defaults}
        result = await generate(
            call,
            output_cls,
            messages,
            max_repairs=max_repairs,
            request_defaults=defaults,
            json_schema=schema,
        )
        plan, problems = to_plan(result.value, catalogue, name=task, budget=budget, task=task)
        if plan is not None and not problems:
            try:
                problems = list(validate(plan))
            except PlanValidationError as e:
                problems = list(e.problems)
            if not problems:
                return plan
        listed = "\n".join(f"- {p}" for p in problems)
        messages = [
            *messages,
            Message(role="assistant", content=result.responses[-1].text),
            Message(
                role="user", content=f"That plan has problems:\n{listed}\nWrite a corrected plan."
            ),
        ]
    raise PlanValidationError(problems)
