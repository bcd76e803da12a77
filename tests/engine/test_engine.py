"""The engine layer: connecting by URL, reading files, atomic writes, located SQL errors."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierwise.engine import ROW_COLUMN, connect, write_text_atomic
from tierwise.errors import DataError, EngineError, TierwiseError


def test_unknown_engine_lists_the_available_ones():
    with pytest.raises(TierwiseError, match=r"unknown engine 'nosuch://x'; available engines: duckdb://"):
        connect("nosuch://x")


def test_duckdb_file_database(tmp_path):
    db = tmp_path / "ws.duckdb"
    with connect(f"duckdb:///{db}") as engine:
        engine.materialize(ibis.memtable({"a": [1, 2]}), name="kept")
        assert engine.scalar(ibis.literal(20) + 22) == 42
    assert db.exists()


def test_read_csv_is_text_with_row_numbers(engine, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id,n\nA,001\nB,2\n")
    raw = engine.read_csv(path)
    assert raw.rejected == []
    rows = engine.to_arrow(raw.table.order_by(ROW_COLUMN)).to_pylist()
    assert rows == [{"id": "A", "n": "001", ROW_COLUMN: 1}, {"id": "B", "n": "2", ROW_COLUMN: 2}]


def test_read_csv_rejects_report_their_lines(engine, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id,n\nA,1\nB,2,3\nC,3\n")
    raw = engine.read_csv(path)
    assert [(r.row, r.text) for r in raw.rejected] == [(2, "B,2,3")]
    assert raw.rejected[0].reason.startswith("too many columns")
    rows = engine.to_arrow(raw.table.order_by(ROW_COLUMN).select("id", ROW_COLUMN)).to_pylist()
    assert rows == [{"id": "A", ROW_COLUMN: 1}, {"id": "C", ROW_COLUMN: 3}]


def test_a_file_that_is_not_the_expected_csv_is_refused(engine, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a;b\n" + "x,y,z\n" * 300)  # ';' header, ',' rows: every line has the wrong shape
    with pytest.raises(DataError, match=r"more than 200 lines could not be split into columns .* check the delimiter"):
        engine.read_csv(path, delimiter=",")


def test_short_lines_in_a_wide_file_are_never_dropped_silently(engine, tmp_path):
    """DuckDB records one reject per missing cell and drops lines past its limit: refuse, don't lose rows."""
    path = tmp_path / "a.csv"
    path.write_text(",".join(f"c{i}" for i in range(60)) + "\n" + "x\n" * 180)
    with pytest.raises(DataError, match=r"a\.csv: at least 1[0-9]{2} lines could not be split into columns \(first at line 2"):
        engine.read_csv(path)


def test_read_parquet_keeps_native_types(engine, tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": ["A", "B"], "n": pa.array([1, 2], pa.int32())}), path)
    raw = engine.read_parquet(path)
    assert raw.table.schema()["n"].is_integer()
    assert engine.to_arrow(raw.table.order_by(ROW_COLUMN)).column(ROW_COLUMN).to_pylist() == [1, 2]


def test_register_arrow_data(engine):
    table = engine.register(pa.table({"a": pa.array([1, None], pa.int64()), "b": pa.nulls(2, pa.string())}))
    assert engine.to_arrow(table).to_pylist() == [{"a": 1, "b": None}, {"a": None, "b": None}]


def test_engine_error_carries_the_sql(engine):
    bad = ibis.memtable({"x": ["abc"]}).select(y=ibis._.x.cast("int64"))
    with pytest.raises(EngineError) as info:
        engine.to_arrow(bad)
    assert "duckdb engine failed" in str(info.value)
    assert "--- failing SQL ---" in str(info.value) and info.value.sql and "SELECT" in info.value.sql


# --------------------------------------------------------------------------- atomic writes


def _table(engine, values):
    return engine.register(pa.table({"v": values}))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_leaves_no_temporary_files(engine, tmp_path, fmt):
    target = tmp_path / "out" / f"scores.{fmt}"
    engine.write(_table(engine, [1, 2]), target, fmt)
    engine.write(_table(engine, [3]), target, fmt)  # overwrite in place
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    if fmt == "parquet":
        assert pq.read_table(target).column("v").to_pylist() == [3]
    else:
        assert target.read_text().splitlines() == ["v", "3"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_failed_write_keeps_the_previous_file(engine, tmp_path, monkeypatch, fmt):
    target = tmp_path / f"scores.{fmt}"
    engine.write(_table(engine, [1, 2]), target, fmt)
    before = target.read_bytes()

    def half_write_then_crash(expr, path):
        path.write_bytes(b"partial garbage")
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine, f"_write_{fmt}", half_write_then_crash)
    with pytest.raises(EngineError, match="disk full"):
        engine.write(_table(engine, [9]), target, fmt)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_failed_first_write_creates_nothing(engine, tmp_path, monkeypatch):
    target = tmp_path / "scores.parquet"
    monkeypatch.setattr(engine, "_write_parquet", lambda expr, path: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(EngineError):
        engine.write(_table(engine, [1]), target, "parquet")
    assert list(tmp_path.iterdir()) == []


def test_write_text_atomic(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "summary.json"
    write_text_atomic(target, "{}\n")
    assert target.read_text() == "{}\n"
    # a crash while writing leaves the old text and no temporary file
    import pathlib

    def crash(self, *args, **kwargs):
        raise OSError("no space left")

    monkeypatch.setattr(pathlib.Path, "write_text", crash)
    with pytest.raises(OSError):
        write_text_atomic(target, '{"new": 1}\n')
    monkeypatch.undo()
    assert target.read_text() == "{}\n"
    assert [p.name for p in target.parent.iterdir()] == ["summary.json"]


@pytest.mark.parametrize("streamed", [False, True], ids=["sorted-in-memory", "sorted-by-engine"])
@pytest.mark.parametrize("values", [[5, 1, 5, 2, 2, 2, 9], [3, 1, 2], [], [-(2**63), -(2**63), 2**63 - 1]])
def test_repeated_values_agree_with_the_portable_grouped_count(engine, values, streamed, monkeypatch):
    from tierwise.engine import duckdb as duck
    from tierwise.engine.base import Engine

    if streamed:  # past the in-memory limit the engine sorts and the values are streamed in batches
        monkeypatch.setattr(duck, "SORT_IN_MEMORY_MAX", 0)

    t = engine.register(pa.table({"h": pa.array(values, pa.int64())}))
    expected = sorted({v for v in values if values.count(v) > 1})
    fast = engine.to_arrow(engine.repeated_values(t.h)).column("value").to_pylist()
    portable = engine.to_arrow(Engine.repeated_values(engine, t.h)).column("value").to_pylist()
    assert sorted(fast) == expected
    assert sorted(portable) == expected


def test_streamed_repeats_straddling_batches(engine, monkeypatch):
    """A value repeated across the engine's batch boundary (1M rows) is found once."""
    import numpy as np

    from tierwise.engine import duckdb as duck

    monkeypatch.setattr(duck, "SORT_IN_MEMORY_MAX", 0)
    values = np.arange(2_500_000, dtype=np.uint64)[::-1].copy()
    values[0] = (1 << 20) - 1  # sorted, this pair sits at rows 1,048,575 and 1,048,576: the first batch's end
    values[1:4] = 9  # four times: 9 and the values it replaced, once each
    t = engine.register(pa.table({"h": values}))
    reader = engine.backend.to_pyarrow_batches(t.h.name("value").as_table().order_by("value"), chunk_size=1 << 20)
    seen = [b.num_rows for b in reader]
    assert seen[0] == 1 << 20  # the pair does straddle a batch boundary
    repeated = engine.to_arrow(engine.repeated_values(t.h)).column("value")
    assert repeated.type == pa.uint64() and sorted(repeated.to_pylist()) == [9, (1 << 20) - 1]


def test_key_hash_finds_repeated_text_keys(engine):
    t = engine.register(pa.table({"k": ["a", "b", "a", None, "c", None]}))
    hashes = t.select(h=engine.key_hash(t.k))
    repeated = engine.to_arrow(engine.repeated_values(hashes.h)).column("value").to_pylist()
    by_key = dict(zip(["a", "b", "a", None, "c", None], engine.to_arrow(hashes).column("h").to_pylist(), strict=True))
    assert sorted(repeated) == sorted({by_key["a"], by_key[None]})  # nulls hash alike; the loader drops them


def test_url_options_are_duckdb_settings_and_the_file_folder_is_created(tmp_path):
    """The out-of-core settings: memory_limit, threads and temp_directory come from the URL's query."""
    db, spill = tmp_path / "new" / "ws.duckdb", tmp_path / "spill"
    with connect(f"duckdb:///{db}?memory_limit=300MB&threads=1&temp_directory={spill}") as engine:
        con = engine.backend.con
        settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                    "('memory_limit', 'threads', 'temp_directory')").fetchall())
        assert settings["threads"] == "1" and settings["temp_directory"] == str(spill)
        assert settings["memory_limit"] in ("286.1 MiB", "300.0 MB")
        # a sort larger than the limit completes by spilling to temp_directory
        engine.materialize(ibis.memtable({"x": [0]}), name="seed")
        con.execute("CREATE TABLE big AS SELECT range AS k, md5(range::VARCHAR) AS v FROM range(4000000)")
        assert con.execute("SELECT count(*) FROM (SELECT v FROM big ORDER BY v)").fetchone()[0] == 4_000_000
        assert con.execute("SELECT count(DISTINCT v) FROM big").fetchone()[0] == 4_000_000
    assert db.exists()


def test_duckdb_settings_in_the_url_bound_memory_and_spill_to_a_folder(tmp_path):
    """Out of core: `duckdb:///ws.duckdb?memory_limit=...&temp_directory=...` sets the session's limits."""
    spill = tmp_path / "spill"
    url = f"duckdb:///{tmp_path / 'ws.duckdb'}?memory_limit=256MB&threads=1&temp_directory={spill}"
    with connect(url) as engine:
        settings = dict(engine.backend.con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', 'threads', 'temp_directory')"
        ).fetchall())
    assert settings["threads"] == "1" and settings["temp_directory"] == str(spill)
    assert settings["memory_limit"] in ("256.0 MiB", "244.1 MiB")  # DuckDB reads MB as 10^6 bytes, shows MiB
    with pytest.raises(TierwiseError, match=r"cannot open duckdb://\?no_such_setting=1: .*no_such_setting.*"
                                            r"Settings in the URL are DuckDB settings"):
        connect("duckdb://?no_such_setting=1")
