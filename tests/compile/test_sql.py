"""``tierwise compile``: golden SQL per dialect, capability reports, and compiled SQL that scores like tierwise.

Golden files live in ``tests/compile/golden/``; after an intended change to the
generated SQL, rewrite them with ``TIERWISE_UPDATE_GOLDEN=1 pytest tests/compile/test_sql.py``
and review the diff.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import duckdb
import ibis
import pyarrow.parquet as pq
import pytest

from tierwise.compile.sql import compile_sql, scoring_expr, warehouse_table
from tierwise.engine import connect
from tierwise.engine.capabilities import DIALECTS, CapabilityError, missing_operations
from tierwise.spec.loader import load_spec, load_spec_text

GOLDEN = Path(__file__).parent / "golden"
AS_OF = date(2026, 11, 1)

# Every kind of criterion and condition the compiler emits, kept small so the golden files stay readable.
SPEC = """\
name: golden
data:
  accounts: {path: accounts.csv, columns: {employees: Employee_Count__c}}
  activities: {path: activities.csv}
  leads: {path: leads.csv}
  lead_activities: {path: lead_activities.csv}
fit:
  weight: 50
  criteria:
    - {name: size, field: employees, bands: [{min: 1000, points: 10}, {min: 100, max: 1000, points: 5}]}
    - {name: industry, field: industry, values: {software: 10, retail: 4}}
    - {name: stack, field: tech_stack, share_of: [salesforce, snowflake], full_at: 2, points: 10}
    - {name: geo, field: country, in: [US, CA], points: 5}
    - {name: complex, when: "employees >= 10 and business_units >= 3", points: 5}
signals: {weight: 30, window_days: 90, half_life_days: 30, cap: 40, events: {funding_round: 30}}
engagement: {weight: 20, window_days: 60, half_life_days: 14, cap: 30, events: {demo_request: 20, unsubscribe: -10}}
tiers:
  - {name: A, min_score: 70}
  - {name: B, min_score: 40}
  - {name: C, min_score: 0}
segments:
  rules:
    - {name: Enterprise, when: "employees >= 1000 and industry in ['software', 'finance']", priority: P1}
  default: {name: Standard, priority: P2}
lead_scoring:
  fit:
    - {name: title, field: title, contains: {vp: 15, director: 10}}
  behaviour:
    - {name: intent, cap: 40, events: {demo_request: 30, pricing_page_visit: {points: 10, cap: 20}}}
  mql: {top_share: 0.2}
  segments:
    rules: [{name: demo_invite, when: "event_count('pricing_page_visit', 14) >= 1"}]
    default: {name: nurture}
"""


def normalised(sql: str, spec_hash: str) -> str:
    """The SQL without what changes with the spec model's defaults (the spec's hash)."""
    return sql.replace(spec_hash, "<spec-hash>")


@pytest.fixture(scope="module")
def spec_file():
    return load_spec_text(SPEC)


@pytest.mark.parametrize("what", ["accounts", "leads"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_golden_sql(spec_file, dialect, what):
    sql = normalised(compile_sql(spec_file, dialect, as_of=AS_OF, what=what), spec_file.spec.fingerprint())
    path = GOLDEN / f"{what}.{dialect}.sql"
    if os.environ.get("TIERWISE_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(sql.encode())  # bytes: the SQL holds a carriage return (in TRIM's characters)
    assert path.exists(), f"no golden file {path}; run with TIERWISE_UPDATE_GOLDEN=1"
    assert sql == path.read_bytes().decode(), f"{dialect} SQL for {what} changed; review and update {path}"


def test_sql_reads_the_mapped_warehouse_columns_and_tables(spec_file):
    sql = compile_sql(spec_file, "snowflake", as_of=AS_OF, tables={"accounts": "crm.sales.accounts"})
    assert '"Employee_Count__c"' in sql  # the spec's columns: mapping
    assert '"crm"."sales"."accounts"' in sql
    assert sql.startswith("-- tierwise scoring for snowflake: spec ")
    assert sql.rstrip().endswith(";")


def test_learned_components_are_read_from_warehouse_tables():
    spec_file = load_spec_text(SPEC.replace("fit:\n  weight: 50", "propensity: {weight: 20}\nfit:\n  weight: 30"))
    sql = compile_sql(spec_file, "postgres", as_of=AS_OF, tables={"propensity": "ml.propensity_scores"})
    assert '"ml"."propensity_scores"' in sql


@pytest.mark.parametrize("dialect, what, operation, column", [
    ("mysql", "leads", "RegexReplace", "breakdown"),
    ("mssql", "leads", "RegexSearch", "fit__title"),
    ("datafusion", "leads", "DateDelta", "days_since_activity"),
    ("sqlite", "accounts", "ArrayFilter", "fit_score"),
])
def test_missing_operations_are_named_with_the_columns_that_need_them(spec_file, dialect, what, operation, column):
    with pytest.raises(CapabilityError) as err:
        compile_sql(spec_file, dialect, as_of=AS_OF, what=what)
    message = str(err.value)
    assert f"{dialect} cannot express this spec's {what} scoring" in message
    found = {m.operation: m for m in missing_operations(scoring_expr(spec_file, as_of=AS_OF, what=what), dialect)}
    assert operation in found and operation in message
    assert column in found[operation].columns or found[operation].columns == ("every column",)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_promised_dialects_need_nothing_missing(spec_file, dialect):
    for what in ("accounts", "leads"):
        assert missing_operations(scoring_expr(spec_file, as_of=AS_OF, what=what), dialect) == []


def test_unknown_dialect_and_pipeline(spec_file):
    with pytest.raises(CapabilityError, match="unknown SQL dialect 'oracle2'"):
        compile_sql(spec_file, "oracle2", as_of=AS_OF)
    with pytest.raises(Exception, match="unknown pipeline 'deals'"):
        compile_sql(spec_file, "duckdb", as_of=AS_OF, what="deals")


def test_engine_reports_an_operation_it_lacks_before_running(engine):
    t = engine.register(ibis.memtable({"s": ["a"]}).to_pyarrow())
    expr = t.select(digest=t.s.hashbytes())  # DuckDB's compiler has no rule for HashBytes
    with pytest.raises(CapabilityError, match=r"the duckdb engine cannot run HashBytes.*needed by digest"):
        engine.check(expr)
    with pytest.raises(CapabilityError, match="HashBytes"):
        engine.to_arrow(expr)
    engine.check(t.select("s"))  # nothing missing: no error


def test_compiled_duckdb_sql_scores_like_tierwise(tmp_path):
    """Warehouse tables holding the loaded data, scored by the compiled SQL, equal ``tierwise score``."""
    from tierwise.demo.generate import generate_workspace
    from tierwise.jobs.score import score
    from tierwise.jobs.workspace import load_workspace

    spec_path = generate_workspace(tmp_path / "ws", accounts=300, seed=11, fmt="parquet")
    spec_file = load_spec(spec_path)
    if spec_file.spec.uses_propensity or spec_file.spec.lookalike.weight > 0:
        pytest.skip("the demo spec uses learned components")
    expected = {r["account_id"]: r for r in pq.read_table(score(spec_file, tmp_path / "out", as_of=AS_OF)
                                                          .files["parquet"]).to_pylist()}
    warehouse = duckdb.connect()
    with connect() as engine:
        ws = load_workspace(engine, spec_file, tables=("accounts", "activities"))
        for name in ("accounts", "activities"):
            typed = engine.to_arrow(ws.table(name).drop("_row"))
            warehouse.register(f"{name}_arrow", typed)
            warehouse.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    sql = compile_sql(spec_file, "duckdb", as_of=AS_OF)
    got = warehouse.execute(sql.rstrip().rstrip(";")).to_arrow_table().to_pylist()
    assert len(got) == len(expected) == 300 - len(_quarantined(tmp_path / "out"))
    for row in got:
        want = expected[row["account_id"]]
        for column in ("fit_score", "signal_score", "engagement_score", "score"):
            assert row[column] == pytest.approx(want[column], abs=1e-9), (row["account_id"], column)
        for column in ("tier", "segment", "reason_1", "reason_2", "reason_3"):
            assert row[column] == want[column], (row["account_id"], column)


def _quarantined(out: Path) -> list[str]:
    path = out / "quarantine" / "accounts.csv"
    return re.findall(r"^\d+,", path.read_text(), flags=re.M) if path.exists() else []


def test_warehouse_table_rejects_a_malformed_name(spec_file):
    with pytest.raises(Exception, match="use table, schema.table or catalog.schema.table"):
        warehouse_table(spec_file, "accounts", "a..b")


def test_compile_cli(tmp_path):
    from typer.testing import CliRunner

    from tierwise.cli.main import app

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    runner = CliRunner()
    printed = runner.invoke(app, ["compile", str(spec), "--dialect", "trino", "--as-of", "2026-11-01",
                                  "--table", "accounts=hive.crm.accounts"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.startswith("-- tierwise scoring for trino") and '"hive"."crm"."accounts"' in printed.stdout
    out = tmp_path / "scoring.sql"
    written = runner.invoke(app, ["compile", str(spec), "--dialect", "postgres", "--what", "leads", "--out", str(out)])
    assert written.exit_code == 0 and out.read_text().startswith("-- tierwise scoring for postgres")
    bad = runner.invoke(app, ["compile", str(spec), "--dialect", "mssql", "--what", "leads"])
    assert bad.exit_code == 1 and "mssql cannot express this spec's leads scoring" in bad.output
    malformed = runner.invoke(app, ["compile", str(spec), "--table", "accounts"])
    assert malformed.exit_code == 1 and "--table must look like accounts=schema.table" in malformed.output
