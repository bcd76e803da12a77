"""The synthetic workspace: canonical files, determinism, a valid spec, learnable outcomes, planted mess, leads."""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierwise.datamodel import TABLES
from tierwise.demo import generate_workspace
from tierwise.demo.generate import COMPETITORS, LEAD_EVENT_NAMES, LEAD_SOURCES
from tierwise.engine import connect
from tierwise.io.loader import load_table
from tierwise.spec import load_spec
from tierwise.spec.model import PERSONAL_EMAIL_DOMAINS

TABLE_NAMES = ("accounts", "activities", "opportunities", "contacts", "reps", "transactions", "leads",
               "lead_activities")
OTHER_TABLES = TABLE_NAMES[:6]  # the tables that were there before leads
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
    assert len(files) == 9
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
        for name in ("activities", "opportunities", "contacts", "reps", "leads", "lead_activities"):
            path = spec_file.resolve(sources[name].path)
            load = load_table(engine, name, sources[name], path, accounts=accounts.clean)
            assert load.reconciles
            reasons[name] = load.reasons
            if name == "leads":
                assert (load.read, load.loaded) == (151, 150)  # the 150 leads; a repeated row is quarantined
    assert reasons["accounts"] == {
        "duplicate account_id": 1, "unparsable int in employees": 1,
        "annual_revenue out of range": 1, "missing account_id": 1,
    }
    assert set(reasons["activities"]) == {"unknown account_id", "unparsable timestamp in occurred_at"}
    assert set(reasons["opportunities"]) == {"amount out of range"}
    assert reasons["contacts"] == reasons["reps"] == {}
    assert reasons["leads"] == {"duplicate lead_id": 1}
    assert set(reasons["lead_activities"]) == {"unparsable timestamp in occurred_at"}


def test_csv_without_mess_is_clean(tmp_path: Path) -> None:
    data = generate_workspace(tmp_path, accounts=300, mess=False).parent / "data"
    accounts = pd.read_csv(data / "accounts.csv")
    assert accounts.account_id.is_unique and accounts.account_id.notna().all() and len(accounts) == 300
    assert (accounts.employees.dropna() >= 1).all() and (accounts.annual_revenue.dropna() > 0).all()
    activities = pd.read_csv(data / "activities.csv")
    assert activities.account_id.isin(accounts.account_id).all()
    assert pd.to_datetime(activities.occurred_at, format="%Y-%m-%d %H:%M:%S").notna().all()
    assert (pd.read_csv(data / "opportunities.csv").amount > 0).all()
    leads = pd.read_csv(data / "leads.csv")
    assert leads.lead_id.is_unique and len(leads) == 150
    events = pd.read_csv(data / "lead_activities.csv")
    assert events.lead_id.isin(leads.lead_id).all()
    occurred = pd.to_datetime(events.occurred_at, format="%Y-%m-%d %H:%M:%S")
    assert occurred.notna().all() and (occurred < "2026-11-01").all()  # no look-ahead bait without mess


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


# --------------------------------------------------------------------------- leads


@pytest.fixture(scope="module")
def leads_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_workspace(tmp_path_factory.mktemp("leads"), accounts=2000, leads=2000, fmt="parquet")


def _account_domains(accounts: pd.DataFrame) -> set[str]:
    # the accounts file leaves some domains empty; the website always has it
    return set(accounts.website.str.replace(r"^(https?://)?(www\.)?", "", regex=True))


def test_lead_mix_is_realistic(leads_spec: Path) -> None:
    leads, accounts = _read(leads_spec, "leads"), _read(leads_spec, "accounts")
    assert leads.lead_id.is_unique and len(leads) == 2000
    email_ok = leads.email.str.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    domain = leads.email.str.extract(r"@([^@\s]+)$")[0].where(email_ok)
    at_account = domain.str.replace(r"^(mail|eu|us)\.", "", regex=True).isin(_account_domains(accounts))
    assert 0.48 < at_account.mean() < 0.59  # 60% work at an account, most of them write from its domain
    assert 0.07 < domain.isin(PERSONAL_EMAIL_DOMAINS).mean() < 0.13
    assert 0.003 < (~email_ok).mean() < 0.025  # malformed
    assert 0.015 < leads.company.isna().mean() < 0.05
    assert 0.33 < leads.persona.isna().mean() < 0.47  # left to the title keywords
    competitors = {d for _, d in COMPETITORS}
    assert domain.isin(competitors).sum() >= 1
    assert set(leads.lead_source) == set(LEAD_SOURCES)
    # the company name as people type it: the CRM's name, and variants of it
    names = set(accounts.name)
    typed = leads.company[at_account].dropna()
    assert 0.45 < typed.isin(names).mean() < 0.72
    assert typed.str.isupper().any() and (~typed.isin(names)).sum() > 100
    # companies the CRM does not know carry names no account has
    assert not leads.company[~at_account & email_ok & ~domain.isin(PERSONAL_EMAIL_DOMAINS)].isin(names).any()
    as_of = datetime.combine(AS_OF, datetime.min.time())
    assert (leads.created_at < as_of).all() and (leads.created_at >= as_of - timedelta(days=271)).all()
    assert (leads.created_at <= leads.updated_at).all()
    # the spec penalises the generator's competitors and routes to its SDRs
    spec = load_spec(leads_spec).spec
    assert spec.lead_scoring is not None and spec.routing is not None
    assert spec.lead_scoring.negatives.competitor.domains == sorted(competitors)
    reps = _read(leads_spec, "reps")
    sdrs = reps.rep_id[reps.role == "sdr"].tolist()
    pools = [r.pool for r in spec.routing.rules if r.to == "pool"]
    assert pools and all(pool == sdrs for pool in pools)


def test_lead_events(leads_spec: Path) -> None:
    leads, events = _read(leads_spec, "leads"), _read(leads_spec, "lead_activities")
    assert 12_000 < len(events) < 20_000  # eight per lead on average
    assert set(events.event_type.str.lower()) == set(LEAD_EVENT_NAMES)
    as_of = datetime.combine(AS_OF, datetime.min.time())
    known = events.lead_id.isin(leads.lead_id)
    assert 0 < (~known).sum() < 0.002 * len(events)  # a few events of leads not in the table
    future = events.occurred_at >= as_of
    assert 0 < future.sum() < 0.01 * len(events) and (events.occurred_at < as_of + timedelta(days=11)).all()
    created = events.lead_id.map(leads.set_index("lead_id").created_at)
    assert (events.occurred_at[known] >= created[known]).all()  # nothing before the lead existed
    assert events.activity_id.is_unique


def test_hot_leads_sit_at_good_accounts(leads_spec: Path, tmp_path: Path) -> None:
    from tierwise.jobs.lead_scores import score_leads
    from tierwise.jobs.score import score

    scored = score_leads(leads_spec, tmp_path / "leads")
    assert scored.summary["inputs"]["leads"]["quarantined"] == 0
    assert scored.summary["inputs"]["lead_activities"]["quarantined"] == 0
    s = scored.summary["leads"]
    assert 0.15 < s["mql_share"] <= 0.2 and s["malformed_emails"] > 0
    assert s["events"]["unknown_person"] > 0 and set(s["events"]["unscored_types"]) == {"page_view"}
    assert {seg["segment"] for seg in s["segments"]} == {"demo_invite", "sdr_follow_up", "nurture"}
    leads = pd.read_parquet(tmp_path / "leads" / "leads.parquet")
    assert leads.persona.notna().all()  # stored, or derived from the title
    score(leads_spec, tmp_path / "scores")
    tiers = pd.read_parquet(tmp_path / "scores" / "scores.parquet").set_index("account_id").tier
    accounts = _read(leads_spec, "accounts")
    by_domain = dict(zip(accounts.website.str.replace(r"^(https?://)?(www\.)?", "", regex=True),
                         accounts.account_id, strict=True))
    domain = leads.email.str.extract(r"@(?:(?:mail|eu|us)\.)?([^@\s]+)$")[0]
    tier = domain.map(by_domain).map(tiers)
    good, unknown = leads.is_mql[tier.isin(["A", "B", "C"])], leads.is_mql[tier.isna()]
    assert len(good) > 50 and good.mean() > 1.5 * unknown.mean()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_leads_leave_the_other_tables_unchanged(tmp_path: Path, fmt: str) -> None:
    base = generate_workspace(tmp_path / "default", accounts=300, fmt=fmt).parent
    none = generate_workspace(tmp_path / "none", accounts=300, fmt=fmt, leads=0).parent
    more = generate_workspace(tmp_path / "more", accounts=300, fmt=fmt, leads=500, events_per_lead=3).parent
    for name in OTHER_TABLES:
        rel = Path("data") / f"{name}.{fmt}"
        assert (base / rel).read_bytes() == (none / rel).read_bytes() == (more / rel).read_bytes(), name
    assert (base / "spec.yaml").read_text() == (none / "spec.yaml").read_text()
    empty = pq.read_table(none / "data" / "leads.parquet") if fmt == "parquet" else pd.read_csv(
        none / "data" / "leads.csv")
    assert empty.shape[0] == 0 and list(empty.column_names if fmt == "parquet" else empty.columns) == list(
        TABLES["leads"].columns)
    # fewer events per lead leave the leads themselves as they were
    again = generate_workspace(tmp_path / "again", accounts=300, fmt=fmt, leads=500, events_per_lead=9).parent
    rel = Path("data") / f"leads.{fmt}"
    assert (more / rel).read_bytes() == (again / rel).read_bytes()
    assert (more / rel).read_bytes() != (base / rel).read_bytes()


def test_lead_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="leads and events_per_lead must not be negative"):
        generate_workspace(tmp_path, accounts=10, leads=-1)
    with pytest.raises(ValueError, match="leads and events_per_lead must not be negative"):
        generate_workspace(tmp_path, accounts=10, events_per_lead=-0.5)


def test_demo_spec_defaults_to_the_starter_pool_at_5000_accounts() -> None:
    from tierwise.demo.generate import STARTER_SDR_POOL, _spec_text

    starter = _spec_text(AS_OF, "csv")
    assert starter.count(STARTER_SDR_POOL) == 2
    # the 5,000-account demo has exactly these SDRs, so its spec keeps the starter's pool
    sdrs = re.findall(r"R\d{4}", STARTER_SDR_POOL)
    assert _spec_text(AS_OF, "csv", sdrs) == starter


@pytest.mark.slow
def test_demo_command_scores_and_routes_the_leads(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tierwise.cli.main import app
    from tierwise.models.routing import Decision
    from tierwise.store.audit import AuditLog

    out = tmp_path / "demo"
    # a log left by an earlier run, whose reps are all at their cap, must not carry over into this one
    stale = Decision("L000001", "old", "an earlier workspace", "queue", "nowhere", None, datetime(2026, 1, 1), "k")
    full = {f"R{i:04d}": 10**6 for i in range(1, 11)}
    AuditLog(out / "routing" / "audit.jsonl").record([stale], state={"cursor": {}, "assigned": full})
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--accounts", "1000"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert re.search(r"leads: 500 scored, 9\d MQL \(\d+%\)", result.output)  # the top 20%, ties left out
    assert "routing (2026-11-01 09:00 UTC): 500 leads" in result.output
    decisions = pd.read_csv(out / "routing" / "decisions.csv")
    assert len(decisions) == 500 and not decisions.replay.any() and "nowhere" not in set(decisions.target)
    assert pd.to_datetime(decisions.decided_at).eq(pd.Timestamp("2026-11-01 09:00")).all()
    assert {"demo_invite", "known_account", "nurture"} <= set(decisions.rule)
    assert {"pool", "account_owner", "queue"} <= set(decisions.target_kind)
    assert (out / "leads" / "leads.csv").exists() and (out / "leads" / "contacts.csv").exists()
    # RFM a quarter earlier, then today: tasks for the customers whose segment changed
    assert "since the run of 2026-08-02" in result.output and "RFM segments" in result.output
    rfm_summary = json.loads((out / "rfm" / "summary.json").read_text())
    assert rfm_summary["triggers"]["previous_as_of"] == "2026-08-02" and rfm_summary["triggers"]["tasks"] > 0
    assert rfm_summary["rows"]["reconciles"] and (out / "rfm" / "tasks.csv").exists()
    # every dashboard view has its data, and report/report.html holds them all inline (no empty state)
    from tierwise.web.views import OUTPUT_VIEWS

    assert {v.key: v.load(out) is not None for v in OUTPUT_VIEWS} == {v.key: True for v in OUTPUT_VIEWS}
    page = (out / "report" / "report.html").read_text(encoding="utf-8")
    assert 'id="empty-state"' not in page and page.count('class="mark"') > 100 and "<script" not in page
    # the territory plan has a rep in every role and region the accounts need: no capacity shortfall
    plan = json.loads((out / "territories" / "summary.json").read_text())["plan"]
    assert [s for s in plan["shortfall"] if s["shortfall"] > 0] == [] and plan["accounts"]["planned"] > 0
    assert "territories:" in result.output and "maturity (evidence):" in result.output


def test_every_role_has_a_rep_in_every_region():
    from tierwise.demo.generate import REGIONS, ROLES, _reps

    reps = _reps(np.random.default_rng(1), 5000).table.to_pandas()
    active = reps[reps.active]
    for role in ROLES:
        assert set(active.region[active.role == role]) == set(REGIONS), role
