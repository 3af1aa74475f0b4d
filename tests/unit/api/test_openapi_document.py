"""The OpenAPI document lists every route Flask serves under /api/v1, and states every rule the request schemas
enforce: a new route, field, validator or cross-field rule cannot be left out of the contract."""

from __future__ import annotations

import re
from typing import Any

import pytest
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from api import create_app
from api.openapi import QUERY_SCHEMAS, REQUEST_SCHEMAS, build_spec
from smvm import schema_docs
from smvm.config import Settings

pytestmark = pytest.mark.unit

SETTINGS = Settings(env="test", max_iterations=250_000)
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


class _NoStore:
    """create_app needs a store only to hand its database to other extensions; routing needs neither."""

    db = None
    settings = SETTINGS


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_spec(SETTINGS)


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_route_is_documented_with_its_methods(document) -> None:
    app = create_app(SETTINGS, store=_NoStore(), enqueue=lambda run_id, from_stage=None: None)  # type: ignore[arg-type]
    served = {(_openapi_path(rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith(("/api/v1", "/healthz", "/readyz", "/metrics"))
              for method in rule.methods & METHODS}
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations
                  if method.upper() in METHODS}
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented operations no route serves"
    assert len(served) >= 19


def test_every_operation_states_auth_and_errors(document) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "security" in operation, f"{method} {path}"
            if operation["security"] and path.startswith("/api/v1"):
                assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"
            assert operation.get("operationId"), f"{method} {path}"


def _resolve(document: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in prop or ("anyOf" in prop and "properties" not in prop):
        if "$ref" not in prop:
            # A nullable nested object is anyOf [its schema, null]: the constraints live in the first.
            prop = next(option for option in prop["anyOf"] if option.get("type") != "null")
            continue
        prop = document["components"]["schemas"][prop["$ref"].rsplit("/", 1)[1]]
    return prop


def _property(document: dict[str, Any], root: dict[str, Any], path: str) -> dict[str, Any]:
    """The document's schema for a dotted field path from schema_docs.iter_fields."""
    node = root
    for part in re.findall(r"[^.\[\]{}]+|\[\]|\[\d+\]|\{key\}|\{value\}", path):
        node = _resolve(document, node)
        if part == "[]":
            node = node["items"]
        elif part == "{key}":
            node = node.get("propertyNames", {})
        elif part == "{value}":
            node = node["additionalProperties"]
        else:
            node = node["properties"][part]
    return node


def _words(node: dict[str, Any]) -> str:
    return " ".join(filter(None, [node.get("description"), *(sub.get("description") for sub in node.get("allOf", []))]))


def _patterns(node: dict[str, Any]) -> list[str]:
    return [p for p in [node.get("pattern"), *(sub.get("pattern") for sub in node.get("allOf", []))] if p]


def _assert_rendered(node: dict[str, Any], validator: Any, field: fields.Field, where: str) -> None:
    """What each kind of validator must leave in the document (written here, apart from the renderer)."""
    if isinstance(validator, validate.And):
        for inner in validator.validators:
            _assert_rendered(node, inner, field, where)
        return
    documented = schema_docs.documentation(validator) if not isinstance(validator, validate.Validator) else None
    if documented is not None:
        assert documented.description in _words(node), f"{where}: {documented.description!r} not in its description"
        for key, value in documented.resolved(SETTINGS).items():
            found = _patterns(node) if key == "pattern" else [node.get(key)]
            assert value in found or node.get(key) == value, f"{where}: {key}"
        return
    if isinstance(validator, validate.Range):
        numeric = isinstance(field, fields.Number)
        for bound, inclusive, plain, strict in ((validator.min, validator.min_inclusive, "minimum", "exclusiveMinimum"),
                                                (validator.max, validator.max_inclusive, "maximum", "exclusiveMaximum")):
            if bound is None:
                continue
            if not numeric:
                assert str(bound) in _words(node), where
            elif inclusive:
                assert node.get(plain) is not None, f"{where}: {plain}"
                assert (node[plain] >= bound) if plain == "minimum" else (node[plain] <= bound), f"{where}: {plain}"
            else:
                assert node.get(strict) == bound or (node.get(plain) is not None and node[plain] != bound), f"{where}: {strict}"
    elif isinstance(validator, validate.Length):
        kind = "Properties" if isinstance(field, fields.Dict) else "Items" if isinstance(field, fields.List) else "Length"
        if validator.min is not None or validator.equal is not None:
            assert node.get(f"min{kind}") is not None, f"{where}: min{kind}"
        if validator.max is not None or validator.equal is not None:
            assert node.get(f"max{kind}") is not None, f"{where}: max{kind}"
    elif isinstance(validator, validate.Regexp):
        assert validator.regex.pattern in _patterns(node), f"{where}: pattern"
    elif isinstance(validator, validate.OneOf):
        assert set(node["enum"]) - {None} <= set(validator.choices), f"{where}: enum"
    elif isinstance(validator, validate.URL):
        assert node.get("format") == "uri" and _patterns(node), f"{where}: URL"
    else:
        pytest.fail(f"{where}: {validator!r} has no rendering rule in this test nor a description (smvm.schema_docs)")


def _check_schema(document: dict[str, Any], root: dict[str, Any], schema: type[Schema], label: str) -> int:
    checked = 0
    for path, field in schema_docs.iter_fields(schema):
        node = _resolve(document, _property(document, root, path))
        for validator in field.validators:
            _assert_rendered(node, validator, field, f"{label}.{path}: {validator!r}")
            checked += 1
    for cls in schema_docs.schema_classes(schema):
        for hook in schema_docs.validation_hooks(cls):
            where = f"{cls.__name__}.{hook.method}"
            assert hook.documentation is not None, f"{where}: describe it with smvm.schema_docs.documented"
            checked += 1
    return checked


@pytest.mark.parametrize("name", sorted(REQUEST_SCHEMAS))
def test_every_request_validator_is_in_the_document(document, name) -> None:
    root = document["components"]["schemas"][name]
    assert _check_schema(document, root, REQUEST_SCHEMAS[name], name) > 0


def test_every_hook_is_described_where_it_applies(document) -> None:
    """@validates and @validates_schema rules: their words on the property or object, their keywords too."""
    components = document["components"]["schemas"]
    names = {cls.__name__.removesuffix("Schema"): cls for root in REQUEST_SCHEMAS.values()
             for cls in schema_docs.schema_classes(root)}
    for name, cls in names.items():
        component = components[name]
        for hook in schema_docs.validation_hooks(cls):
            documentation = hook.documentation
            assert documentation is not None, f"{name}.{hook.method}"
            field = documentation.field or (hook.fields[0] if hook.fields else None)
            target = component["properties"][field] if field else component
            assert documentation.description in _words(target), f"{name}.{hook.method}"
            for key in documentation.keywords:
                assert key in target or key in ("maximum", "minimum"), f"{name}.{hook.method}: {key}"
    cap = components["Configuration"]["properties"]["simulation_iterations"]
    assert cap["maximum"] == SETTINGS.max_iterations, "the deployment's iteration cap"


@pytest.mark.parametrize("operation_id", sorted(QUERY_SCHEMAS))
def test_every_query_validator_is_in_the_document(document, operation_id) -> None:
    [operation] = [op for ops in document["paths"].values() for op in ops.values() if op.get("operationId") == operation_id]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    root = {"type": "object", "properties": parameters}
    _check_schema(document, root, QUERY_SCHEMAS[operation_id], operation_id)


# -- the renderer is generic: a schema with every kind of validator and rule ---------------------------------------


@schema_docs.documented("Must be even.", multipleOf=2)
def _even(value: int) -> None:
    if value % 2:
        raise ValidationError("Must be even.")


def _no_spaces(value: str) -> None:
    if " " in value:
        raise ValidationError("Must not contain spaces.")


class _Everything(Schema):
    share = fields.Float(validate=validate.Range(min=0, max=1, min_inclusive=False))
    count = fields.Integer(validate=[validate.Range(min=1), _even])
    code = fields.String(validate=[validate.Length(min=2, max=8), validate.Regexp(r"^[a-z]+$"), validate.Regexp(r"^a"),
                                   _no_spaces])
    kind = fields.String(validate=validate.OneOf(["x", "y"]), allow_none=True)
    fixed = fields.String(validate=validate.Equal("k"))
    banned = fields.String(validate=validate.NoneOf(["root"]))
    tags = fields.List(fields.String(validate=validate.Length(max=5)), validate=validate.Length(min=1, max=3))
    labels = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[a-z]+$")), values=fields.Integer(),
                         validate=validate.Length(max=4))
    site = fields.Url(schemes={"https"})
    mail = fields.Email()
    both = fields.Integer(validate=validate.And(validate.Range(max=10), _even))
    low = fields.Float()
    high = fields.Float()

    @validates("tags")
    def _distinct(self, value: list[str], **_: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("Tags must be distinct.")

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("low", 0) > data.get("high", 0):
            raise ValidationError(f"low must not exceed high ({data.get('high')}).")


def test_the_renderer_handles_every_kind_of_validator() -> None:
    rendered = {path: schema_docs.render_field(field).as_property() for path, field in schema_docs.iter_fields(_Everything)}
    assert rendered["share"] == {"exclusiveMinimum": 0, "maximum": 1}
    assert rendered["count"] == {"minimum": 1, "multipleOf": 2}
    assert rendered["code"]["minLength"] == 2 and rendered["code"]["maxLength"] == 8
    assert rendered["code"]["pattern"] == "^[a-z]+$" and rendered["code"]["allOf"] == [{"pattern": "^a"}]
    assert rendered["kind"]["enum"] == ["x", "y", None]
    assert rendered["fixed"]["enum"] == ["k"]
    assert rendered["banned"]["not"] == {"enum": ["root"]}
    assert rendered["tags"] == {"minItems": 1, "maxItems": 3}
    assert rendered["tags[]"] == {"maxLength": 5}
    assert rendered["labels"] == {"maxProperties": 4}
    assert rendered["labels{key}"] == {"pattern": "^[a-z]+$"}
    assert rendered["site"]["format"] == "uri" and len(rendered["site"]["allOf"]) == 1
    assert rendered["mail"]["format"] == "email"
    assert rendered["both"] == {"maximum": 10, "multipleOf": 2}
    notes = {path: schema_docs.render_field(field).notes for path, field in schema_docs.iter_fields(_Everything)}
    assert notes["code"] == ["Must not contain spaces."], "an undecorated validator is described by what it raises"
    hooks = {hook.method: hook.documentation for hook in schema_docs.validation_hooks(_Everything)}
    assert hooks["_distinct"].description == "Tags must be distinct."
    assert hooks["_ordered"].description == "low must not exceed high ({...})."


def test_url_pattern_is_exactly_what_marshmallow_accepts() -> None:
    field = fields.Url(schemes={"http", "https"}, require_tld=False)
    patterns = _patterns(schema_docs.render_field(field).as_property())
    for url in ("https://a.com/x", "HTTPS://A.COM", "http://[::1]:80/", "https://a", "https://a_b.com", "https://a.com/x y",
                "https://a.com\n", "ftp://a.com", "https://", "https://a.com:8443/p?q=1#f"):
        try:
            field.deserialize(url)
            accepted = True
        except ValidationError:
            accepted = False
        assert all(re.search(p, url) for p in patterns) is accepted, url
