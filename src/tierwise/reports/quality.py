"""Data-quality profile: completeness, staleness, duplicate domains, attributes per account.

Seed 003: every score is downstream of data quality; records not refreshed for
more than six weeks are stale. The profile is computed by the engine in a few
aggregate queries per table.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from tierwise.datamodel import TABLES

STALE_AFTER_DAYS = 42
#: Account columns that describe the company (counted for "attributes per account").
ATTRIBUTE_COLUMNS = (
    "name", "domain", "industry", "employees", "annual_revenue", "revenue_growth", "country", "region", "state",
    "city", "business_units", "tech_stack", "funding_stage", "parent_account_id",
)


def profile_table(engine: Any, name: str, table: ir.Table, *, as_of: date) -> dict[str, Any]:
    """Completeness of every canonical column and, where there is ``updated_at``, staleness."""
    columns = [c for c in TABLES[name].columns if c in table.columns]
    metrics: dict[str, ir.Value] = {"_rows": table.count()}
    for c in columns:
        present = table[c].notnull()
        if table[c].type().is_array():
            present = present & (table[c].length() > 0)
        metrics[f"c__{c}"] = present.cast("int64").sum()
    if "updated_at" in columns:
        cutoff = ibis.literal(as_of - timedelta(days=STALE_AFTER_DAYS))
        metrics["_stale"] = (table.updated_at.date() < cutoff).cast("int64").sum()
        metrics["_no_update"] = table.updated_at.isnull().cast("int64").sum()
    row = engine.to_arrow(table.aggregate(**metrics)).to_pylist()[0]
    rows = int(row["_rows"])
    out: dict[str, Any] = {
        "rows": rows,
        "completeness": {c: _share(row[f"c__{c}"], rows) for c in columns},
    }
    if "updated_at" in columns:
        out["staleness"] = {
            "stale_after_days": STALE_AFTER_DAYS,
            "stale_records": int(row["_stale"] or 0),
            "stale_share": _share(row["_stale"], rows),
            "never_updated": int(row["_no_update"] or 0),
        }
    return out


def profile_accounts(engine: Any, accounts: ir.Table, *, as_of: date, examples: int = 10) -> dict[str, Any]:
    """The table profile plus duplicate domains and attributes per account."""
    out = profile_table(engine, "accounts", accounts, as_of=as_of)
    keyed = accounts.filter(accounts.domain.notnull())
    # collect then sort, not collect(order_by=...): Spark has no ordered aggregates
    groups = keyed.group_by("domain").aggregate(n=keyed.count(), ids=keyed.account_id.collect().sort())
    dup = groups.filter(groups.n > 1)
    totals = engine.to_arrow(dup.aggregate(domains=dup.count(), accounts=dup.n.sum())).to_pylist()[0]
    sample = engine.to_arrow(dup.order_by([ibis.desc("n"), "domain"]).limit(examples)).to_pylist()
    out["duplicate_domains"] = {
        "domains": int(totals["domains"] or 0),
        "accounts": int(totals["accounts"] or 0),
        "examples": [{"domain": r["domain"], "accounts": r["ids"][:5], "count": int(r["n"])} for r in sample],
    }
    attrs = [c for c in ATTRIBUTE_COLUMNS if c in accounts.columns]
    filled = sum(
        ((accounts[c].notnull() & (accounts[c].length() > 0)) if accounts[c].type().is_array() else accounts[c].notnull())
        .cast("int64")
        for c in attrs
    )
    per = accounts.select(k=filled)
    stats = engine.to_arrow(per.aggregate(
        mean=per.k.mean(), p10=per.k.quantile(0.1), median=per.k.quantile(0.5), p90=per.k.quantile(0.9),
        min=per.k.min(), max=per.k.max(),
    )).to_pylist()[0]
    out["attributes_per_account"] = {
        "of": len(attrs),
        **{k: (round(float(v), 2) if v is not None else None) for k, v in stats.items()},
    }
    return out


def _share(count: Any, rows: int) -> float:
    return round(float(count or 0) / rows, 4) if rows else 0.0
