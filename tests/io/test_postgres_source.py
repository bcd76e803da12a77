"""PostgreSQL as a source (``data.database`` + ``table:``) and as the destination of ``--to-table``.

Against a real server (the session's ``postgres_server``, marker ``postgres``): the demo workspace
scored from PostgreSQL tables gives the scores it gives from its files; typed columns (arrays,
timestamps with a time zone, booleans) load like their text; rows are numbered in primary-key
order; scores are written back atomically.
"""

from __future__ import annotations

import io
import re

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from tierwise.engine import ROW_COLUMN
from tierwise.errors import DataError
from tierwise.io.loader import load_table
from tierwise.io.postgres import DatabaseTable, write_table
from tierwise.jobs.score import score
from tierwise.spec.loader import SpecError, load_spec_text
from tierwise.spec.model import SourceSpec


def _copy_in(url: str, table: str, data: pa.Table) -> None:
    """Create ``table`` with text columns and COPY ``data`` into it, in order."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as con, con.cursor() as cur:
        schema, name = table.split(".")
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in data.column_names)
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(schema, name), columns))
        buf = io.BytesIO()
        pcsv.write_csv(data, buf, write_options=pcsv.WriteOptions(include_header=False))
        with cur.copy(sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(sql.Identifier(schema, name))) as copy:
            copy.write(buf.getvalue())


def _fetch(url: str, query: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as con:
        return con.execute(query).fetchall()


@pytest.mark.postgres
def test_the_demo_scores_the_same_from_postgresql_as_from_its_files(postgres_url, tmp_path, engine):
    from tierwise.demo.generate import generate_workspace

    spec = generate_workspace(tmp_path / "ws", accounts=300, seed=3, leads=0, events_per_account=6, mess=True)
    files = score(spec, tmp_path / "from_files", record=False)
    # the rows a file reader accepts, as text, in file order (malformed lines cannot be stored in a table)
    for name in ("accounts", "activities"):
        raw = engine.read_csv(spec.parent / "data" / f"{name}.csv")
        rows = engine.to_arrow(raw.table.order_by(ROW_COLUMN)).drop_columns([ROW_COLUMN])
        _copy_in(postgres_url, f"crm.{name}", rows)
    text = spec.read_text()
    text = text.replace("data:\n", f"data:\n  database: {postgres_url}\n", 1)
    text = text.replace("path: data/accounts.csv", "table: crm.accounts").replace(
        "path: data/activities.csv", "table: crm.activities")
    (spec.parent / "pg.yaml").write_text(text)

    db = score(spec.parent / "pg.yaml", tmp_path / "from_db", record=False, to_table="crm.account_scores")
    # the same scores (the spec hash differs: the spec's data section does)
    assert pq.read_table(db.files["parquet"]).drop_columns(["spec_hash"]).equals(
        pq.read_table(files.files["parquet"]).drop_columns(["spec_hash"]))
    for name in ("accounts", "activities"):
        from_file, from_db = files.tables[name], db.tables[name]
        malformed = from_file["reasons"].pop("malformed line", 0)
        assert from_db["read"] == from_file["read"] - malformed and from_db["loaded"] == from_file["loaded"]
        assert from_db["reasons"] == from_file["reasons"]
        assert from_db["file"].endswith(f"table crm.{name}") and "crm" in from_db["file"]
    assert files.tables["accounts"]["quarantined"] > 0  # the demo's messy rows are in play

    # the scores went back to the database, in full
    written = pq.read_table(db.files["parquet"])
    assert _fetch(postgres_url, "SELECT count(*), sum(score) FROM crm.account_scores") == [
        (written.num_rows, pytest.approx(sum(written["score"].to_pylist())))]
    top = written.sort_by([("score", "descending"), ("account_id", "ascending")]).slice(0, 1).to_pylist()[0]
    assert _fetch(postgres_url, "SELECT account_id, tier, segment, as_of::text FROM crm.account_scores "
                                "ORDER BY score DESC, account_id LIMIT 1") == [
        (top["account_id"], top["tier"], top["segment"], top["as_of"].isoformat())]


@pytest.mark.postgres
def test_typed_columns_load_like_text_and_rows_follow_the_primary_key(postgres_url, engine):
    import psycopg

    with psycopg.connect(postgres_url) as con:
        con.execute("CREATE TABLE accounts (account_id text PRIMARY KEY, name text, employees integer, "
                    "tech_stack text[], is_customer boolean, created_at timestamptz, annual_revenue numeric)")
        # inserted out of key order: row numbers follow the key, not the insert
        con.execute("INSERT INTO accounts VALUES "
                    "('A3', 'Gamma', -5, NULL, NULL, NULL, NULL), "
                    "('A1', 'Acme', 120, ARRAY['Snowflake', 'salesforce', 'snowflake'], true, "
                    "'2026-01-02 03:04:05+02', 5000000.50), "
                    "('A2', NULL, 40, ARRAY[]::text[], false, NULL, -1.5)")
    source = SourceSpec(table="public.accounts")
    load = load_table(engine, "accounts", source, DatabaseTable(postgres_url, "public.accounts"))
    assert (load.read, load.loaded, load.quarantined) == (3, 1, 2)
    assert load.reasons == {"annual_revenue out of range": 1, "employees out of range": 1}
    rows = {r["account_id"]: r for r in engine.to_arrow(load.clean).to_pylist()}
    acme = rows["A1"]
    assert acme[ROW_COLUMN] == 1 and acme["employees"] == 120 and acme["is_customer"] is True
    assert acme["tech_stack"] == ["salesforce", "snowflake"]
    assert str(acme["created_at"]) == "2026-01-02 01:04:05"  # UTC, naive, as every timestamp tierwise reads
    assert acme["annual_revenue"] == 5000000.5
    reasons = {r[ROW_COLUMN]: r["_reason"] for r in engine.to_arrow(load.quarantine).to_pylist()}
    assert reasons == {2: "negative annual_revenue: -1.5", 3: "negative employees: -5"}


@pytest.mark.postgres
def test_a_missing_table_names_the_tables_present(postgres_url, engine):
    _copy_in(postgres_url, "crm.accounts", pa.table({"account_id": ["A1"]}))
    with pytest.raises(DataError, match=r"table crm.acounts: no such table or view \(data.database\); "
                                        r"tables present: crm.accounts"):
        load_table(engine, "accounts", SourceSpec(table="crm.acounts"), DatabaseTable(postgres_url, "crm.acounts"))


@pytest.mark.postgres
def test_an_unreachable_database_is_a_one_line_error_without_the_password(postgres_server, engine):
    url = f"postgresql://nobody:pw@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(DataError) as err:
        load_table(engine, "accounts", SourceSpec(table="crm.accounts"), DatabaseTable(url, "crm.accounts"))
    message = str(err.value)
    assert message.startswith("cannot connect to postgresql://nobody:***@") and "pw" not in message
    assert "\n" not in message


@pytest.mark.postgres
def test_writing_back_replaces_the_table_atomically(postgres_url):
    first = pa.table({"account_id": ["A1", "A2"], "score": [81.5, 12.0], "tags": [["x", 'q"t'], None]})
    assert write_table(postgres_url, "public.scores", first) == 2
    write_table(postgres_url, "public.scores", first.slice(0, 1))
    assert _fetch(postgres_url, "SELECT account_id, score, tags FROM public.scores") == [("A1", 81.5, ["x", 'q"t'])]
    # a failure (here: a view depends on the table) leaves the table and no staging table behind
    _fetch_exec = __import__("psycopg").connect(postgres_url)
    with _fetch_exec as con:
        con.execute("CREATE VIEW top_scores AS SELECT * FROM public.scores")
    with pytest.raises(DataError, match=r"cannot write public.scores in .*: .*the table is unchanged"):
        write_table(postgres_url, "public.scores", first)
    assert _fetch(postgres_url, "SELECT count(*) FROM public.scores") == [(1,)]
    assert _fetch(postgres_url, "SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_tw\\_stage\\_%'") == [(0,)]


def test_table_sources_need_a_database_and_no_path(tmp_path):
    with pytest.raises(SpecError, match=re.escape("data.accounts.table: data.accounts is the table 'crm.accounts' "
                                                  "but data.database is not set")):
        load_spec_text("data:\n  accounts: {table: crm.accounts}\nfit: {weight: 0}\nsignals: {weight: 0}\n")
    with pytest.raises(SpecError, match="data.accounts: give either path .* or table .*, not both"):
        load_spec_text("data:\n  accounts: {path: a.csv, table: crm.accounts}\n")
    with pytest.raises(SpecError, match="data.database: "):
        load_spec_text("data:\n  database: mysql://db/crm\n  accounts: {table: crm.accounts}\n")


def test_to_table_needs_the_database(make_workspace):
    spec = make_workspace("fit:\n  criteria: [{name: size, field: employees, at_least: 10, points: 40}]\n",
                          {"accounts.csv": "account_id,employees\nA1,20\n"})
    with pytest.raises(DataError, match=r"--to-table crm.scores writes to the spec's data.database, which is not set"):
        score(spec, spec.parent / "out", record=False, to_table="crm.scores")


@pytest.mark.postgres
def test_the_cli_reads_from_and_writes_back_to_postgresql(postgres_url, make_workspace, tmp_path):
    from typer.testing import CliRunner

    from tierwise.cli.main import app

    _copy_in(postgres_url, "crm.accounts", pa.table({"account_id": ["A1", "A2", "A3"], "employees": ["20", "x", "5"]}))
    spec = make_workspace("fit:\n  criteria: [{name: size, field: employees, at_least: 10, points: 40}]\n", {},
                          data=f"data:\n  database: {postgres_url}\n  accounts: {{table: crm.accounts}}\n")
    result = CliRunner().invoke(app, ["score", str(spec), "--out", str(tmp_path / "out"), "--no-history",
                                      "--to-table", "crm.account_scores"])
    assert result.exit_code == 0, result.output
    assert "and to the table crm.account_scores" in result.output
    assert _fetch(postgres_url, "SELECT account_id FROM crm.account_scores ORDER BY 1") == [("A1",), ("A3",)]
    quarantine = (tmp_path / "out" / "quarantine" / "accounts.csv").read_text()
    assert "unparsable int in employees: 'x'" in quarantine
