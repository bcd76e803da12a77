"""Files a CRM imports: a Salesforce Bulk API 2.0 upsert CSV, a HubSpot import CSV and batch-upsert JSON.

Every text cell that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a
leading apostrophe, so opening an export in Excel or Sheets never executes
anything (OWASP's CSV-injection advice); numbers and booleans are written as
such and never need it. Files are written atomically.

Examples
--------
>>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise("Acme"), neutralise("-5 pts")
('\\'=HYPERLINK("http://x")', 'Acme', "'-5 pts")
>>> [cell(v, null="#N/A") for v in (63.456, 100.0, True, None, "@risk")]
['63.46', '100', 'true', '#N/A', "'@risk"]
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tierwise.engine.base import atomic_path, write_text_atomic

#: What a spreadsheet reads as the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def number_text(value: float) -> str:
    """A number as CRMs read it: at most two decimals, no trailing zeros (``63.46``, ``100``)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def cell(value: Any, *, null: str = "") -> str:
    """One CSV cell: ``null`` for a missing value, true/false, a number, or neutralised text."""
    if value is None or (isinstance(value, float) and value != value):
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    return neutralise(str(value))


def json_value(value: Any) -> Any:
    """A property value for HubSpot's JSON API: text, with "" clearing a property."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    return str(value)  # JSON is not opened by spreadsheets: no apostrophe


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    """RFC 4180 CSV, UTF-8, LF line endings (Bulk API 2.0's ``lineEnding: LF``), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def salesforce_upsert(out_dir: Path, records: list[dict[str, Any]], *, object_name: str, external_id: str,
                      fields: dict[str, str]) -> dict[str, str]:
    """``<Object>_upsert.csv`` and the Bulk API 2.0 ``job.json`` that loads it. ``#N/A`` clears a field."""
    header = [external_id, *fields]
    rows = ([cell(r["account_id"]), *(cell(r[column], null="#N/A") for column in fields.values())] for r in records)
    data = write_csv(out_dir / f"{object_name}_upsert.csv", header, rows)
    job = {"object": object_name, "externalIdFieldName": external_id, "contentType": "CSV", "operation": "upsert",
           "lineEnding": "LF", "columnDelimiter": "COMMA"}
    spec = write_text_atomic(out_dir / "job.json", json.dumps(job, indent=2) + "\n")
    return {"csv": str(data), "job": str(spec)}


def hubspot_upsert(out_dir: Path, records: list[dict[str, Any]], *, object_type: str, id_property: str,
                   properties: dict[str, str], batch_size: int = 100) -> dict[str, Any]:
    """``<object>_import.csv`` for HubSpot's importer and ``batch_upsert/batch-NNNN.json`` bodies for
    ``POST /crm/v3/objects/<object>/batch/upsert`` (at most ``batch_size`` records each)."""
    header = [id_property, *properties]
    rows = ([cell(r["account_id"]), *(cell(r[column]) for column in properties.values())] for r in records)
    data = write_csv(out_dir / f"{object_type}_import.csv", header, rows)
    batches_dir = out_dir / "batch_upsert"
    batches_dir.mkdir(parents=True, exist_ok=True)
    for stale in batches_dir.glob("batch-*.json"):  # a smaller export must not leave old batches behind
        stale.unlink()
    batches = []
    for start in range(0, len(records), batch_size):
        inputs = [{"idProperty": id_property, "id": str(r["account_id"]),
                   "properties": {p: json_value(r[column]) for p, column in properties.items()}}
                  for r in records[start:start + batch_size]]
        path = batches_dir / f"batch-{start // batch_size + 1:04d}.json"
        batches.append(str(write_text_atomic(path, json.dumps({"inputs": inputs}, ensure_ascii=False) + "\n")))
    return {"csv": str(data), "batches": batches}
