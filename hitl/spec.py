"""Questions: built from a hi-latency tool call, and answers checked against them.

Everything here is deterministic (no clock, no I/O): the workflow builds and validates
questions with it, and the API validates answers with the very same functions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from jsonschema import exceptions as jsonschema_exceptions
from jsonschema.validators import validator_for

from validation import SchemaFault, failures_of

QUESTION_METADATA = "question"
"""``ToolSpec.metadata[QUESTION_METADATA]``: ``(args, kwargs) -> dict`` of question fields."""

NOTIFIER_METADATA = "notifier"
"""``ToolSpec.metadata[NOTIFIER_METADATA]``: a notifier (callable or built-in name) for the tool."""

MAX_TIMEOUT_SECONDS = 365 * 24 * 3600
MAX_REPORTED_ERRORS = 20
QUESTION_FIELDS = ("question", "responses", "form", "assignees", "timeout_seconds", "default", "details")


class QuestionError(ValueError):
    """The arguments of a hi-latency call do not describe a valid question."""


@dataclass
class QuestionSpec:
    """What a hi-latency call asks: text, allowed answers, who may answer, and how long to wait."""

    question: str
    responses: list[Any] | None = None
    form: dict[str, Any] | None = None
    assignees: list[str] = field(default_factory=list)
    timeout_seconds: float | None = None
    default: Any = None
    has_default: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    """Anything else the tool was given (e.g. a Slack destination), kept for notifiers."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_responses(value: Any) -> list[Any] | None:
    """A list of allowed answers, or a comma-separated string of them; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        items: list[Any] = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise QuestionError(
            f"responses must be a list or a comma-separated string, got {_type_name(value)}"
        )
    if not items:
        raise QuestionError("responses must name at least one allowed answer")
    for item in items:
        if item is None or isinstance(item, (list, dict)):
            raise QuestionError(
                f"each allowed response must be a string, number or boolean, got {_type_name(item)}"
            )
    return items


def normalize_assignees(value: Any) -> list[str]:
    """API key names or roles allowed to answer: a list or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        names = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise QuestionError(f"assignees must be non-empty strings, got {item!r}")
            names.append(item.strip())
        return names
    raise QuestionError(f"assignees must be a list or a comma-separated string, got {_type_name(value)}")


def normalize_timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise QuestionError(f"timeout_seconds must be a number, got {_type_name(value)}")
    if value <= 0 or value > MAX_TIMEOUT_SECONDS:
        raise QuestionError(
            f"timeout_seconds must be greater than 0 and at most {MAX_TIMEOUT_SECONDS}, got {value:g}"
        )
    return float(value)


def check_form(form: Any) -> dict[str, Any] | None:
    if form is None:
        return None
    if not isinstance(form, dict):
        raise QuestionError(f"form must be a JSON Schema object, got {_type_name(form)}")
    try:
        validator_for(form).check_schema(form)
    except jsonschema_exceptions.SchemaError as error:
        raise QuestionError(f"form is not a valid JSON Schema: {error.message} (at {error.json_path})") from None
    return form


def build_question(fields: dict[str, Any], *, has_default: bool | None = None) -> QuestionSpec:
    """Check and normalize question fields (``question``, ``responses``, ``form``, ``assignees``,
    ``timeout_seconds``, ``default``, ``details``)."""
    unknown = sorted(set(fields) - set(QUESTION_FIELDS))
    if unknown:
        raise QuestionError(f"unknown question field(s): {', '.join(unknown)}")
    text = fields.get("question")
    if not isinstance(text, str) or not text.strip():
        raise QuestionError(f"question must be a non-empty string, got {_type_name(text)}")
    responses = normalize_responses(fields.get("responses"))
    form = check_form(fields.get("form"))
    if responses is not None and form is not None:
        raise QuestionError("give either responses or form, not both")
    details = fields.get("details") or {}
    if not isinstance(details, dict):
        raise QuestionError(f"details must be an object, got {_type_name(details)}")
    spec = QuestionSpec(
        question=text,
        responses=responses,
        form=form,
        assignees=normalize_assignees(fields.get("assignees")),
        timeout_seconds=normalize_timeout(fields.get("timeout_seconds")),
        default=fields.get("default"),
        has_default="default" in fields if has_default is None else has_default,
        details=details,
    )
    if spec.has_default and spec.default is not None:
        problems = validate_answer(spec.to_dict(), spec.default)
        if problems:
            raise QuestionError(f"default is not an allowed answer: {problems[0]['message']}")
    return spec


def bind_arguments(params: Any, args: tuple | list, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Name positional arguments after the tool's parameters (``arg_<i>`` when unknown)."""
    named: dict[str, Any] = {}
    names = [p.name for p in params] if params is not None else []
    for index, value in enumerate(args):
        named[names[index] if index < len(names) else f"arg_{index}"] = value
    named.update(kwargs)
    return named


def ask_fields(args: tuple | list, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Question fields of ``app::human::ask(question, responses, timeout_seconds, default,
    assignees, form)``: its arguments are the fields themselves."""
    order = ("question", "responses", "timeout_seconds", "default", "assignees", "form")
    if len(args) > len(order):
        raise QuestionError(f"app::human::ask takes at most {len(order)} positional arguments, got {len(args)}")
    named = dict(zip(order, args))
    for key, value in kwargs.items():
        if key in named:
            raise QuestionError(f"app::human::ask got two values for '{key}'")
        named[key] = value
    unknown = sorted(set(named) - set(order))
    if unknown:
        raise QuestionError(f"app::human::ask got unexpected argument(s): {', '.join(unknown)}")
    return named


def generic_fields(args: tuple | list, kwargs: dict[str, Any], params: Any = None) -> dict[str, Any]:
    """For a hi-latency tool without a question mapping: the known field names are taken as
    they are, the first positional argument is the question, the rest become details."""
    named = bind_arguments(params, args, kwargs)
    fields: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for key, value in named.items():
        if key in QUESTION_FIELDS and key != "details":
            fields[key] = value
        else:
            details[key] = value
    if "question" not in fields:
        for candidate in ("text", "prompt", "message", "arg_0"):
            if isinstance(details.get(candidate), str):
                fields["question"] = details.pop(candidate)
                break
    if details:
        fields["details"] = details
    return fields


def question_from_call(tool: Any, args: tuple | list, kwargs: dict[str, Any]) -> QuestionSpec:
    """The question a hi-latency call asks. ``tool`` is its ``ToolSpec``."""
    mapper: Callable[..., dict[str, Any]] | None = tool.metadata.get(QUESTION_METADATA)
    try:
        if mapper is not None:
            fields = mapper(tuple(args), dict(kwargs))
            if not isinstance(fields, dict):
                raise QuestionError(f"the question mapping of '{tool.fqn}' returned {_type_name(fields)}, not an object")
        else:
            fields = generic_fields(args, kwargs, tool.params)
        return build_question(fields)
    except QuestionError:
        raise
    except Exception as error:  # a plugin's mapping failed: report it as the call's error
        raise QuestionError(f"cannot build the question of '{tool.fqn}': {error}") from None


def validate_answer(question: dict[str, Any], answer: Any) -> list[dict[str, Any]]:
    """Problems with ``answer`` for ``question`` (a ``QuestionSpec.to_dict()`` or a stored question);
    each ``{"path", "message"}`` (plus ``validator`` for form errors). Empty when it is valid."""
    responses = question.get("responses")
    form = question.get("form")
    if responses:
        if _is_one_of(answer, responses):
            return []
        return [
            {
                "path": "$.answer",
                "message": f"{_show(answer)} is not one of the allowed responses: "
                + ", ".join(_show(r) for r in responses),
                "allowed": list(responses),
            }
        ]
    if form:
        try:
            failures = failures_of(form, answer)
        except SchemaFault as fault:
            return [{"path": "$.answer", "message": f"the question's form cannot be evaluated at {fault.schema_path}: {fault.message}"}]
        return [
            {"path": "$.answer" + failure.path[1:], "message": failure.message, "validator": failure.validator}
            for failure in failures[:MAX_REPORTED_ERRORS]
        ]
    if answer is None:
        return [{"path": "$.answer", "message": "an answer is required"}]
    return []


def may_answer(assignees: list[str] | None, name: str | None, roles: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether an API key (its name and roles) may answer: anyone when there are no assignees."""
    if not assignees:
        return True
    allowed = set(assignees)
    return (name is not None and name in allowed) or any(role in allowed for role in roles)


def _is_one_of(answer: Any, responses: list[Any]) -> bool:
    for allowed in responses:
        if type(answer) is bool or type(allowed) is bool:
            if type(answer) is type(allowed) and answer == allowed:
                return True
        elif answer == allowed:
            return True
    return False


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {str: "string", bool: "boolean", int: "integer", float: "number", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )
