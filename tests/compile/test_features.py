"""Point-in-time features: nothing at or after a cutoff may reach a learning row."""

from __future__ import annotations

from datetime import date, datetime

import ibis
import pytest

from tierwise.compile import features as F


@pytest.fixture
def tables(engine):
    accounts = engine.register(ibis.memtable({
        "account_id": ["A1", "A2", "A3"],
        "name": ["Acme", "Beta", "Gamma"],
        "industry": ["software", "retail", None],
        "employees": [500, 20, 80],
        "tech_stack": [["hubspot", "snowflake"], [], None],
        "is_customer": [True, False, False],
        "created_at": [datetime(2025, 1, 1), datetime(2026, 6, 1), datetime(2024, 1, 1)],
    }))
    opps = engine.register(ibis.memtable({
        "opportunity_id": ["O1", "O2", "O3", "O4", "O5"],
        "account_id": ["A1", "A1", "A1", "A2", "A3"],
        "created_at": [date(2026, 1, 1), date(2026, 3, 1), date(2026, 5, 1), date(2026, 4, 1), date(2026, 2, 1)],
        "closed_at": [date(2026, 2, 15), date(2026, 6, 1), date(2026, 9, 1), date(2026, 8, 1), None],
        "is_closed": [True, True, True, True, False],
        "is_won": [True, False, True, False, None],
        "amount": [1000.0, 2000.0, None, 500.0, 700.0],
    }))
    activities = engine.register(ibis.memtable({
        "account_id": ["A1", "A1", "A1", "A1", "A1", "A2"],
        "event_type": ["demo_request", "demo_request", "pricing_page_visit", "demo_request", "demo_request",
                       "demo_request"],
        "occurred_at": [
            datetime(2026, 2, 28, 23, 0),  # the day before O2's cutoff: counts for O2 (age 1)
            datetime(2026, 3, 1, 9, 0),    # on O2's cutoff day: never counts for O2
            datetime(2026, 1, 15),          # 45 days before O2
            datetime(2025, 6, 1),           # older than the longest window of O2 (273 days)
            datetime(2026, 4, 20),          # 11 days before O3
            datetime(2026, 3, 31),
        ],
    }))
    return accounts, opps, activities


def _rows(engine, expr):
    return {r["key"]: r for r in engine.to_arrow(expr).to_pylist()}


def test_closed_deals_keep_only_results(engine, tables):
    _, opps, _ = tables
    rows = _rows(engine, F.closed_deals(opps))
    assert sorted(rows) == ["O1", "O2", "O3", "O4"]  # O5 is open
    assert rows["O1"]["cycle_days"] == 45 and rows["O1"]["won"] is True
    assert rows["O1"]["cutoff"] == date(2026, 1, 1)


def test_event_windows_end_before_the_cutoff(engine, tables):
    accounts, opps, activities = tables
    deals = F.closed_deals(opps)
    rows = _rows(engine, F.event_features(deals, activities, ["demo_request", "pricing_page_visit"],
                                          windows=(30, 90)))
    o2 = rows["O2"]
    assert (o2["demo_request_30d"], o2["demo_request_90d"], o2["days_since_demo_request"]) == (1, 1, 1)
    assert (o2["pricing_page_visit_30d"], o2["pricing_page_visit_90d"]) == (0, 1)
    assert o2["days_since_pricing_page_visit"] == 45
    o3 = rows["O3"]  # cutoff 2026-05-01: events of 02-28, 03-01 (61 days), 04-20 (11 days)
    assert (o3["demo_request_30d"], o3["demo_request_90d"], o3["days_since_demo_request"]) == (1, 3, 11)
    o1 = rows["O1"]  # nothing before 2026-01-01 within 90 days
    assert (o1["demo_request_90d"], o1["days_since_demo_request"]) == (0, None)
    assert rows["O4"]["demo_request_30d"] == 1  # another account's events stay with it


def test_history_counts_only_results_known_before_the_cutoff(engine, tables):
    _, opps, _ = tables
    deals = F.closed_deals(opps)
    rows = _rows(engine, F.history_features(deals, deals))
    # O3 (created 05-01): O1 closed won 02-15 (known), O2 created 03-01 but closes 06-01 (result unknown)
    assert (rows["O3"]["prior_deals"], rows["O3"]["prior_wins"], rows["O3"]["prior_losses"]) == (2, 1, 0)
    assert (rows["O2"]["prior_deals"], rows["O2"]["prior_wins"]) == (1, 1)
    assert (rows["O1"]["prior_deals"], rows["O1"]["prior_wins"]) == (0, 0)


def test_learning_table_joins_attributes_without_identifiers_or_outcomes(engine, tables):
    accounts, opps, activities = tables
    attrs = F.account_attributes(accounts.schema(), extra={})
    assert [a.name for a in attrs] == ["industry", "employees", "tech_stack"]  # no name, is_customer, created_at
    deals = F.closed_deals(opps)
    rows = _rows(engine, F.learning_table(deals, accounts, attrs, activities=activities,
                                          event_types=["demo_request"], deals=deals, windows=(30,)))
    assert rows["O2"]["industry"] == "software" and rows["O2"]["tech_stack"] == ["hubspot", "snowflake"]
    assert rows["O2"]["account_age_days"] == 424  # 2025-01-01 -> 2026-03-01
    assert rows["O4"]["account_age_days"] == None  # noqa: E711 - account created after the deal: unknown
    assert rows["O3"]["prior_wins"] == 1 and rows["O2"]["demo_request_30d"] == 1


def test_account_cutoffs_score_everyone_as_of(engine, tables):
    accounts, opps, activities = tables
    attrs = F.account_attributes(accounts.schema(), extra={})
    deals = F.closed_deals(opps)
    cut = F.account_cutoffs(accounts, as_of=date(2026, 3, 1))
    rows = _rows(engine, F.learning_table(cut, accounts, attrs, activities=activities,
                                          event_types=["demo_request"], deals=deals, windows=(30,)))
    assert sorted(rows) == ["A1", "A2", "A3"]
    assert rows["A1"]["demo_request_30d"] == 1 and rows["A1"]["prior_wins"] == 1
    assert rows["A3"]["demo_request_30d"] == 0


def test_customer_value_ltv_and_nrr(engine):
    tx = engine.register(ibis.memtable({
        "account_id": ["A1", "A1", "A1", "A2"],
        "occurred_at": [date(2025, 3, 1), date(2026, 3, 1), date(2026, 12, 1), date(2026, 5, 1)],
        "amount": [100.0, 120.0, 999.0, 50.0],
    }))
    rows = {r["account_id"]: r for r in engine.to_arrow(F.customer_value(tx, as_of=date(2026, 11, 1))).to_pylist()}
    assert rows["A1"]["ltv"] == 220.0 and rows["A1"]["nrr"] == pytest.approx(1.2)  # the December row is after as_of
    assert rows["A2"]["ltv"] == 50.0 and rows["A2"]["nrr"] is None


def test_stage_names_decide_when_is_won_is_empty(engine):
    opps = engine.register(ibis.memtable({
        "opportunity_id": ["O1", "O2", "O3", "O4", "O5"],
        "account_id": ["A1"] * 5,
        "stage": ["Closed Won", "closedlost", "Won", "Engaging", "Lost"],
        "created_at": [date(2026, 1, 1)] * 5,
        "closed_at": [date(2026, 2, 1)] * 5,
        "is_closed": [None, None, None, None, False],
        "is_won": [None, None, None, None, None],
        "amount": [1.0] * 5,
    }, schema={"opportunity_id": "string", "account_id": "string", "stage": "string", "created_at": "date",
               "closed_at": "date", "is_closed": "boolean", "is_won": "boolean", "amount": "float64"}))
    rows = _rows(engine, F.closed_deals(opps))
    # O4 is open; O5 says is_closed false explicitly, so its lost stage does not close it
    assert {k: r["won"] for k, r in rows.items()} == {"O1": True, "O2": False, "O3": True}
