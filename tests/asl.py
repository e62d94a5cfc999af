"""A small Amazon States Language interpreter and validator for the states the fan-out uses.

moto 5.2 can execute state machines (its `stepfunctions.execute_state_machine` setting), but
runs Lambda tasks in Docker containers; here the handlers run in-process instead. Semantics
follow the ASL specification (https://states-language.net/spec.html): InputPath (only
"$"), Parameters/ItemSelector with ".$" keys, ResultPath, Retry (ErrorEquals with
States.ALL, MaxAttempts), Catch (the error output {"Error", "Cause"} at its ResultPath),
Map (ItemsPath, $$.Map.Item.Value, MaxConcurrency honoured by a thread pool), Pass,
Choice (NumericGreaterThan), Fail, Succeed. A Python exception is a Lambda function error:
its class name is the Error, its message the Cause, as Lambda reports them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any], object], Any]
STATE_TYPES = {"Task", "Pass", "Map", "Choice", "Fail", "Succeed", "Wait", "Parallel"}
TERMINAL = {"Fail", "Succeed"}
NAME_LIMIT = 80  # the spec: state names at most 80 Unicode characters


class ExecutionFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        self.error, self.cause = error, cause
        super().__init__(f"{error}: {cause}")


@dataclass
class History:
    """The events an execution went through, as (state, event) like the console shows."""

    events: list[tuple[str, str]] = field(default_factory=list)

    def add(self, state: str, event: str) -> None:
        self.events.append((state, event))


def path_get(data: Any, path: str, context: dict[str, Any]) -> Any:
    """A reference path: $ or $.a.b (and $$. for the context object)."""
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    if not path.startswith("$"):
        raise ValueError(f"not a path: {path}")
    value = root
    for part in (p for p in rest.split(".") if p):
        if not isinstance(value, dict) or part not in value:
            raise ExecutionFailed("States.Runtime", f"path {path} not found")
        value = value[part]
    return value


def path_set(data: Any, path: str | None, result: Any) -> Any:
    """ResultPath: None (absent) replaces the input with the result; $.a.b sets it there."""
    if path is None or path == "$":
        return result
    out = copy.deepcopy(data)
    target = out
    parts = path[2:].split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = result
    return out


def render(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters / ItemSelector: keys ending in .$ are paths into the input or context."""
    if isinstance(template, dict):
        return {(k[:-2] if k.endswith(".$") else k):
                (path_get(data, v, context) if k.endswith(".$") else render(v, data, context))
                for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, data, context) for v in template]
    return template


def _matches(errors: list[str], error: str) -> bool:
    return "States.ALL" in errors or error in errors


@dataclass
class Interpreter:
    handlers: dict[str, Handler]  # Resource ARN -> the function run in-process
    history: History = field(default_factory=History)

    def execute(self, definition: dict[str, Any], data: Any, name: str = "test-execution") -> Any:
        return self._run(definition, data, {"Execution": {"Name": name}})

    def _run(self, machine: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            self.history.add(name, "Entered")
            kind = state["Type"]
            if kind == "Fail":
                self.history.add(name, "Failed")
                raise ExecutionFailed(state.get("Error", "States.Fail"), state.get("Cause", ""))
            if kind == "Succeed":
                self.history.add(name, "Exited")
                return data
            if kind == "Choice":
                name = next((r["Next"] for r in state["Choices"]
                             if path_get(data, r["Variable"], context) >
                             r["NumericGreaterThan"]), state["Default"])
                self.history.add(name, "Chosen")
                continue
            try:
                data = self._step(state, data, context)
            except ExecutionFailed as failure:
                catch = next((c for c in state.get("Catch", [])
                              if _matches(c["ErrorEquals"], failure.error)), None)
                if catch is None:
                    raise
                self.history.add(name, f"Caught {failure.error}")
                data = path_set(data, catch.get("ResultPath"),
                                {"Error": failure.error, "Cause": failure.cause})
                name = catch["Next"]
                continue
            self.history.add(name, "Exited")
            if state.get("End"):
                return data
            name = state["Next"]

    def _step(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        effective = (render(state["Parameters"], data, context)
                     if "Parameters" in state else data)
        kind = state["Type"]
        if kind == "Pass":
            result = effective
        elif kind == "Task":
            result = self._task(state, effective)
        elif kind == "Map":
            items = path_get(data, state.get("ItemsPath", "$"), context)

            def one(item: Any) -> Any:
                ctx = {**context, "Map": {"Item": {"Value": item}}}
                given = render(state["ItemSelector"], data, ctx) if "ItemSelector" in state \
                    else item
                return self._run(state["ItemProcessor"], given, ctx)

            workers = state.get("MaxConcurrency", 0) or max(1, len(items))
            with ThreadPoolExecutor(max(1, min(workers, len(items) or 1))) as pool:
                result = list(pool.map(one, items))
        else:
            raise ExecutionFailed("States.Runtime", f"state type {kind} not interpreted")
        return path_set(data, state.get("ResultPath"), result)

    def _task(self, state: dict[str, Any], given: Any) -> Any:
        handler = self.handlers[state["Resource"]]
        attempts: dict[int, int] = {}
        while True:
            try:
                return handler(copy.deepcopy(given), None)
            except Exception as exc:
                error = type(exc).__name__
                rules = state.get("Retry", [])
                index = next((i for i, r in enumerate(rules)
                              if _matches(r["ErrorEquals"], error)), None)
                if index is None or attempts.get(index, 0) >= rules[index].get("MaxAttempts", 3):
                    raise ExecutionFailed(error, str(exc)) from exc
                attempts[index] = attempts.get(index, 0) + 1  # no interval: no sleeps in tests


def validate(machine: dict[str, Any], where: str = "$") -> list[str]:
    """Problems of `machine` by the ASL spec's rules; [] when valid."""
    problems: list[str] = []
    states = machine.get("States")
    if not isinstance(states, dict) or not states:
        return [f"{where}: States must be a non-empty object"]
    if machine.get("StartAt") not in states:
        problems.append(f"{where}: StartAt {machine.get('StartAt')!r} names no state")
    for name, state in states.items():
        at = f"{where}.States.{name}"
        if not isinstance(name, str) or not 0 < len(name) <= NAME_LIMIT:
            problems.append(f"{at}: a state name is 1 to {NAME_LIMIT} characters")
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            problems.append(f"{at}: Type {kind!r} is not a state type")
            continue
        if kind not in TERMINAL | {"Choice"}:
            if ("Next" in state) == bool(state.get("End")):
                problems.append(f"{at}: exactly one of Next and End (true)")
        elif "Next" in state or "End" in state:
            problems.append(f"{at}: a {kind} state has no Next or End")
        targets = [state.get("Next")] if "Next" in state else []
        if kind == "Choice":
            if not isinstance(state.get("Choices"), list) or not state["Choices"]:
                problems.append(f"{at}: Choices must be a non-empty array")
            targets += [r.get("Next") for r in state.get("Choices", [])]
            if "Default" in state:
                targets.append(state["Default"])
        if kind == "Task" and not isinstance(state.get("Resource"), str):
            problems.append(f"{at}: a Task needs a Resource URI")
        for field_name, kind_of in (("TimeoutSeconds", int), ("MaxConcurrency", int),
                                    ("Parameters", dict), ("ItemSelector", dict),
                                    ("ResultPath", str), ("ItemsPath", str)):
            if field_name in state and not isinstance(state[field_name], kind_of):
                problems.append(f"{at}: {field_name} must be {kind_of.__name__}")
        for rule_kind in ("Retry", "Catch"):
            for i, rule in enumerate(state.get(rule_kind, [])):
                errors = rule.get("ErrorEquals")
                if not isinstance(errors, list) or not errors:
                    problems.append(f"{at}.{rule_kind}[{i}]: ErrorEquals a non-empty array")
                elif "States.ALL" in errors and (len(errors) > 1 or
                                                 i != len(state[rule_kind]) - 1):
                    problems.append(f"{at}.{rule_kind}[{i}]: States.ALL alone and last")
                if rule_kind == "Catch":
                    targets.append(rule.get("Next"))
                elif rule.get("MaxAttempts", 3) < 0 or rule.get("BackoffRate", 2.0) < 1:
                    problems.append(f"{at}.Retry[{i}]: MaxAttempts >= 0, BackoffRate >= 1")
        for target in targets:
            if target not in states:
                problems.append(f"{at}: transition to {target!r}, which is no state")
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if not isinstance(processor, dict):
                problems.append(f"{at}: a Map needs an ItemProcessor")
            else:
                problems += validate(processor, f"{at}.ItemProcessor")
    problems += [f"{where}.States.{n}: unreachable from StartAt"
                 for n in sorted(set(states) - _reachable(machine))]
    return problems


def _reachable(machine: dict[str, Any]) -> set[str]:
    states, seen = machine["States"], set[str]()
    todo: list[str | None] = [machine.get("StartAt")]
    while todo:
        name = todo.pop()
        if name is None or name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        todo += [state.get("Next"), state.get("Default")]
        todo += [r.get("Next") for r in state.get("Choices", []) + state.get("Catch", [])]
    return seen
