"""Check a body against its schema and name the first problem the way our error answers do.

jsonschema's errors are rich; a client gets one field and one keyword (`required`, `length`,
`minimum`, ...), so the views answer every malformed body alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match


@dataclass(frozen=True)
class Problem:
    """Why a body does not match: the field (`""` for the body itself) and the keyword."""

    field: str
    keyword: str


def _strict_integer(checker: Any, value: Any) -> bool:
    """JSON Schema counts 2.0 as an integer; our handlers store what they get, so it is not."""
    return isinstance(value, int) and not isinstance(value, bool)


#: Draft 2020-12 with one narrowing: `integer` means a JSON number written without a fraction.
Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)
#: jsonschema's keywords by the name the views use for them.
_KEYWORDS = {"minLength": "length", "maxLength": "length", "exclusiveMinimum": "minimum"}


def _field(path: Any) -> str:
    """`items[0].quantity` for the path ("items", 0, "quantity"); `""` for the body itself."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem(error: ValidationError, schema: dict[str, Any]) -> Problem:
    """Our name for jsonschema's error: a missing property, and `null` where one is required,
    are both `required` (a client that sends `null` did not send the field)."""
    path = list(error.absolute_path)
    field = _field(path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return Problem(f"{field}.{missing[0]}" if field else missing[0], "required")
    if error.instance is None and path and path[-1] in _holder(schema, path[:-1]):
        return Problem(field, "required")
    keyword = str(error.validator)
    return Problem(field, _KEYWORDS.get(keyword, keyword))


def _holder(schema: dict[str, Any], path: list[Any]) -> tuple[str, ...]:
    """The `required` names of the object that `path` leads to in `schema`."""
    for part in path:
        schema = schema.get("items" if isinstance(part, int) else "properties", {})
        schema = schema if isinstance(part, int) else schema.get(part, {})
    return tuple(schema.get("required", ()))


#: One validator per schema (they are module constants; the schema is kept so its id stays its).
_VALIDATORS: dict[int, tuple[dict[str, Any], Any]] = {}


def _validator(schema: dict[str, Any]) -> Any:
    """Built once per schema: every opt-in and webhook is checked on the request path."""
    kept = _VALIDATORS.get(id(schema))
    if kept is None or kept[0] is not schema:
        kept = _VALIDATORS[id(schema)] = (schema, Validator(schema))
    return kept[1]


def first_problem(value: Any, schema: dict[str, Any]) -> Problem | None:
    """The most relevant way `value` breaks `schema` (jsonschema's `best_match`), or None."""
    error = best_match(_validator(schema).iter_errors(value))
    return None if error is None else _problem(error, schema)
