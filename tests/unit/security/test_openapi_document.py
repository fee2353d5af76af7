"""GET /api/v1/openapi.json: public, generated from the routes, the permission table and the schemas."""

from __future__ import annotations

import schemathesis

from app.api.openapi import PATH_ARG
from app.api.permissions import PUBLIC, REQUIRED_ROLE


def _document(kit):
    reply = kit.client.get("/api/v1/openapi.json")
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    return reply.get_json()


def test_the_document_is_public_and_openapi_3(kit):
    doc = _document(kit)
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "Jobline API"
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}


def test_every_route_and_method_is_documented_with_its_declared_role(kit):
    doc = _document(kit)
    for rule in kit.app.url_map.iter_rules():
        path = PATH_ARG.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = doc["paths"][path][method.lower()]
            role = REQUIRED_ROLE[rule.endpoint]
            assert operation["x-required-role"] == role
            assert operation["security"] == ([] if role == PUBLIC else [{"bearerAuth": []}])
            assert {"401", "403", "404", "429"} <= set(operation["responses"])


def test_request_schemas_come_from_the_strict_marshmallow_schemas(kit):
    schemas = _document(kit)["components"]["schemas"]
    submit = schemas["SubmitJob"]
    assert submit["additionalProperties"] is False  # unknown fields are rejected, and documented so
    assert "demo.echo" in submit["properties"]["task"]["enum"]
    assert set(schemas["CreateUser"]["required"]) == {"login", "password", "role"}
    assert schemas["CreateUser"]["properties"]["role"]["enum"] == ["viewer", "operator", "admin"]
    assert set(schemas["Error"]["required"]) == {"error", "code"}


def test_every_operation_loads_in_schemathesis(kit):
    schema = schemathesis.openapi.from_dict(_document(kit))
    results = list(schema.get_all_operations())
    assert results and all(result.ok() for result in results)
