"""ComfyUI's checks of a prompt's input values, in ComfyUI 0.8.0's words, against the classes the
pool's nodes describe: an INT or FLOAT that does not convert, one past its min or max, a choice
that is not in its list. A ComfyUI client shows these as it shows a ComfyUI server's own.

As in ComfyUI, only the nodes an output node depends on are checked, and a node is refused with
the output nodes depending on it (`dependent_outputs`); a node whose input comes from a refused
node fails with it but is not named. What ComfyUI checks first (class types, links, required
inputs) the router's graph check has done by then, and a class the pool does not describe (a
node that has not said what it has may have it) is not checked here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.graphs.object_info import combo_values, spec_options

# ComfyUI sends a list this long or longer as its length only (scanned model files can be
# thousands).
LONG_LIST = 21

ClassInfo = Callable[[str], dict[str, Any] | None]  # class type -> its /object_info, if known
Skipped = Callable[[str, str], bool]  # (class type, input) -> checked elsewhere


@dataclass
class ValueErrors:
    """`node_errors` as ComfyUI answers them, and which output nodes failed."""

    node_errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    failed_outputs: list[str] = field(default_factory=list)

    @property
    def every_output_failed(self) -> bool:
        return bool(self.outputs) and len(self.failed_outputs) == len(self.outputs)


def value_errors(graph: dict[str, Any], info_of: ClassInfo, skipped: Skipped) -> ValueErrors:
    """The graph's value errors. `graph`: a prompt the router's graph check accepted (every node
    a `{class_type, inputs}`, no cycle)."""
    infos = {node_id: info_of(node["class_type"]) for node_id, node in graph.items()}
    found = ValueErrors(
        outputs=[node_id for node_id, info in infos.items() if info and info.get("output_node")]
    )
    problems: dict[str, list[dict[str, Any]]] = {}  # node -> its own, for the nodes checked
    valid: dict[str, bool] = {}
    for output in found.outputs:
        for node_id in _sources_first(graph, output, valid):
            node = graph[node_id]
            info = infos[node_id]
            own = [] if info is None else _node_problems(node, info, skipped)
            if own:
                problems[node_id] = own
            valid[node_id] = not own and all(valid[s] for s in _sources(graph, node_id))
        if not valid[output]:
            found.failed_outputs.append(output)
            for node_id in _reaching(graph, output):
                if node_id in problems:
                    entry = found.node_errors.setdefault(
                        node_id,
                        {
                            "errors": problems[node_id],
                            "dependent_outputs": [],
                            "class_type": graph[node_id]["class_type"],
                        },
                    )
                    entry["dependent_outputs"].append(output)
    return found


def dependent_outputs(
    graph: dict[str, Any], node_id: str, is_output: Callable[[str], bool]
) -> list[str]:
    """The output nodes that depend on `node_id` (itself, if it is one), in the graph's order."""
    return [
        output
        for output, node in graph.items()
        if isinstance(node, dict)
        and isinstance(node.get("class_type"), str)
        and is_output(node["class_type"])
        and node_id in _reaching(graph, output)
    ]


def _sources(graph: dict[str, Any], node_id: str) -> list[str]:
    node = graph.get(node_id)
    inputs = node.get("inputs") if isinstance(node, dict) else None
    if not isinstance(inputs, dict):
        return []  # a node the graph check refused
    return [
        str(value[0])
        for value in inputs.values()
        if isinstance(value, list) and len(value) == 2 and str(value[0]) in graph
    ]


def _sources_first(graph: dict[str, Any], start: str, done: dict[str, bool]) -> list[str]:
    """The nodes `start` depends on and itself, not yet in `done`, each after its sources (a
    walk with a stack: a chain of a thousand nodes is deeper than Python recurses)."""
    order: list[str] = []
    seen = set(done)
    if start in seen:
        return order
    seen.add(start)
    stack = [(start, iter(_sources(graph, start)))]
    while stack:
        node_id, pending = stack[-1]
        source = next((s for s in pending if s not in seen), None)
        if source is None:
            stack.pop()
            order.append(node_id)
        else:
            seen.add(source)
            stack.append((source, iter(_sources(graph, source))))
    return order


def _reaching(graph: dict[str, Any], output: str) -> set[str]:
    """`output` and every node it depends on."""
    found, stack = {output}, [output]
    while stack:
        for source in _sources(graph, stack.pop()):
            if source not in found:
                found.add(source)
                stack.append(source)
    return found


def _node_problems(
    node: dict[str, Any], info: dict[str, Any], skipped: Skipped
) -> list[dict[str, Any]]:
    inputs = node.get("inputs") or {}
    declared = info.get("input") or {}
    problems = []
    for section in ("required", "optional"):
        for name, spec in (declared.get(section) or {}).items():
            if name not in inputs or not isinstance(spec, list) or not spec:
                continue
            if isinstance(inputs[name], list) or skipped(node["class_type"], name):
                continue  # a link (the graph check's), or the router's own file input
            problem = value_problem(name, spec, inputs[name])
            if problem is not None:
                problems.append(problem)
    return problems


def value_problem(name: str, spec: list[Any], value: Any) -> dict[str, Any] | None:
    """ComfyUI's error for `value` given to the input `name` declared as `spec`, or None."""
    kind, options = spec[0], spec_options(spec)
    spec = [kind, options]  # as ComfyUI quotes it: with its options, if only {}
    if kind in ("INT", "FLOAT"):
        try:
            number = int(value) if kind == "INT" else float(value)
        except (TypeError, ValueError, OverflowError) as failed:
            return _problem(
                "invalid_input_type",
                f"Failed to convert an input value to a {kind} value",
                f"{name}, {value}, {failed}",
                name,
                spec,
                value,
                exception_message=str(failed),
            )
        low, high = options.get("min"), options.get("max")
        if _is_number(low) and number < low:
            message = f"Value {number} smaller than min of {low}"
            return _problem("value_smaller_than_min", message, name, name, spec, number)
        if _is_number(high) and number > high:
            message = f"Value {number} bigger than max of {high}"
            return _problem("value_bigger_than_max", message, name, name, spec, number)
        return None
    choices = combo_values(spec)
    if choices is None or _is_choice(value, choices):
        return None
    return not_in_list(name, [choices, options], value)


def not_in_list(name: str, spec: list[Any], value: Any) -> dict[str, Any]:
    """ComfyUI's "Value not in list" for the choice input `name` declared as `spec` (`[choices,
    options]`); a list of LONG_LIST choices or more is given as its length."""
    choices = spec[0]
    listed: str = str(choices)
    config: list[Any] | None = spec
    if len(choices) >= LONG_LIST:
        listed, config = f"(list of length {len(choices)})", None
    details = f"{name}: '{value}' not in {listed}"
    return _problem("value_not_in_list", "Value not in list", details, name, config, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_choice(value: Any, choices: list[Any]) -> bool:
    try:
        return value in choices
    except TypeError:  # a value no choice can equal
        return False


def _problem(
    kind: str,
    message: str,
    details: str,
    name: str,
    config: list[Any] | None,
    value: Any,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": kind,
        "message": message,
        "details": details,
        "extra_info": {
            "input_name": name,
            "input_config": config,
            "received_value": value,
            **extra,
        },
    }
