"""The Vertex AI v1 discovery document as the judge of what goes over the wire.

The document is read at test time from the installed, pinned `google-api-python-client`
(`googleapiclient/discovery_cache/documents/aiplatform.v1.json`), never copied here, so an
upgrade that changes it changes what these tests accept. `walk` checks a JSON value against one
of its schemas: every property must be declared, every enum value listed, every scalar of the
declared JSON type (int64 travels as a string). It returns the problems instead of raising, so a
test can show them all at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PREFIX = "GoogleCloudAiplatformV1"


def document_path() -> Path:
    import googleapiclient

    return (
        Path(googleapiclient.__file__).parent
        / "discovery_cache"
        / "documents"
        / "aiplatform.v1.json"
    )


@cache
def document() -> Mapping[str, Any]:
    doc: dict[str, Any] = json.loads(document_path().read_text(encoding="utf-8"))
    return doc


def hosts(doc: Mapping[str, Any]) -> dict[str, str]:
    """location -> host, as the document lists them: `rootUrl` for global, `endpoints[]` for
    the rest (pre-production hosts left out)."""
    out = {"global": str(urlsplit(doc["rootUrl"]).hostname)}
    for e in doc.get("endpoints", []):
        host = str(urlsplit(e["endpointUrl"]).hostname)
        if "preprod" not in host:
            out.setdefault(e["location"], host)
    return out


_SCALARS: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
}


def walk(
    value: Any, schema: str | Mapping[str, Any], doc: Mapping[str, Any], at: str = "$"
) -> list[str]:
    """Problems of `value` against `schema` (a schema name, with or without the v1 prefix, or
    an inline schema of the document)."""
    if isinstance(schema, str):
        name = schema if schema in doc["schemas"] else PREFIX + schema
        if name not in doc["schemas"]:
            return [f"{at}: the document has no schema {schema}"]
        return walk(value, doc["schemas"][name], doc, at)
    if "$ref" in schema:
        return walk(value, schema["$ref"], doc, at)
    kind = schema.get("type")
    if kind == "any":
        return []
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{at}: expected an object, got {type(value).__name__}"]
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        out: list[str] = []
        for k, v in value.items():
            if props is not None and k in props:
                out += walk(v, props[k], doc, f"{at}.{k}")
            elif extra is not None:
                out += walk(v, extra, doc, f"{at}.{k}")
            elif props is not None or extra is None:
                out.append(f"{at}.{k}: not a property of {schema.get('id', 'this object')}")
        return out
    if kind == "array":
        if not isinstance(value, list):
            return [f"{at}: expected an array, got {type(value).__name__}"]
        return [p for i, v in enumerate(value) for p in walk(v, schema["items"], doc, f"{at}[{i}]")]
    if kind in _SCALARS:
        if isinstance(value, bool) and kind != "boolean":
            return [f"{at}: expected {kind}, got a boolean"]
        if (
            kind == "number"
            and isinstance(value, str)
            and value in ("NaN", "Infinity", "-Infinity")
        ):
            return []
        if not isinstance(value, _SCALARS[kind]):
            return [f"{at}: expected {kind} ({schema.get('format', '')}), got {value!r}"]
        if "enum" in schema and value not in schema["enum"]:
            return [f"{at}: {value!r} is not one of {schema['enum']}"]
        return []
    return [f"{at}: schema kind {kind!r} not understood by the walker"]


def as_rest_json(message: Any) -> dict[str, Any]:
    """A proto-plus message (or its pb) as REST JSON with enum names (the document's form)."""
    from google.protobuf import json_format

    pb = message if hasattr(message, "DESCRIPTOR") else type(message).pb(message)
    out: dict[str, Any] = json_format.MessageToDict(pb, use_integers_for_enums=False)
    return out


def wire_to_rest_json(body: Mapping[str, Any], proto_type: Any) -> dict[str, Any]:
    """What the REST transport sent (enums as integers: `$alt=json;enum-encoding=int`), parsed
    into the client's own message type and printed again with enum names, so enum values can be
    checked against the document's lists. Unknown fields fail the parse."""
    from google.protobuf import json_format

    pb = proto_type.pb(proto_type())
    json_format.ParseDict(dict(body), pb, ignore_unknown_fields=False)
    return as_rest_json(pb)
