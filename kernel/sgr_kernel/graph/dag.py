"""Plan validation and DAG structure: every problem found before anything runs."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from sgr_kernel.errors import PlanValidationError
from sgr_kernel.models.plan import Plan, StepSpec
from sgr_kernel.models.policies import BudgetPolicy
from sgr_kernel.models.refs import Ref, RefError, find_refs
from sgr_kernel.skills.base import (
    DEFAULT_GRANTS,
    KNOWN_CAPABILITIES,
    Skill,
    effective_capabilities,
)

__all__ = ["Dag", "build_dag", "check_plan", "effective_grants", "validate_plan"]


@dataclass(frozen=True)
class Dag:
    """The plan's graph: explicit ``depends_on`` plus the edges its references imply."""

    order: tuple[str, ...]
    """A topological order (ties broken by plan order)."""
    parents: Mapping[str, frozenset[str]]
    children: Mapping[str, tuple[str, ...]]

    def descendants(self, step_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [step_id]
        while stack:
            for child in self.children[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen


_NO_REFS: tuple[tuple[Ref, ...], tuple[str, ...]] = ((), ())
"""What :func:`_step_refs` finds in a step without inputs."""


def _step_refs(step: StepSpec) -> tuple[Sequence[Ref], Sequence[str]]:
    refs: list[Ref] = []
    errors: list[str] = []
    for name, value in step.inputs.items():
        for r in find_refs(value):
            if isinstance(r, RefError):
                errors.append(f"step {step.id!r}: input {name!r}: {r}")
            else:
                refs.append(r)
    return refs, errors


def _step_parents(step: StepSpec, refs: Sequence[Ref], ids: AbstractSet[str]) -> frozenset[str]:
    """The steps ``step`` waits for: its ``depends_on`` and the steps its references name."""
    named = frozenset(step.depends_on)
    if refs:
        named = named.union(r.step for r in refs)
    if step.id in named or not named <= ids:  # a plan with errors (reported by the caller)
        # ``named & ids`` walks the smaller side: never the whole id set for every step.
        named = (named & ids) - {step.id}
    return named


def _parents(plan: Plan) -> dict[str, frozenset[str]]:
    ids = set(plan.step_ids)
    return {s.id: _step_parents(s, _step_refs(s)[0], ids) for s in plan.steps}


def _find_cycle(parents: Mapping[str, Collection[str]], ids: Sequence[str]) -> list[str] | None:
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(ids, white)
    for root in ids:
        if color[root] != white:
            continue
        stack: list[tuple[str, list[str]]] = [(root, sorted(parents[root]))]
        path = [root]
        color[root] = grey
        while stack:
            node, todo = stack[-1]
            if not todo:
                color[node] = black
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop()
            if color[nxt] == grey:
                return [*path[path.index(nxt) :], nxt]
            if color[nxt] == white:
                color[nxt] = grey
                path.append(nxt)
                stack.append((nxt, sorted(parents[nxt])))
    return None


def build_dag(
    plan: Plan,
    parents: Mapping[str, frozenset[str]] | None = None,
    ids: tuple[str, ...] | None = None,
) -> Dag:
    """The DAG of a plan already known to be acyclic (see :func:`validate_plan`);
    ``parents`` and ``ids``: the plan's parents and step ids when the caller has them."""
    if ids is None:
        ids = plan.step_ids
    if parents is None:
        parents = _parents(plan)
    children: dict[str, list[str]] = {s: [] for s in ids}
    position = {s: i for i, s in enumerate(ids)}
    in_order = True  # every step after all of its parents: the plan order is the topological one
    for i, s in enumerate(ids):
        for p in parents[s]:
            children[p].append(s)
            if position[p] > i:
                in_order = False
    order = ids if in_order else _topological(ids, parents, children, position)
    if len(order) != len(position):
        raise PlanValidationError(["the plan has a cycle"])
    return Dag(
        order=order,
        parents=dict(parents),
        # Filled in plan order above, so each child list is already in plan order.
        children={k: tuple(v) for k, v in children.items()},
    )


def _topological(
    ids: tuple[str, ...],
    parents: Mapping[str, frozenset[str]],
    children: Mapping[str, list[str]],
    position: Mapping[str, int],
) -> tuple[str, ...]:
    """Kahn's sort, ties broken by plan order; shorter than ``ids`` when there is a cycle."""
    indeg = {s: len(parents[s]) for s in ids}
    ready = [(position[s], s) for s in ids if indeg[s] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for c in children[node]:
            indeg[c] -= 1
            if indeg[c] == 0:
                heapq.heappush(ready, (position[c], c))
    return tuple(order)


@cache
def _adapter(annotation: Any, metadata: tuple[Any, ...] = ()) -> TypeAdapter[Any]:
    # pydantic keeps a field's constraints (ge, max_length, ...) apart from its annotation.
    return TypeAdapter(Annotated[annotation, *metadata] if metadata else annotation)


@cache
def _input_shape(model: type[BaseModel]) -> tuple[dict[str, FieldInfo], Any, tuple[str, ...]]:
    """A skill input model's fields, ``extra`` setting and required names (read once)."""
    fields = dict(model.model_fields)
    required = tuple(name for name, f in fields.items() if f.is_required())
    return fields, model.model_config.get("extra"), required


def _check_inputs(step: StepSpec, skill: type[Skill], problems: list[str]) -> None:
    fields, extra, required = _input_shape(skill.Input)
    for name, value in step.inputs.items():
        if name not in fields:
            if extra != "allow":
                known = ", ".join(sorted(fields)) or "none"
                problems.append(
                    f"step {step.id!r}: skill {skill.name!r} has no input {name!r} "
                    f"(inputs: {known})"
                )
            continue
        if any(True for _ in find_refs(value)):
            continue  # the type is checked when the reference resolves
        try:
            field = fields[name]
            try:
                adapter = _adapter(field.annotation, tuple(field.metadata))  # type: ignore[arg-type]
            except TypeError:  # metadata that cannot be a cache key: build it each time
                adapter = _adapter.__wrapped__(field.annotation, tuple(field.metadata))
            adapter.validate_python(value)
        except ValidationError as e:
            msg = e.errors()[0]["msg"]
            problems.append(f"step {step.id!r}: input {name!r} is invalid: {msg}")
    for name in required:
        if name not in step.inputs:
            problems.append(f"step {step.id!r}: skill {skill.name!r} needs input {name!r}")


def validate_plan(
    plan: Plan,
    skills: Mapping[str, type[Skill]],
    *,
    grants: Collection[str] = DEFAULT_GRANTS,
    budget: BudgetPolicy | None = None,
) -> list[str]:
    """Every problem with ``plan`` against the skill catalogue, grants and budget."""
    return _validate(plan, skills, grants=grants, budget=budget)[0]


def _validate(
    plan: Plan,
    skills: Mapping[str, type[Skill]],
    *,
    grants: Collection[str],
    budget: BudgetPolicy | None,
) -> tuple[list[str], Dag | None]:
    """The problems, and the plan's DAG when its ids are unique and it has no cycle."""
    problems: list[str] = []
    ids = plan.step_ids
    by_id = {s.id: s for s in plan.steps}
    granted = frozenset(grants)
    seen: set[str] = set()
    for sid in ids:
        if sid in seen:
            problems.append(f"step id {sid!r} is used more than once")
        seen.add(sid)
    known = set(ids)
    parents: dict[str, frozenset[str]] = {}
    for s in plan.steps:
        skill = skills.get(s.skill)
        if skill is None:
            names = ", ".join(sorted(skills)) or "none registered"
            problems.append(f"step {s.id!r}: unknown skill {s.skill!r} (known: {names})")
        for dep in s.depends_on:
            if dep == s.id:
                problems.append(f"step {s.id!r} depends on itself")
            elif dep not in known:
                problems.append(f"step {s.id!r}: depends_on names unknown step {dep!r}")
        refs, ref_errors = _step_refs(s) if s.inputs else _NO_REFS
        problems.extend(ref_errors)
        parents[s.id] = _step_parents(s, refs, known)
        for r in refs:
            if r.step == s.id:
                problems.append(f"step {s.id!r}: input refers to its own output ({r})")
            elif r.step not in known:
                problems.append(f"step {s.id!r}: reference {r} names unknown step {r.step!r}")
            elif r.path and (target := skills.get(by_id[r.step].skill)) is not None:
                out_fields = target.Output.model_fields
                if r.path[0] not in out_fields:
                    problems.append(
                        f"step {s.id!r}: reference {r}: skill {target.name!r} has no output "
                        f"{r.path[0]!r} (outputs: {', '.join(sorted(out_fields))})"
                    )
        unknown = sorted(set(s.capabilities) - KNOWN_CAPABILITIES) if s.capabilities else ()
        if unknown:
            problems.append(
                f"step {s.id!r}: unknown capability {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(sorted(KNOWN_CAPABILITIES))})"
            )
        if skill is not None:
            if s.inputs or _input_shape(skill.Input)[2]:
                _check_inputs(s, skill, problems)
            missing = (
                set(skill.capabilities) - granted - set(s.capabilities)
                if skill.capabilities
                else None
            )
            if missing:
                caps = ", ".join(sorted(missing))
                problems.append(
                    f"step {s.id!r}: skill {skill.name!r} needs capability {caps} which is not "
                    f"granted (add `capabilities: [{caps}]` to the step to grant it)"
                )
    dag = None
    if len(seen) == len(ids):
        try:
            dag = build_dag(plan, parents, ids)  # a topological sort: it fails on a cycle
        except PlanValidationError:
            cycle = _find_cycle(parents, ids)  # the slower search, to name the cycle
            problems.append("the plan has a cycle: " + " -> ".join(cycle or ["?"]))
    problems.extend(_check_budget(plan, skills, budget or plan.budget))
    return problems, dag


def _check_budget(plan: Plan, skills: Mapping[str, type[Skill]], budget: BudgetPolicy) -> list[str]:
    problems: list[str] = []
    if budget.max_steps is not None and len(plan.steps) > budget.max_steps:
        problems.append(
            f"the plan has {len(plan.steps)} steps; the budget allows {budget.max_steps}"
        )
    if budget.max_tokens is None and budget.max_cost_usd is None and budget.max_llm_calls is None:
        return problems  # nothing to estimate against
    tokens, cost, calls = 0, 0.0, 0
    instances: dict[str, Skill] = {}  # one per skill: an estimate depends on the inputs only
    for s in plan.steps:
        skill = instances.get(s.skill)
        if skill is None:
            cls = skills.get(s.skill)
            if cls is None:
                continue
            skill = instances[s.skill] = cls()
        est = skill.estimate(dict(s.inputs))
        tokens, cost, calls = tokens + est.tokens, cost + est.cost_usd, calls + est.llm_calls
    checks: list[tuple[str, Any, Any]] = [
        ("tokens", tokens, budget.max_tokens),
        ("cost_usd", cost, budget.max_cost_usd),
        ("llm_calls", calls, budget.max_llm_calls),
    ]
    for what, est_value, limit in checks:
        if limit is not None and est_value > limit:
            problems.append(
                f"estimated {what} {est_value:g} is over the budget's {limit:g} "
                "(raise the budget or trim the plan)"
            )
    return problems


def check_plan(
    plan: Plan,
    skills: Mapping[str, type[Skill]],
    *,
    grants: Collection[str] = DEFAULT_GRANTS,
    budget: BudgetPolicy | None = None,
) -> Dag:
    """Validate and build the DAG; one :class:`PlanValidationError` lists every problem."""
    problems, dag = _validate(plan, skills, grants=grants, budget=budget)
    if problems:
        raise PlanValidationError(problems)
    assert dag is not None  # no problem: unique ids and no cycle
    return dag


def effective_grants(
    plan: Plan, skills: Mapping[str, type[Skill]], grants: Iterable[str] = DEFAULT_GRANTS
) -> dict[str, list[str]]:
    """Step id -> the capabilities it may use: its skill's declaration, narrowed to what the
    run (``grants``) and the step grant. Shown by ``sgr show`` and the RunView widget."""
    run = frozenset(grants)
    return {
        s.id: sorted(effective_capabilities(skills[s.skill], s, run)) if s.skill in skills else []
        for s in plan.steps
    }
