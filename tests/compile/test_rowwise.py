"""The one-record compiler gives the batch SQL's results, field for field."""

from __future__ import annotations

import math
from datetime import date, datetime

import ibis
import pandas as pd
import pytest

from tierwise.compile.conditions import compile_condition
from tierwise.compile.rowwise import LeadScorer, compile_predicate, sql_round, sql_text, typed_record
from tierwise.engine import connect
from tierwise.jobs.lead_scores import lead_scores
from tierwise.jobs.workspace import load_workspace, resolve_as_of
from tierwise.spec import expr as E
from tierwise.spec.loader import load_spec

CONDITIONS = [
    "employees >= 500 and industry == 'software'",
    "industry in ['Software', 'retail'] or employees < 10",
    "industry not in ['software']",
    "not (employees > 100)",
    "'snowflake' in tech_stack",
    "'snowflake' not in tech_stack",
    "revenue / employees > 1000",
    "employees * 2 + 1 >= 21",
    "is_null(industry) or not_null(revenue)",
    "100 <= employees < 1000",
    "industry != 'SOFTWARE '",
]
ROWS = [
    {"employees": 5000, "industry": "Software", "tech_stack": ["snowflake"], "revenue": 9e9},
    {"employees": 10, "industry": " Retail", "tech_stack": [], "revenue": 0.0},
    {"employees": None, "industry": None, "tech_stack": None, "revenue": None},
    {"employees": 0, "industry": "software", "tech_stack": ["hubspot", "snowflake"], "revenue": 5.0},
    {"employees": 150, "industry": "Health", "tech_stack": ["hubspot"], "revenue": 1e6},
]


@pytest.mark.parametrize("text", CONDITIONS)
def test_conditions_agree_with_sql(text):
    node = E.parse_condition(text)
    frame = pd.DataFrame(ROWS)
    schema = {"employees": "int64", "industry": "string", "tech_stack": "array<string>", "revenue": "float64"}
    with connect("duckdb://") as engine:
        table = engine.register(ibis.memtable(frame.assign(_pos=range(len(frame))),
                                              schema={**schema, "_pos": "int64"}))
        sql = engine.to_arrow(table.select("_pos", hit=compile_condition(node, table)).order_by("_pos"))
    predicate = compile_predicate(node)
    assert [predicate(r, {}) for r in ROWS] == sql.column("hit").to_pylist()


def test_sql_round_and_text():
    assert [sql_round(x, 1) for x in (2.25, -2.25, 0.05, 7.12)] == [2.3, -2.3, 0.1, 7.1]
    assert (sql_text(15.0), sql_text(5000), sql_text(True), sql_text(None)) == ("15.0", "5000", "true", None)
    assert typed_record("leads", {"email": " Ann@X.COM ", "company": "  ", "title": " VP "}) == {
        "email": "ann@x.com", "company": None, "title": "VP"}


def _batch_and_rowwise(spec_path, threshold=None):
    spec_file = load_spec(spec_path)
    with connect("duckdb://") as engine:
        ws = load_workspace(engine, spec_file, tables=("accounts", "leads", "lead_activities"))
        day = resolve_as_of(spec_file, None)
        batch = engine.to_arrow(lead_scores(ws, day, mql_threshold=threshold).order_by("lead_id")).to_pylist()
        leads = {r["lead_id"]: r for r in engine.to_arrow(ws.table("leads")).to_pylist()}
        events: dict[str, list] = {}
        for e in engine.to_arrow(ws.table("lead_activities").select("lead_id", "event_type", "occurred_at")).to_pylist():
            events.setdefault(e["lead_id"], []).append(e)
    line = threshold if threshold is not None else batch[0]["mql_threshold"]
    scorer = LeadScorer(spec_file, mql_threshold=line)
    return batch, {k: scorer.score(v, events.get(k, []), as_of=day) for k, v in leads.items()}


def _assert_same(batch, rowwise):
    assert len(batch) == len(rowwise)
    for b in batch:
        r = rowwise[b["lead_id"]]
        for name, value in b.items():
            if name in ("spec_hash", "as_of"):
                continue
            got = r[name]
            if isinstance(value, float) and math.isnan(value):
                assert got is None or math.isnan(got), (b["lead_id"], name)
            else:
                assert got == value, (b["lead_id"], name, got, value)


def test_every_lead_of_the_test_workspace(write_file):
    from tests.jobs.test_lead_scores import ACCOUNTS, LEAD_ACTIVITIES, LEAD_SCORING, LEADS, SPEC

    for name, text in (("accounts", ACCOUNTS), ("leads", LEADS), ("lead_activities", LEAD_ACTIVITIES)):
        write_file(f"data/{name}.csv", text)
    spec = write_file("spec.yaml", SPEC.replace("  contacts: {path: data/contacts.csv}\n", "")
                      .replace("  activities: {path: data/activities.csv}\n", "")
                      .replace("  reps: {path: data/reps.csv}\n", "") + LEAD_SCORING.replace("{MQL}", "{threshold: 40}"))
    batch, rowwise = _batch_and_rowwise(spec)
    _assert_same(batch, rowwise)
    assert rowwise["L1"]["lead_score"] == 65.0 and rowwise["L5"]["breakdown"].endswith("idle 5 months x0.24")


@pytest.mark.slow
def test_every_lead_of_the_demo_workspace(tmp_path):
    from tierwise.demo import generate_workspace

    spec = generate_workspace(tmp_path / "ws", accounts=600, as_of=date(2026, 11, 1))
    if load_spec(spec).spec.lead_scoring is None:
        pytest.skip("the demo spec has no lead_scoring section")
    batch, rowwise = _batch_and_rowwise(spec)  # the top-share line the batch chose
    assert len(batch) > 100
    _assert_same(batch, rowwise)
    assert any(r["is_mql"] for r in batch) and any(r["breakdown"] for r in batch)


def test_a_fixed_line_is_required():
    from tierwise.spec.loader import load_spec_text

    spec_file = load_spec_text("data: {accounts: {path: a.csv}}\n"
                               "fit: {criteria: [{name: s, field: employees, at_least: 1, points: 1}]}\n"
                               "lead_scoring: {mql: {top_share: 0.2}}\n")
    with pytest.raises(ValueError, match="fixed MQL line"):
        LeadScorer(spec_file)
    assert LeadScorer(spec_file, mql_threshold=50).score(
        {"lead_id": "L", "created_at": datetime(2026, 1, 1)}, [], as_of=date(2026, 11, 1))["lead_score"] == 0.0
