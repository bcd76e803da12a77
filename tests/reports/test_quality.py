"""The data-quality profile: completeness, staleness (42 days), duplicate domains, attributes per account."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa

from tierwise.reports.quality import profile_accounts, profile_table

AS_OF = date(2026, 11, 1)


def accounts(engine):
    return engine.register(pa.table({
        "account_id": ["A1", "A2", "A3", "A4"],
        "name": ["Acme", "Acme EU", None, "Delta"],
        "domain": ["acme.com", "acme.com", "gamma.io", None],
        "employees": pa.array([10, None, 5, 7], pa.int64()),
        "tech_stack": pa.array([["a"], [], None, ["b", "c"]], pa.list_(pa.string())),
        "updated_at": pa.array([datetime(2026, 9, 20), datetime(2026, 9, 19, 23), None, datetime(2026, 10, 30)],
                               pa.timestamp("us")),
    }))


def test_account_profile(engine):
    profile = profile_accounts(engine, accounts(engine), as_of=AS_OF)
    assert profile["rows"] == 4
    # an empty list is not a filled tech stack
    assert profile["completeness"]["tech_stack"] == 0.5
    assert profile["completeness"]["employees"] == 0.75
    assert profile["completeness"]["account_id"] == 1.0
    # cutoff is 2026-09-20: updated on the cutoff day is fresh, the day before is stale
    assert profile["staleness"] == {"stale_after_days": 42, "stale_records": 1, "stale_share": 0.25,
                                    "never_updated": 1}
    assert profile["duplicate_domains"] == {
        "domains": 1, "accounts": 2, "examples": [{"domain": "acme.com", "accounts": ["A1", "A2"], "count": 2}],
    }
    # filled attributes among name, domain, employees, tech_stack: A1 4, A2 2, A3 2, A4 3
    stats = profile["attributes_per_account"]
    assert (stats["min"], stats["max"], stats["mean"]) == (2.0, 4.0, 2.75)


def test_table_profile_without_updated_at(engine):
    reps = engine.register(pa.table({"rep_id": ["R1", "R2"], "capacity": pa.array([10, None], pa.int64())}))
    profile = profile_table(engine, "reps", reps, as_of=AS_OF)
    assert profile == {"rows": 2, "completeness": {"rep_id": 1.0, "capacity": 0.5}}
