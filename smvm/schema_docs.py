"""Every rule a request schema enforces, as JSON Schema: how validators describe themselves in the OpenAPI document.

marshmallow's own validators (``Range`` with exclusive bounds, ``Length``, ``Regexp``, ``OneOf``, ``Equal``,
``NoneOf``, ``ContainsOnly``, ``URL``, ``Email``, ``And``) are rendered from their attributes. A custom validator
function, or a ``@validates_schema`` cross-field rule, describes itself with :func:`documented`::

    @documented("Must not contain control characters.", pattern=r"^(?![\\s\\S]*[\\x00-\\x08])")
    def _plain_text(value: str) -> None: ...

    @validates_schema
    @documented("estimated_sam must not exceed estimated_tam.")
    def _funnel(self, data, **kwargs): ...

Without :func:`documented`, the messages of the ``ValidationError``s it raises become its description (what a client
is told anyway), else its docstring's first paragraph; a rule with none of these cannot be rendered and the OpenAPI
test names it. ``@validates("field")`` hooks are rendered on their field. A module that cannot carry the decorator yet
can be documented from outside with :func:`register`. Keyword values may be callables of the deployment's
:class:`~smvm.config.Settings` (a cap set by ``SMVM_*``). A rule described only in words (no keywords) is one a
generator reading the document cannot follow; tests/contract/hooks.py tells schemathesis so. This module knows
nothing of Flask or apispec.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

from marshmallow import Schema, fields, validate
from marshmallow.decorators import VALIDATES, VALIDATES_SCHEMA

#: The attribute :func:`documented` sets on a validator.
ATTRIBUTE = "__openapi__"


@dataclasses.dataclass(frozen=True)
class Documentation:
    """What a validator means in JSON Schema: keywords a generator can act on, and a description people read.

    ``field`` names the property a schema-level rule constrains (its keywords go there); ``None`` for a rule about
    the whole object, which can only be described.
    """

    description: str
    keywords: dict[str, Any] = dataclasses.field(default_factory=dict)
    field: str | None = None

    def resolved(self, settings: Any | None) -> dict[str, Any]:
        """The keywords, with callables evaluated against ``settings`` (the deployment's caps)."""
        return {key: (value(settings) if callable(value) else value) for key, value in self.keywords.items()}


def documented(description: str, *, field: str | None = None, **keywords: Any) -> Callable[[Any], Any]:
    """Attach the JSON Schema meaning of a validator (function or ``@validates_schema`` method); behaviour unchanged.

    :param description: the rule in words, as a client reads it.
    :param field: for a schema-level rule, the property its keywords apply to.
    :param keywords: JSON Schema keywords (``pattern``, ``maximum``...); a value may be ``callable(settings)``.
    """

    def attach(validator: Any) -> Any:
        setattr(validator, ATTRIBUTE, Documentation(description, dict(keywords), field))
        return validator

    return attach


def documentation(validator: Any) -> Documentation | None:
    """The :class:`Documentation` of a custom validator: explicit (:func:`documented`), else the messages of the
    ``ValidationError``s it raises (what a client is told anyway), else its docstring, else ``None``."""
    function = getattr(validator, "__func__", validator)
    explicit = getattr(function, ATTRIBUTE, None)
    if isinstance(explicit, Documentation):
        return explicit
    if isinstance(validator, validate.Validator):
        return None
    messages = _raised_messages(function)
    if messages:
        return Documentation(" ".join(messages))
    doc = inspect.getdoc(function)
    return Documentation(doc.split("\n\n", 1)[0].replace("\n", " ")) if doc else None


def _raised_messages(function: Any) -> list[str]:
    """The literal messages of ``raise ValidationError("...")`` in ``function``'s source (``{...}`` for an
    interpolated part), in order."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return []
    messages: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
            continue
        name = getattr(node.exc.func, "id", None) or getattr(node.exc.func, "attr", None)
        if name != "ValidationError":
            continue
        message = node.exc.args[0]
        if isinstance(message, ast.Constant) and isinstance(message.value, str):
            messages.append(message.value)
        elif isinstance(message, ast.JoinedStr):
            messages.append("".join(part.value if isinstance(part, ast.Constant) else "{...}" for part in message.values))
    return list(dict.fromkeys(messages))


@dataclasses.dataclass
class Rendered:
    """One field's validators as JSON Schema: keywords, extra patterns (``allOf``) and description sentences."""

    keywords: dict[str, Any] = dataclasses.field(default_factory=dict)
    patterns: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    unrendered: list[Any] = dataclasses.field(default_factory=list)
    #: The tightest numeric bounds so far, as ``(value, exclusive)``.
    low: tuple[Any, bool] | None = None
    high: tuple[Any, bool] | None = None

    def add_pattern(self, pattern: str) -> None:
        if "pattern" not in self.keywords:
            self.keywords["pattern"] = pattern
        elif pattern != self.keywords["pattern"] and pattern not in self.patterns:
            # One "pattern" per schema object; the others must hold too.
            self.patterns.append(pattern)

    def bound(self, value: Any, *, exclusive: bool, upper: bool) -> None:
        current = self.high if upper else self.low
        tighter = current is None or (value < current[0] if upper else value > current[0]) or (
            value == current[0] and exclusive)
        if tighter:
            if upper:
                self.high = (value, exclusive)
            else:
                self.low = (value, exclusive)

    def as_property(self) -> dict[str, Any]:
        """The JSON Schema 2020-12 keywords (OpenAPI 3.1): exclusive bounds are numbers, not flags."""
        prop = dict(self.keywords)
        if self.low is not None:
            prop["exclusiveMinimum" if self.low[1] else "minimum"] = self.low[0]
        if self.high is not None:
            prop["exclusiveMaximum" if self.high[1] else "maximum"] = self.high[0]
        if self.patterns:
            prop["allOf"] = [{"pattern": pattern} for pattern in self.patterns]
        return prop


def _kind(field: fields.Field) -> str:
    if isinstance(field, fields.Dict):
        return "object"
    if isinstance(field, fields.List | fields.Tuple) or (isinstance(field, fields.Nested) and field.many):
        return "array"
    if isinstance(field, fields.Number | fields.TimeDelta):
        return "number"
    if isinstance(field, fields.DateTime | fields.Date | fields.Time):
        return "datetime"
    return "string"


def _render_range(rendered: Rendered, validator: validate.Range, field: fields.Field) -> None:
    if _kind(field) != "number":
        # Ranges over dates or strings have no JSON Schema keyword: say them.
        rendered.notes.append(_range_words(validator))
        return
    if validator.min is not None:
        rendered.bound(validator.min, exclusive=not validator.min_inclusive, upper=False)
    if validator.max is not None:
        rendered.bound(validator.max, exclusive=not validator.max_inclusive, upper=True)


def _range_words(validator: validate.Range) -> str:
    parts = []
    if validator.min is not None:
        parts.append(f"{'at least' if validator.min_inclusive else 'greater than'} {validator.min}")
    if validator.max is not None:
        parts.append(f"{'at most' if validator.max_inclusive else 'less than'} {validator.max}")
    return "Must be " + " and ".join(parts) + "."


def _render_length(rendered: Rendered, validator: validate.Length, field: fields.Field) -> None:
    names = {"object": ("minProperties", "maxProperties"), "array": ("minItems", "maxItems")}.get(
        _kind(field), ("minLength", "maxLength"))
    low = validator.equal if validator.equal is not None else validator.min
    high = validator.equal if validator.equal is not None else validator.max
    if low is not None and low > rendered.keywords.get(names[0], -1):
        rendered.keywords[names[0]] = low
    if high is not None and high < rendered.keywords.get(names[1], float("inf")):
        rendered.keywords[names[1]] = high


def _render_choices(rendered: Rendered, choices: list[Any], field: fields.Field) -> None:
    allowed = [choice for choice in choices if choice is not None or field.allow_none]
    if field.allow_none and None not in allowed:
        allowed.append(None)
    if "enum" in rendered.keywords:
        allowed = [choice for choice in rendered.keywords["enum"] if choice in allowed]
    rendered.keywords["enum"] = allowed


def _render_url(rendered: Rendered, validator: validate.URL) -> None:
    """marshmallow's own URL regex, as an ECMA-262 pattern, and its schemes: exactly what the server accepts."""
    rendered.keywords["format"] = "uri"
    schemes = sorted(validator.schemes or ())
    if schemes:
        rendered.add_pattern("^(?:" + "|".join(_anycase(scheme) for scheme in schemes) + ")://")
        rendered.notes.append(f"An absolute URL ({', '.join(schemes)}).")
    try:
        regex = validator._regex(relative=validator.relative, absolute=validator.absolute,  # noqa: SLF001 - the one source
                                 require_tld=validator.require_tld)
    except (AttributeError, TypeError):  # another marshmallow: the format and schemes still hold
        return
    rendered.add_pattern(ecma_pattern(regex.pattern, ignore_case=bool(regex.flags & re.IGNORECASE)))


def _anycase(text: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


def ecma_pattern(pattern: str, *, ignore_case: bool = False) -> str:
    """A Python regex as an ECMA-262 pattern (JSON Schema's dialect): ``\\Z`` becomes an end-of-input lookahead
    (``$`` would also match before a final newline in Python), and case-insensitivity is spelled out, since a
    JSON Schema pattern carries no flags. Covers what marshmallow's validators use, not every Python construct."""
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            escape = pattern[index:index + 2]
            out.append("(?![\\s\\S])" if escape == "\\Z" else escape)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif ignore_case and char.isascii() and char.isalpha():
            if in_class:
                is_range = pattern[index + 1:index + 2] == "-" and pattern[index + 2:index + 3].isalpha()
                if is_range:
                    low, high = char, pattern[index + 2]
                    out.append(f"{low.upper()}-{high.upper()}{low.lower()}-{high.lower()}")
                    index += 3
                    continue
                out.append(char.upper() + char.lower())
            else:
                out.append(f"[{char.upper()}{char.lower()}]")
            index += 1
            continue
        out.append(char)
        index += 1
    return "".join(out)


#: keyword -> (exclusive, upper) for numeric bounds a custom rule declares.
_BOUNDS = {"minimum": (False, False), "exclusiveMinimum": (True, False),
           "maximum": (False, True), "exclusiveMaximum": (True, True)}


def render_validator(rendered: Rendered, validator: Any, field: fields.Field, settings: Any | None = None) -> bool:
    """Add one validator's meaning to ``rendered``. :returns: ``False`` when it cannot be rendered at all."""
    if isinstance(validator, Documentation):
        custom: Documentation | None = validator
    elif not isinstance(validator, validate.Validator) or hasattr(validator, ATTRIBUTE):
        custom = documentation(validator)
    else:
        custom = None
    if custom is not None:
        for key, value in custom.resolved(settings).items():
            if key == "pattern":
                rendered.add_pattern(value)
            elif key in _BOUNDS:
                exclusive, upper = _BOUNDS[key]
                rendered.bound(value, exclusive=exclusive, upper=upper)
            else:
                rendered.keywords[key] = value
        rendered.notes.append(custom.description)
        return True
    if isinstance(validator, validate.And):
        return all(render_validator(rendered, inner, field, settings) for inner in validator.validators)
    if isinstance(validator, validate.Range):
        _render_range(rendered, validator, field)
    elif isinstance(validator, validate.Length):
        _render_length(rendered, validator, field)
    elif isinstance(validator, validate.Regexp):
        rendered.add_pattern(validator.regex.pattern)
    elif isinstance(validator, validate.OneOf):
        _render_choices(rendered, list(validator.choices), field)
    elif isinstance(validator, validate.Equal):
        _render_choices(rendered, [validator.comparable], field)
    elif isinstance(validator, validate.NoneOf):
        rendered.keywords["not"] = {"enum": list(validator.iterable)}
    elif isinstance(validator, validate.ContainsOnly):
        rendered.keywords["items"] = {"enum": list(validator.choices)}
    elif isinstance(validator, validate.ContainsNoneOf):
        rendered.keywords["items"] = {"not": {"enum": list(validator.iterable)}}
    elif isinstance(validator, validate.URL):
        _render_url(rendered, validator)
    elif isinstance(validator, validate.Email):
        rendered.keywords["format"] = "email"
    else:
        rendered.unrendered.append(validator)
        return False
    return True


def render_field(field: fields.Field, settings: Any | None = None) -> Rendered:
    """Every validator of ``field`` (not of its inner, key or value fields: those are rendered on their own)."""
    rendered = Rendered()
    for validator in field.validators:
        render_validator(rendered, validator, field, settings)
    return rendered


#: Documentation for hooks their module cannot carry yet: ``(schema class name, method name) -> Documentation``.
_REGISTERED: dict[tuple[str, str], Documentation] = {}


def register(schema: type[Schema], method: str, described: Documentation) -> None:
    """Document ``schema.method`` (a ``@validates``/``@validates_schema`` hook) from outside its module.

    :raises ValueError: when the schema has no such hook (a rename must not leave a rule silently undocumented).
    """
    if method not in {name for _, name, _ in hooks(schema)}:
        raise ValueError(f"{schema.__name__} has no validation hook {method!r}")
    _REGISTERED[(schema.__name__, method)] = described


@dataclasses.dataclass(frozen=True)
class Hook:
    """A ``@validates`` (``fields`` names what it validates) or ``@validates_schema`` hook (``fields`` empty)."""

    schema: type[Schema]
    method: str
    fields: tuple[str, ...]

    @property
    def documentation(self) -> Documentation | None:
        registered = _REGISTERED.get((self.schema.__name__, self.method))
        return registered or documentation(getattr(self.schema, self.method))


def hooks(schema: Schema | type[Schema]) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(tag, method name, field names)`` for every validation hook of ``schema``."""
    cls = schema if isinstance(schema, type) else type(schema)
    found = []
    for tag in (VALIDATES, VALIDATES_SCHEMA):
        for name, _, kwargs in getattr(cls, "_hooks", {}).get(tag, []):
            found.append((tag, name, tuple(kwargs.get("field_names", ())) if tag == VALIDATES else ()))
    return found


def validation_hooks(schema: Schema | type[Schema]) -> list[Hook]:
    cls = schema if isinstance(schema, type) else type(schema)
    return [Hook(cls, name, names) for _, name, names in hooks(cls)]


def schema_classes(schema: Schema | type[Schema]) -> list[type[Schema]]:
    """``schema``'s class and every schema class nested in it, each once."""
    seen: dict[type[Schema], None] = {}

    def visit(cls: type[Schema]) -> None:
        if cls in seen:
            return
        seen[cls] = None
        for _, field in iter_fields(cls):
            if isinstance(field, fields.Nested):
                visit(type(field.schema))

    visit(schema if isinstance(schema, type) else type(schema))
    return list(seen)


def iter_fields(schema: Schema | type[Schema], prefix: str = "") -> Iterator[tuple[str, fields.Field]]:
    """Every field of ``schema`` and of the schemas and fields nested in it, with a dotted path
    (``business_idea.estimated_tam``, ``target_avatars[]``, ``observed_metrics{key}``, ``priors{value}``)."""
    instance = schema() if isinstance(schema, type) else schema
    for name, field in instance.fields.items():
        if field.dump_only:
            continue
        path = f"{prefix}{field.data_key or name}"
        yield from _walk(field, path)


def _walk(field: fields.Field, path: str) -> Iterator[tuple[str, fields.Field]]:
    yield path, field
    if isinstance(field, fields.Nested):
        yield from iter_fields(field.schema, f"{path}.")
    elif isinstance(field, fields.List):
        yield from _walk(field.inner, f"{path}[]")
    elif isinstance(field, fields.Tuple):
        for index, inner in enumerate(field.tuple_fields):
            yield from _walk(inner, f"{path}[{index}]")
    elif isinstance(field, fields.Dict):
        if field.key_field is not None:
            yield from _walk(field.key_field, f"{path}{{key}}")
        if field.value_field is not None:
            yield from _walk(field.value_field, f"{path}{{value}}")
