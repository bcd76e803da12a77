"""The synthetic workspace: canonical files, determinism, a valid spec, learnable outcomes, planted mess."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierwise.datamodel import TABLES
from tierwise.demo import generate_workspace
from tierwise.engine import connect
from tierwise.io.loader import load_table
from tierwise.spec import load_spec

TABLE_NAMES = ("accounts", "activities", "opportunities", "contacts", "reps", "transactions")
AS_OF = date(2026, 11, 1)


@pytest.fixture(scope="module")
def csv_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_workspace(tmp_path_factory.mktemp("csv"), accounts=300)


@pytest.fixture(scope="module")
def parquet_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_workspace(tmp_path_factory.mktemp("parquet"), accounts=300, fmt="parquet")


def _read(spec: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(spec.parent / "data" / f"{table}.parquet")


def test_csv_files_have_the_canonical_columns(csv_spec: Path) -> None:
    for name in TABLE_NAMES:
        with (csv_spec.parent / "data" / f"{name}.csv").open(newline="", encoding="utf-8") as f:
            assert next(csv.reader(f)) == list(TABLES[name].columns), name


def test_parquet_variant_has_typed_canonical_columns_and_no_mess(parquet_spec: Path) -> None:
    data = parquet_spec.parent / "data"
    for name in TABLE_NAMES:
        assert pq.read_schema(data / f"{name}.parquet").names == list(TABLES[name].columns), name
    schema = pq.read_schema(data / "accounts.parquet")
    assert schema.field("tech_stack").type == pa.list_(pa.string())
    assert pa.types.is_timestamp(schema.field("updated_at").type)
    assert pa.types.is_date(pq.read_schema(data / "opportunities.parquet").field("created_at").type)
    accounts = _read(parquet_spec, "accounts")
    assert accounts.account_id.is_unique and len(accounts) == 300
    assert (_read(parquet_spec, "opportunities").amount > 0).all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_arguments_give_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    first = generate_workspace(tmp_path / "a", accounts=300, fmt=fmt).parent
    second = generate_workspace(tmp_path / "b", accounts=300, fmt=fmt).parent
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 7
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    other = generate_workspace(tmp_path / "c", accounts=300, fmt=fmt, seed=8).parent
    assert (other / "data" / f"accounts.{fmt}").read_bytes() != (first / "data" / f"accounts.{fmt}").read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_written_spec_loads_and_points_at_the_files(csv_spec: Path, parquet_spec: Path, fmt: str) -> None:
    path = csv_spec if fmt == "csv" else parquet_spec
    spec_file = load_spec(path)
    assert spec_file.spec.name == "demo"
    assert spec_file.spec.as_of == AS_OF
    sources = spec_file.spec.data.sources()
    assert set(sources) == set(TABLE_NAMES)
    for source in sources.values():
        assert source.path.endswith(f".{fmt}")
        assert spec_file.resolve(source.path).exists()
    assert "# Buying signals" in path.read_text(encoding="utf-8")  # the starter's comments are kept


def test_timestamps_respect_as_of(parquet_spec: Path) -> None:
    as_of = datetime.combine(AS_OF, datetime.min.time())
    accounts = _read(parquet_spec, "accounts")
    assert (accounts.created_at <= accounts.updated_at).all()
    assert (accounts.updated_at < as_of).all()
    assert 0.08 < (accounts.updated_at < as_of - timedelta(weeks=6)).mean() < 0.25  # stale records

    opportunities = _read(parquet_spec, "opportunities")
    closed = opportunities[opportunities.is_closed]
    assert (closed.closed_at <= AS_OF).all()
    assert (opportunities.created_at <= opportunities.stage_changed_at).all()
    assert (opportunities.stage_changed_at <= opportunities.closed_at.where(opportunities.is_closed, AS_OF)).all()
    assert set(closed.stage) == {"Closed Won", "Closed Lost"}
    assert not opportunities[opportunities.is_won & ~opportunities.is_closed].size

    occurred = _read(parquet_spec, "activities").occurred_at
    assert occurred.min() >= as_of - timedelta(days=365)
    assert occurred.max() < as_of + timedelta(days=11)
    assert (occurred >= as_of + timedelta(days=1)).any()  # look-ahead bait, after as_of's date


def test_win_rate_rises_with_fit(tmp_path: Path) -> None:
    spec = generate_workspace(tmp_path, accounts=3000, fmt="parquet")
    accounts, opportunities = _read(spec, "accounts"), _read(spec, "opportunities")
    # The starter spec's fit criteria, recomputed from the files (40 points in all).
    employees = accounts.employees
    size = np.select([employees >= 1000, employees >= 200, employees >= 50, employees >= 10], [10, 8, 5, 2], 0)
    industry = accounts.industry.str.strip().str.lower().map(
        {"software": 10, "financial services": 9, "healthcare": 7, "manufacturing": 5, "retail": 4}
    ).fillna(0)
    favoured = {"salesforce", "snowflake", "segment", "hubspot", "marketo"}
    tech = accounts.tech_stack.map(lambda items: 10 * min(1, len({t.strip().lower() for t in items} & favoured) / 3))
    geography = 5 * accounts.country.isin(["US", "CA", "GB", "DE", "FR", "NL", "AU"])
    complexity = 5 * (accounts.business_units >= 3)
    fit = pd.Series(size + industry + tech + geography + complexity, index=accounts.index)
    quintile = pd.Series(pd.qcut(fit.rank(method="first"), 5, labels=False).to_numpy(), index=accounts.account_id)

    closed = opportunities[opportunities.is_closed]
    win_rate = closed.is_won.groupby(closed.account_id.map(quintile)).mean()
    assert 0.15 < closed.is_won.mean() < 0.35
    assert win_rate[4] > 2 * win_rate[0]
    assert win_rate[4] - win_rate[0] > 0.15


def test_csv_mess_is_quarantined(csv_spec: Path) -> None:
    spec_file = load_spec(csv_spec)
    sources = spec_file.spec.data.sources()
    reasons: dict[str, dict[str, int]] = {}
    with connect() as engine:
        accounts = load_table(engine, "accounts", sources["accounts"], spec_file.resolve(sources["accounts"].path))
        assert (accounts.read, accounts.loaded) == (304, 300)
        reasons["accounts"] = accounts.reasons
        for name in ("activities", "opportunities", "contacts", "reps"):
            path = spec_file.resolve(sources[name].path)
            load = load_table(engine, name, sources[name], path, accounts=accounts.clean)
            assert load.reconciles
            reasons[name] = load.reasons
    assert reasons["accounts"] == {
        "duplicate account_id": 1, "unparsable int in employees": 1,
        "annual_revenue out of range": 1, "missing account_id": 1,
    }
    assert set(reasons["activities"]) == {"unknown account_id", "unparsable timestamp in occurred_at"}
    assert set(reasons["opportunities"]) == {"amount out of range"}
    assert reasons["contacts"] == reasons["reps"] == {}


def test_csv_without_mess_is_clean(tmp_path: Path) -> None:
    data = generate_workspace(tmp_path, accounts=300, mess=False).parent / "data"
    accounts = pd.read_csv(data / "accounts.csv")
    assert accounts.account_id.is_unique and accounts.account_id.notna().all() and len(accounts) == 300
    assert (accounts.employees.dropna() >= 1).all() and (accounts.annual_revenue.dropna() > 0).all()
    activities = pd.read_csv(data / "activities.csv")
    assert activities.account_id.isin(accounts.account_id).all()
    assert pd.to_datetime(activities.occurred_at, format="%Y-%m-%d %H:%M:%S").notna().all()
    assert (pd.read_csv(data / "opportunities.csv").amount > 0).all()


def test_transactions_follow_won_deals(tmp_path: Path) -> None:
    spec = generate_workspace(tmp_path, accounts=2000, events_per_account=1, fmt="parquet")
    opps = _read(spec, "opportunities")
    tx = _read(spec, "transactions")
    tx["occurred_at"] = pd.to_datetime(tx.occurred_at)
    won = opps[opps.is_won].set_index("opportunity_id")
    # every invoice belongs to a won deal of the same account, on or after its close and before as_of
    assert set(tx.order_id) <= set(won.index)
    assert (tx.account_id.to_numpy() == won.loc[tx.order_id, "account_id"].to_numpy()).all()
    closed = pd.to_datetime(won.loc[tx.order_id, "closed_at"]).to_numpy()
    assert (tx.occurred_at.to_numpy() >= closed).all() and (tx.occurred_at < "2026-11-01").all()
    # the first invoice of each deal is its amount; every won deal closed before as_of has one
    first = tx.sort_values("occurred_at").groupby("order_id").first()
    assert np.allclose(first.amount, won.loc[first.index, "amount"])
    assert set(first.index) == set(won.index[pd.to_datetime(won.closed_at) < "2026-11-01"])
