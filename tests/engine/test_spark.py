"""The Spark engine: URLs, reading with row numbers and rejects, capability errors, and parity with DuckDB.

The parity test runs the demo workspace (messy rows included) through ``score``, ``rfm`` and
``report`` on DuckDB and on local Spark and requires the same tiers, segments and quarantines, and
scores within 1e-9. Everything on Spark shares one local session (``spark_session``); the tests
that start it are marked ``spark`` (skip them with ``-m "not spark"``).
"""

from __future__ import annotations

import json
import math

import ibis
import pyarrow.parquet as pq
import pytest

from tierwise.engine import ROW_COLUMN, connect
from tierwise.engine.capabilities import CapabilityError
from tierwise.engine.spark import SparkEngine
from tierwise.errors import DataError, TierwiseError

# one worker runs them all under `make test` (-n 2 --dist loadgroup): one JVM, one session
pytestmark = pytest.mark.xdist_group("spark")


@pytest.mark.parametrize("url, master, settings", [
    ("spark", "local[*]", {}),
    ("spark://", "local[*]", {}),
    ("spark://local[2]", "local[2]", {}),
    ("spark://local[1]?spark.sql.shuffle.partitions=3", "local[1]", {"spark.sql.shuffle.partitions": "3"}),
    ("spark://spark-master:7077", "spark://spark-master:7077", {}),
    ("spark://yarn", "yarn", {}),
    ("spark://k8s://https://api.example:6443", "k8s://https://api.example:6443", {}),
])
def test_spark_urls_name_the_master_and_settings(url, master, settings):
    assert SparkEngine.parse_url(url) == (master, settings)


def test_a_setting_that_is_not_sparks_is_refused():
    with pytest.raises(TierwiseError, match=r"unknown setting threads; Spark settings start with 'spark\.'"):
        SparkEngine.parse_url("spark://local[2]?threads=2")


def test_connect_refuses_objects_it_cannot_run_on():
    with pytest.raises(TierwiseError, match="cannot open an engine from a dict"):
        connect({"master": "local"})


# --------------------------------------------------------------------------- on a local session

@pytest.fixture
def spark(spark_session):
    with SparkEngine.from_session(spark_session) as engine:
        yield engine


@pytest.mark.spark
def test_connect_wraps_a_session_and_leaves_it_running(spark_session):
    engine = connect(spark_session)
    assert isinstance(engine, SparkEngine) and connect(engine) is engine
    table = engine.register(ibis.memtable({"a": [1, 2, 3]}).to_pyarrow())
    assert engine.scalar(table.a.sum()) == 6
    view = table.get_name()
    assert view in [t.name for t in engine.session.catalog.listTables()]
    engine.close()
    assert view not in [t.name for t in engine.session.catalog.listTables()]  # our views are gone
    assert spark_session.range(3).count() == 3  # the user's session still runs
    # tierwise's settings live in its child session, not in the user's
    assert engine.session.conf.get("spark.sql.ansi.enabled") == "false"


@pytest.mark.spark
def test_empty_and_typed_arrow_tables_register(spark):
    import pyarrow as pa

    empty = spark.register(pa.table({"account_id": pa.array([], pa.string()), "score": pa.array([], pa.float64())}))
    assert spark.scalar(empty.count()) == 0 and dict(empty.schema()) == {"account_id": ibis.dtype("string"),
                                                                         "score": ibis.dtype("float64")}
    typed = spark.register(pa.table({"d": pa.array([1], pa.date32()), "tags": [["a", "b"]]}))
    assert spark.to_arrow(typed).to_pylist() == [{"d": __import__("datetime").date(1970, 1, 2), "tags": ["a", "b"]}]


@pytest.mark.spark
def test_missing_text_in_an_in_memory_table_stays_missing(spark):
    """ibis.memtable goes to Spark through Arrow: a missing owner is null, not the text 'NaN' (pandas 3)."""
    import pyarrow as pa

    run = ibis.memtable(pa.table({"owner_id": ["R1", None], "score": [1.0, None]}))
    counted = spark.to_arrow(run.aggregate(owners=run.owner_id.count(), nan_text=(run.owner_id == "NaN").sum(),
                                           scores=run.score.count())).to_pylist()
    assert counted == [{"owners": 1, "nan_text": 0, "scores": 1}]


@pytest.mark.spark
def test_a_second_master_in_one_process_is_a_clear_error(spark_session):
    with pytest.raises(TierwiseError, match=r"already running in this process; cannot also start one on "
                                            r"'spark://elsewhere:7077'.*from_session"):
        connect("spark://elsewhere:7077")


@pytest.mark.spark
def test_csv_rows_and_rejects_match_duckdb(spark, engine, tmp_path):
    """Blank lines, too many and too few cells, a quoted delimiter and a quoted line break."""
    path = tmp_path / "a.csv"
    path.write_text('id,n,t\nA,1,x\n\nB,2,3,4\nC,3\n\nD,"q,""z""",5\n"E","multi\nline",6\nF,6,y\n')
    raws = {name: eng.read_csv(path) for name, eng in (("spark", spark), ("duckdb", engine))}
    rows = {name: eng.to_arrow(raws[name].table.order_by(ROW_COLUMN)).to_pylist()
            for name, eng in (("spark", spark), ("duckdb", engine))}
    assert rows["spark"] == rows["duckdb"]
    assert [r[ROW_COLUMN] for r in rows["spark"]] == [1, 6, 7, 8]
    assert rows["spark"][1]["n"] == 'q,"z"' and rows["spark"][2]["n"] == "multi\nline"
    spark_rejects = [(r.row, r.text, r.reason.split(":")[0]) for r in raws["spark"].rejected]
    assert spark_rejects == [(3, "B,2,3,4", "too many columns"), (4, "C,3", "missing columns")]
    # (DuckDB's text of a line after a blank line starts with the blank line's break)
    assert spark_rejects == [(r.row, r.text.strip(), r.reason.split(":")[0]) for r in raws["duckdb"].rejected]


@pytest.mark.spark
def test_domains_and_lists_are_normalised_as_on_duckdb(spark, engine, tmp_path):
    """Regular expressions and list functions differ most between engines (a back-reference once came out as '1')."""
    from tierwise.io.loader import load_table
    from tierwise.spec.model import SourceSpec

    path = tmp_path / "accounts.csv"
    path.write_text("account_id,website,tech_stack\nA1,HTTPS://www.Acme.com:443/about?x=1, Snowflake ;dbt;;snowflake\n"
                    "A2,globex.co.uk,\nA3,http://,salesforce\nA4,sub.Initech.io/path,\" a ; b \"\n")
    loads = {name: load_table(eng, "accounts", SourceSpec(path="accounts.csv"), path)
             for name, eng in (("spark", spark), ("duckdb", engine))}
    rows = {name: eng.to_arrow(loads[name].clean.order_by("account_id").select("account_id", "domain", "tech_stack"))
            .to_pylist() for name, eng in (("spark", spark), ("duckdb", engine))}
    assert rows["spark"] == rows["duckdb"] == [
        {"account_id": "A1", "domain": "acme.com", "tech_stack": ["dbt", "snowflake"]},
        {"account_id": "A2", "domain": "globex.co.uk", "tech_stack": None},
        {"account_id": "A3", "domain": None, "tech_stack": ["salesforce"]},
        {"account_id": "A4", "domain": "sub.initech.io", "tech_stack": ["a", "b"]},
    ]


@pytest.mark.spark
def test_a_file_that_is_not_the_expected_csv_is_refused(spark, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a;b\n" + "x,y,z\n" * 300)
    with pytest.raises(DataError, match=r"more than 200 lines could not be split into columns .* check the delimiter"):
        spark.read_csv(path)


@pytest.mark.spark
def test_parquet_rows_are_numbered_in_file_order(spark, tmp_path):
    import pyarrow as pa

    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": [f"A{i}" for i in range(1000)]}), path, row_group_size=100)
    rows = spark.to_arrow(spark.read_parquet(path).table.order_by(ROW_COLUMN)).to_pylist()
    assert [r[ROW_COLUMN] for r in rows] == list(range(1, 1001))
    assert all(r["id"] == f"A{r[ROW_COLUMN] - 1}" for r in rows)


@pytest.mark.spark
def test_an_operation_spark_lacks_is_named_before_running(spark):
    t = spark.register(ibis.memtable({"name": ["acme"]}).to_pyarrow())
    spark.check(t.select(display=t.name.capitalize()))  # Ibis rewrites it into operations Spark has
    expr = t.select(t.name, position=t.name.find_in_set(["acme", "globex"]))
    with pytest.raises(CapabilityError, match=r"the spark engine cannot run FindInSet: .* — needed by position"):
        spark.check(expr)
    with pytest.raises(CapabilityError, match="the spark engine cannot run FindInSet"):
        spark.materialize(expr)


@pytest.mark.spark
def test_the_api_path_is_refused_on_spark(spark):
    query = spark.prepare(ibis.table({"a": "int64"}, name="one").select("a"))
    with pytest.raises(CapabilityError, match=r"spark engine cannot run prepared queries .* serve the API on duckdb://"):
        spark.run_prepared(query, {})


# --------------------------------------------------------------------------- parity with DuckDB


@pytest.fixture(scope="module")
def parity(spark_session, tmp_path_factory):
    """The demo workspace scored, RFM'd and reported on DuckDB and on Spark (each with its own history)."""
    import time

    from tierwise.demo.generate import generate_workspace
    from tierwise.jobs.governance import report
    from tierwise.jobs.rfm import rfm
    from tierwise.jobs.score import score, validate

    root = tmp_path_factory.mktemp("parity")
    spec = generate_workspace(root / "ws", accounts=400, seed=5, leads=40, events_per_account=8, mess=True)
    out, seconds = {"spec": spec}, {}
    for name in ("duckdb", "spark"):
        engine = "duckdb://" if name == "duckdb" else SparkEngine.from_session(spark_session)
        start = time.perf_counter()
        out[name] = {
            "validate": validate(spec, root / name / "validate", engine_url=engine),
            "score": score(spec, root / name / "score", engine_url=engine, record=False),
            "rfm": rfm(spec, root / name / "rfm", engine_url=engine),
            "report": report(spec, root / name / "report", engine_url=engine,
                             history=str(root / name / "history.duckdb")),
        }
        seconds[name] = time.perf_counter() - start
    print(f"\nparity: duckdb {seconds['duckdb']:.1f} s, spark {seconds['spark']:.1f} s")  # shown with -s
    return out


def _rows(path) -> dict[str, dict]:
    table = pq.read_table(path)
    key = "account_id" if "account_id" in table.column_names else table.column_names[0]
    return {r[key]: r for r in table.to_pylist()}


def _assert_same_rows(duck: dict[str, dict], spark: dict[str, dict], what: str) -> None:
    assert duck.keys() == spark.keys(), f"{what}: different keys"
    for key, d in duck.items():
        s = spark[key]
        assert d.keys() == s.keys()
        for column, value in d.items():
            other = s[column]
            if isinstance(value, float) and isinstance(other, float):
                assert math.isclose(value, other, rel_tol=0, abs_tol=1e-9) or (math.isnan(value) and math.isnan(other)), \
                    f"{what} {key}.{column}: {value} on DuckDB, {other} on Spark"
            else:
                assert value == other, f"{what} {key}.{column}: {value!r} on DuckDB, {other!r} on Spark"


@pytest.mark.spark
@pytest.mark.slow
def test_scores_tiers_and_segments_match_duckdb(parity):
    duck, spark = (parity[e]["score"] for e in ("duckdb", "spark"))
    assert pq.read_table(duck.files["parquet"]).schema == pq.read_table(spark.files["parquet"]).schema
    _assert_same_rows(_rows(duck.files["parquet"]), _rows(spark.files["parquet"]), "scores")
    assert duck.summary["tiers"] == spark.summary["tiers"] and duck.summary["segments"] == spark.summary["segments"]
    # the same rows loaded and quarantined, for the same reasons, on every table
    assert duck.tables == spark.tables
    assert sum(t["quarantined"] for t in duck.tables.values()) > 0  # the demo's messy rows are in play
    for name in ("accounts", "activities"):
        if f"quarantine_{name}" in duck.files:
            assert open(duck.files[f"quarantine_{name}"]).read() == open(spark.files[f"quarantine_{name}"]).read()


@pytest.mark.spark
@pytest.mark.slow
def test_validate_profiles_the_data_as_duckdb_does(parity):
    duck, spark = (parity[e]["validate"] for e in ("duckdb", "spark"))
    assert duck.tables == spark.tables and duck.quality == spark.quality


@pytest.mark.spark
@pytest.mark.slow
def test_rfm_matches_duckdb(parity):
    duck, spark = (parity[e]["rfm"] for e in ("duckdb", "spark"))
    _assert_same_rows(_rows(duck.files["parquet"]), _rows(spark.files["parquet"]), "rfm")
    assert duck.summary == spark.summary


@pytest.mark.spark
@pytest.mark.slow
def test_governance_report_matches_duckdb(parity):
    duck, spark = (parity[e]["report"] for e in ("duckdb", "spark"))
    payload = {e: json.loads(open(parity[e]["report"].files["json"]).read()) for e in ("duckdb", "spark")}
    for section in ("performance", "guardrails", "icp", "stage_conversion", "funnel", "alerts"):
        assert payload["duckdb"][section] == payload["spark"][section], section
    for name in ("segments", "tiers", "guardrails", "rep_capacity"):
        assert open(duck.files[name]).read() == open(spark.files[name]).read(), name


@pytest.mark.spark
@pytest.mark.slow
def test_the_cli_scores_with_engine_spark(parity, tmp_path):
    """``--engine spark`` is local mode, or (as here, and in a notebook) the session already running."""
    from typer.testing import CliRunner

    from tierwise.cli.main import app

    result = CliRunner().invoke(app, ["score", str(parity["spec"]), "--engine", "spark", "--out", str(tmp_path),
                                      "--no-history"])
    assert result.exit_code == 0, result.output
    duck = parity["duckdb"]["score"].files["parquet"]
    _assert_same_rows(_rows(duck), _rows(tmp_path / "scores.parquet"), "cli scores")


@pytest.mark.spark
@pytest.mark.postgres
def test_a_postgresql_table_loads_on_spark_as_on_duckdb(spark, engine, postgres_url):
    """Spark gets the table's export as Arrow (executors need no access to the database)."""
    import psycopg

    from tierwise.io.loader import load_table
    from tierwise.io.postgres import DatabaseTable
    from tierwise.spec.model import SourceSpec

    with psycopg.connect(postgres_url) as con:
        con.execute("CREATE TABLE accounts (account_id text PRIMARY KEY, employees text, tech_stack text[])")
        con.execute("INSERT INTO accounts VALUES ('A2', 'lots', NULL), ('A1', '120', ARRAY['b', 'a']), "
                    "('A3', '7', ARRAY[]::text[])")
    source, where = SourceSpec(table="accounts"), DatabaseTable(postgres_url, "accounts")
    loads = {name: load_table(eng, "accounts", source, where) for name, eng in (("spark", spark), ("duckdb", engine))}
    assert loads["spark"].summary() == loads["duckdb"].summary()
    assert loads["spark"].reasons == {"unparsable int in employees": 1}
    rows = {name: eng.to_arrow(loads[name].clean.order_by(ROW_COLUMN).select(ROW_COLUMN, "account_id", "employees",
                                                                              "tech_stack")).to_pylist()
            for name, eng in (("spark", spark), ("duckdb", engine))}
    assert rows["spark"] == rows["duckdb"] == [
        {ROW_COLUMN: 1, "account_id": "A1", "employees": 120, "tech_stack": ["a", "b"]},
        {ROW_COLUMN: 3, "account_id": "A3", "employees": 7, "tech_stack": None},  # empty, as an empty cell
    ]
