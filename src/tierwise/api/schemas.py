"""Request and response models of the REST API, generated from the data model.

A record's fields, types and ranges come from :data:`tierwise.datamodel.TABLES`
plus the spec's ``attributes``, so the API accepts exactly what a file row may
hold and rejects (422, with the field path) what the loader would quarantine:
a missing key, a value of the wrong type, a negative employee count.

Examples
--------
>>> Lead = record_model("leads", {"budget": "float"})
>>> Lead(lead_id="L1", email="ann@acme.com", budget=5000).budget
5000.0
>>> Lead(lead_id="L1", employees=-3)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for LeadsRecord
employees
  Input should be greater than or equal to 0 [type=greater_than_equal, input_value=-3, input_type=int]
    ...
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model

from tierwise.datamodel import TABLES

_PY_TYPES: dict[str, Any] = {
    "string": str, "domain": str, "email": str, "int": int, "float": float, "bool": bool, "date": date,
    "timestamp": datetime, "list": list[str],
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "domain": pa.string(), "email": pa.string(), "int": pa.int64(), "float": pa.float64(),
    "bool": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us"), "list": pa.list_(pa.string()),
}


def _naive_utc(value: datetime | None) -> datetime | None:
    """CRM timestamps are stored without a zone and read as UTC: so are the API's."""
    if value is not None and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


Timestamp = Annotated[datetime, AfterValidator(_naive_utc)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _field_type(dtype: str, required: bool) -> Any:
    if dtype == "timestamp":
        return Timestamp
    if required and dtype in ("string", "domain", "email"):
        return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    return _PY_TYPES[dtype]


def record_model(table: str, attributes: dict[str, str] | None = None, *,
                 exclude: tuple[str, ...] = ()) -> type[BaseModel]:
    """A pydantic model of one row of ``table`` (canonical columns plus ``attributes``)."""
    fields: dict[str, Any] = {}
    for col in TABLES[table].columns.values():
        if col.name in exclude:
            continue
        kind = _field_type(col.dtype, col.required)
        info = Field(... if col.required else None, description=col.description, ge=col.min_value,
                     le=col.max_value)
        fields[col.name] = (kind if col.required else kind | None, info)
    for name, dtype in (attributes or {}).items():
        fields[name] = (_field_type(dtype, False) | None, Field(None, description=f"Spec attribute ({dtype})."))
    name = "".join(part.title() for part in table.split("_")) + "Record"
    return create_model(name, __base__=_Strict, **fields)


def arrow_schema(table: str, attributes: dict[str, str] | None = None, *,
                 columns: tuple[str, ...] | None = None) -> pa.Schema:
    """The typed Arrow schema of records of ``table`` (the API's placeholder tables)."""
    types = {c.name: c.dtype for c in TABLES[table].columns.values()} | dict(attributes or {})
    names = columns if columns is not None else tuple(types)
    return pa.schema([(n, _ARROW_TYPES[types[n]]) for n in names])


def to_arrow(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Records (dicts) as an Arrow table of ``schema``; absent fields are null."""
    return pa.Table.from_pydict({f.name: [r.get(f.name) for r in rows] for f in schema}, schema=schema)


class LeadEvent(_Strict):
    event_type: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="Event type (demo_request, pricing_page_visit, ...); case does not matter.")
    occurred_at: Timestamp = Field(description="When it happened (ISO 8601; UTC when no offset is given).")


class AccountEvent(LeadEvent):
    contact_id: str | None = Field(default=None, description="Contact who acted, when known.")


def request_models(lead_attributes: dict[str, str], account_attributes: dict[str, str]) -> dict[str, type[BaseModel]]:
    """The request bodies for a spec: leads and accounts carry the spec's attributes."""
    lead = record_model("leads", lead_attributes)
    account = record_model("accounts", account_attributes)
    lead_request = create_model(
        "LeadScoreAndRouteRequest", __base__=_Strict,
        lead=(lead, Field(description="The lead, with the columns of the leads table.")),
        events=(list[LeadEvent], Field(default_factory=list, description="The lead's activity (any order).")),
        as_of=(date | None, Field(None, description="Scoring date (default: today, UTC).")),
        now=(Timestamp | None, Field(None, description="Decision time (default: now, UTC).")),
    )
    account_request = create_model(
        "AccountScoreRequest", __base__=_Strict,
        account=(account, Field(description="The account, with the columns of the accounts table.")),
        events=(list[AccountEvent], Field(default_factory=list, description="The account's activity.")),
        as_of=(date | None, Field(None, description="Scoring date (default: the spec's as_of, else today).")),
    )
    return {"lead": lead_request, "account": account_request}
