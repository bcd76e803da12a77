"""JSON Schema of the spec, and the Markdown spec reference generated from it.

``python -m tierwise.spec.reference > docs/spec-reference.md`` regenerates the
reference; a test checks the committed file is current.

Examples
--------
>>> schema = json_schema()
>>> schema["title"], "data" in schema["required"]
('Spec', True)
"""

from __future__ import annotations

import json
from typing import Any

from tierwise.spec.model import Spec


def json_schema() -> dict[str, Any]:
    """The spec's JSON Schema (draft 2020-12), keys as written in YAML."""
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    kind = prop.get("type", "any")
    if kind == "array":
        items = prop.get("items") or prop.get("prefixItems")
        if isinstance(items, list):
            return "[" + ", ".join(_type(i) for i in items) + "]"
        return f"list of {_type(items or {})}"
    if kind == "object" and "additionalProperties" in prop and isinstance(prop["additionalProperties"], dict):
        return f"map of {_type(prop['additionalProperties'])}"
    return str(kind)


def _default(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" in prop:
        return f"`{json.dumps(prop['default'])}`" if not isinstance(prop["default"], dict | list) or len(json.dumps(prop["default"])) < 60 else "see below"
    return ""


def markdown_reference() -> str:
    schema = json_schema()
    defs = schema.get("$defs", {})
    sections = [("Spec", schema)] + sorted(defs.items())
    out = [
        "# Spec reference",
        "",
        "Generated from the JSON Schema by `python -m tierwise.spec.reference` — do not edit by hand.",
        "Every section rejects unknown keys. Conditions (`when:`) use the language in",
        "[scoring.md](scoring.md#5-segments) and `tierwise.spec.expr`.",
        "",
    ]
    for name, body in sections:
        out += [f"## {name}", ""]
        if body.get("description"):
            out += [" ".join(body["description"].split()), ""]
        props = body.get("properties", {})
        if not props:
            continue
        required = set(body.get("required", []))
        out += ["| key | type | default | description |", "|---|---|---|---|"]
        for key, prop in props.items():
            desc = " ".join(str(prop.get("description", "")).split()).replace("|", "\\|")
            kind = _type(prop).replace("|", "\\|")
            out.append(f"| `{key}` | {kind} | {_default(prop, key in required)} | {desc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown_reference())
