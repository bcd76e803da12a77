"""The run history store on DuckDB and on a real PostgreSQL server: recording, idempotency, atomicity, changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from tierwise.errors import TierwiseError
from tierwise.store.history import (
    ACCOUNT_SCHEMA,
    CHANGE_SCHEMA,
    HistoryStore,
    RunRecord,
    is_postgres_url,
    open_history,
    redact,
    resolve_history,
)

TIERS = ["A", "B", "C", "D"]
REPO = Path(__file__).resolve().parents[2]


def accounts(rows: list[tuple], *, attributes: bool = True) -> pa.Table:
    """(account_id, owner_id, score, tier, segment) -> a run's account table, with two drift attributes."""
    table = pa.table({
        "account_id": [r[0] for r in rows], "owner_id": [r[1] for r in rows],
        "score": [r[2] for r in rows], "fit_score": [r[2] + 1 for r in rows],
        "signal_score": [r[2] / 2 for r in rows], "engagement_score": [None for _ in rows],
        "tier": [r[3] for r in rows], "segment": [r[4] for r in rows],
    }, schema=ACCOUNT_SCHEMA)
    if attributes:
        industries = ["software", 'retail, "big"\nco', None, "", "café"]
        table = table.append_column("employees", pa.array([1200 + i if i != 2 else None for i in range(len(rows))],
                                                           pa.int64()))
        table = table.append_column("industry", pa.array([industries[i % 5] for i in range(len(rows))]))
    return table


FIRST = accounts([
    ("A1", "rep1", 85.0, "A", "Enterprise"),
    ("A2", "rep1", 62.0, "B", "Mid-Market"),
    ("A3", None, 30.0, "D", "SMB"),
    ("A4", "rep2", 45.0, "C", "SMB"),
])
SECOND = accounts([
    ("A1", "rep1", 70.0, "B", "Enterprise"),        # tier down
    ("A2", "rep1", 82.0, "A", "Enterprise"),        # tier up and segment change
    ("A4", "rep2", 46.0, "C", "SMB"),               # unchanged
    ("A5", "rep3", 50.0, "C", "SMB"),               # entered; A3 left
])
INPUTS = {"accounts": {"read": 5, "loaded": 4, "quarantined": 1}, "activities": {"read": 10, "loaded": 10, "quarantined": 0}}


def record(store: HistoryStore, table: pa.Table = FIRST, *, as_of=date(2026, 8, 1), run_id=None):
    return store.record(RunRecord(spec_name="demo", spec_hash="0123456789ab", as_of=as_of, accounts=table,
                                  tiers=TIERS, run_id=run_id, inputs=INPUTS, summary={"tiers": {"A": 1}}))


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "duckdb":
        return str(tmp_path / "ws" / ".tierwise" / "history.duckdb")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    with open_history(store_url) as s:
        yield s


def snapshot(store: HistoryStore) -> dict:
    """Everything in the store, comparable."""
    out = {}
    for run in store.runs():
        out[run.run_id] = (run.to_dict(), store.accounts(run.run_id).to_pylist(),
                           store.attributes(run.run_id).to_pylist())
    out["columns"] = store._rows("SELECT count(*) FROM tw_run_accounts")
    return out


# --------------------------------------------------------------------------- recording


def test_a_run_is_recorded_with_its_inputs_accounts_and_attributes(store):
    result = record(store)
    assert result.status == "recorded"
    run = result.run
    assert run.run_id.startswith("2026-08-01-01234567-")
    assert (run.spec_name, run.spec_hash, run.spec_version, run.as_of, run.accounts) == (
        "demo", "0123456789ab", 1, date(2026, 8, 1), 4)
    assert run.inputs == INPUTS
    assert run.tiers == TIERS and run.attributes == {"employees": "number", "industry": "text"}
    assert run.summary == {"tiers": {"A": 1}}
    got = store.accounts(run.run_id)
    assert got.schema == ACCOUNT_SCHEMA
    assert got.to_pylist() == FIRST.select(ACCOUNT_SCHEMA.names).sort_by("account_id").to_pylist()
    attrs = store.attributes(run.run_id).to_pylist()
    # numbers stay numbers; commas, quotes, new lines, empty text, null and accents survive
    assert attrs == [{"account_id": "A1", "employees": 1200.0, "industry": "software"},
                     {"account_id": "A2", "employees": 1201.0, "industry": 'retail, "big"\nco'},
                     {"account_id": "A3", "employees": None, "industry": None},
                     {"account_id": "A4", "employees": 1203.0, "industry": ""}]
    assert [r.run_id for r in store.runs()] == [run.run_id] and store.latest() == run


def test_recording_the_same_run_again_changes_nothing(store):
    first = record(store)
    before = snapshot(store)
    again = record(store)
    assert again.status == "unchanged" and again.run == first.run
    assert snapshot(store) == before


def test_recording_a_run_id_with_new_content_replaces_it_once(store):
    record(store, run_id="weekly")
    replaced = record(store, SECOND, run_id="weekly")
    assert replaced.status == "replaced"
    assert [r.run_id for r in store.runs()] == ["weekly"]
    assert store.accounts("weekly").to_pylist() == SECOND.select(ACCOUNT_SCHEMA.names).sort_by("account_id").to_pylist()
    assert replaced.run.accounts == 4


def test_the_default_run_id_names_the_content(store):
    a = record(store).run.run_id
    b = record(store, SECOND).run.run_id
    assert a != b and a[:20] == b[:20]  # same date and spec, different results
    assert len(store.runs()) == 2


@pytest.mark.parametrize("step", ["deleted", "run", "accounts"])
def test_a_failure_mid_write_leaves_the_store_as_it_was(store, monkeypatch, step):
    record(store, run_id="r1")
    record(store, SECOND, run_id="r2", as_of=date(2026, 11, 1))
    before = snapshot(store)

    def fail(self, at):
        if at == step:
            raise RuntimeError(f"disk full after {at}")

    monkeypatch.setattr(type(store), "_checkpoint", fail)
    # a new run and a replacement of an existing one both roll back
    with pytest.raises(RuntimeError, match="disk full"):
        record(store, SECOND, run_id="r3")
    with pytest.raises(RuntimeError, match="disk full"):
        record(store, FIRST, run_id="r2")
    assert snapshot(store) == before
    monkeypatch.undo()
    assert record(store, SECOND, run_id="r3").status == "recorded"  # the store still works


def test_a_failed_run_with_a_new_attribute_leaves_no_column_behind(store, monkeypatch):
    record(store, run_id="r1")

    def fail(self, at):
        if at == "accounts":
            raise RuntimeError("connection lost")

    monkeypatch.setattr(type(store), "_checkpoint", fail)
    with_region = SECOND.append_column("region", pa.array(["emea", "apac", None, "emea"]))
    with pytest.raises(RuntimeError):
        record(store, with_region, run_id="r2")
    monkeypatch.undo()
    names = _columns(store)
    assert "text__region" not in names and {"num__employees", "text__industry"} <= names  # the ALTER rolled back
    assert record(store, with_region, run_id="r2").run.attributes == {"employees": "number", "industry": "text",
                                                                      "region": "text"}
    assert store.attributes("r2").column_names == ["account_id", "employees", "industry", "region"]
    assert store.attributes("r1").column_names == ["account_id", "employees", "industry"]


def _columns(store: HistoryStore) -> set[str]:
    if store.kind == "duckdb":
        rows = store._rows("SELECT column_name FROM information_schema.columns WHERE table_name = 'tw_run_accounts'")
    else:
        rows = store._rows("SELECT column_name FROM information_schema.columns WHERE table_name = 'tw_run_accounts' "
                           "AND table_schema = current_schema()")
    return {r[0] for r in rows}


CRASH = """
import os, sys
from datetime import date
sys.path.insert(0, {tests!r})
from test_history import SECOND, record
from tierwise.store.history import open_history

store = open_history({url!r})
def crash(self, step):
    if step == "accounts":
        os._exit(3)          # the process dies mid-transaction: no rollback, no cleanup
type(store)._checkpoint = crash
record(store, SECOND, run_id="r1", as_of=date(2026, 11, 1))
"""


def test_a_process_killed_mid_write_leaves_the_store_as_it_was(store_url):
    with open_history(store_url) as store:
        record(store, run_id="r1")
        before = snapshot(store)
    code = CRASH.format(tests=str(Path(__file__).parent), url=store_url)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    with open_history(store_url) as store:
        assert snapshot(store) == before


# --------------------------------------------------------------------------- changes


def test_change_events_between_two_runs(store):
    a = record(store, run_id="q3", as_of=date(2026, 8, 1)).run.run_id
    b = record(store, SECOND, run_id="q4", as_of=date(2026, 11, 1)).run.run_id
    events = store.changes(a, b)
    assert events.schema == CHANGE_SCHEMA
    got = [(r["account_id"], r["change"], r["from_value"], r["to_value"], r["direction"]) for r in events.to_pylist()]
    assert got == [
        ("A1", "tier", "A", "B", "down"),
        ("A2", "segment", "Mid-Market", "Enterprise", None),
        ("A2", "tier", "B", "A", "up"),
        ("A3", "left", "D", None, None),
        ("A5", "entered", None, "C", None),
    ]
    row = events.to_pylist()[0]
    assert (row["run_id"], row["previous_run_id"], row["score_from"], row["score_to"], row["owner_id"]) == (
        "q4", "q3", 85.0, 70.0, "rep1")
    assert store.previous_changes(b).to_pylist() == events.to_pylist()
    assert store.previous_changes(a).num_rows == 0
    # the other way round, directions flip
    back = {(r["account_id"], r["change"]): r["direction"] for r in store.changes(b, a).to_pylist()}
    assert back[("A1", "tier")] == "up" and back[("A5", "left")] is None


def test_the_changes_view_pairs_each_run_with_the_one_before(store):
    record(store, FIRST.select(ACCOUNT_SCHEMA.names), run_id="q4", as_of=date(2026, 11, 1))
    record(store, SECOND, run_id="q3", as_of=date(2026, 8, 1))  # recorded later, dated earlier
    rows = store._rows("SELECT run_id, previous_run_id, account_id, change FROM tw_changes ORDER BY account_id, change")
    assert rows == [("q4", "q3", "A1", "tier"), ("q4", "q3", "A2", "segment"), ("q4", "q3", "A2", "tier"),
                    ("q4", "q3", "A3", "entered"), ("q4", "q3", "A5", "left")]
    assert store.previous(store.get("q4").run_id).run_id == "q3"


def test_unknown_runs_and_bad_ids_are_clear_errors(store):
    record(store, run_id="r1")
    with pytest.raises(TierwiseError, match="no run 'nope'.*latest: r1"):
        store.changes("nope", "r1")
    with pytest.raises(TierwiseError, match="run id 'bad id'"):
        record(store, run_id="bad id")


def test_a_run_can_be_deleted(store):
    record(store, run_id="r1")
    record(store, SECOND, run_id="r2")
    store.delete("r1")
    assert [r.run_id for r in store.runs()] == ["r2"]
    assert store.accounts("r1").num_rows == 0


def test_a_store_from_a_newer_tierwise_is_refused(store_url):
    with open_history(store_url) as store:
        with store._transaction():
            store._execute("UPDATE tw_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(TierwiseError, match="newer tierwise"):
        open_history(store_url)


# --------------------------------------------------------------------------- opening


def test_history_settings_resolve_to_a_file_or_a_url(tmp_path):
    assert resolve_history(".tierwise/history.duckdb", tmp_path) == str(tmp_path / ".tierwise/history.duckdb")
    assert resolve_history("duckdb:///abs/h.duckdb", tmp_path) == "/abs/h.duckdb"
    assert resolve_history("duckdb://rel/h.duckdb", tmp_path) == str(tmp_path / "rel/h.duckdb")
    url = "postgresql://tw:secret@db.example:5432/revops"
    assert resolve_history(url) == url and is_postgres_url("postgres://x/y")
    assert redact(url) == "postgresql://tw:***@db.example:5432/revops"
    with pytest.raises(TierwiseError, match="needs a file"):
        resolve_history("duckdb://")
    with pytest.raises(TierwiseError, match="unknown history store 'mysql://u:\\*\\*\\*@h/db'"):
        resolve_history("mysql://u:pw@h/db")


@pytest.mark.postgres
def test_an_unreachable_postgres_server_is_a_one_line_error(postgres_server):
    url = f"postgresql://nobody:pw@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(TierwiseError) as err:
        open_history(url)
    message = str(err.value)
    assert message.startswith("cannot connect to the history store postgresql://nobody:***@") and "pw" not in message
    assert "\n" not in message


@pytest.mark.postgres
def test_the_test_server_runs_unprivileged(postgres_url):
    """initdb refuses root: as root the fixture runs the cluster as another account (the CI path)."""
    import psycopg

    with psycopg.connect(postgres_url) as con:
        data_dir = con.execute("SHOW data_directory").fetchone()[0]
        version = con.execute("SHOW server_version_num").fetchone()[0]
    assert int(version) >= 120000
    owner = Path(data_dir).stat().st_uid
    if os.geteuid() == 0:
        assert owner != 0
    else:
        assert owner == os.geteuid()


def test_the_docstring_example_and_json_of_a_run(tmp_path):
    with open_history(str(tmp_path / "h.duckdb")) as store:
        run = record(store).run
        payload = json.loads(json.dumps(run.to_dict()))
    assert payload["as_of"] == "2026-08-01" and payload["inputs"]["accounts"]["quarantined"] == 1


@pytest.mark.postgres
def test_a_dedicated_account_can_own_the_test_cluster(postgres_server, monkeypatch):
    """.ci/run on a machine without a postgres account: the cluster runs as $TIERWISE_PG_OS_USER."""
    if os.geteuid() != 0:
        pytest.skip("only root has to hand the cluster to another account")
    import psycopg
    from conftest import PostgresServer

    monkeypatch.setenv("TIERWISE_PG_OS_USER", "nobody")
    server = PostgresServer(postgres_server.bin_dir)
    assert server.os_user == "nobody"
    server.start()
    try:
        with psycopg.connect(server.url()) as con:
            assert con.execute("SELECT 1").fetchone() == (1,)
        with open_history(server.url()) as store:
            assert record(store, run_id="r1").status == "recorded"
    finally:
        server.stop()


def test_runs_of_another_workspace_are_not_the_previous_run(store):
    """A team store holds several workspaces: the run before is the same spec name's."""
    record(store, run_id="q3", as_of=date(2026, 8, 1))
    store.record(RunRecord(spec_name="other team", spec_hash="ffffffffffff", as_of=date(2026, 9, 1),
                           accounts=SECOND, tiers=TIERS, run_id="other"))
    record(store, SECOND, run_id="q4", as_of=date(2026, 11, 1))
    assert store.previous("q4").run_id == "q3" and store.previous("other") is None
    pairs = set(store._rows("SELECT DISTINCT run_id, previous_run_id FROM tw_changes"))
    assert pairs == {("q4", "q3")}
