"""``tierwise territories``: balanced, minimally disruptive territory plans and what-if scenarios.

The job scores the accounts (or reads a scores file from ``tierwise score``),
works out each account's **potential** (the spec's expression, by default the
score as a propensity times the segment's mean won deal) and **workload** (its
tier's share of a rep's time), decides from the coverage model which role
covers it (tier A/B: the segment's ``owner_role``; tier C: the shared SMB
pool; tier D: nobody), and hands accounts and reps to
:class:`tierwise.models.territories.TerritoryPlanner`. Every named scenario
is planned the same way from changed inputs and compared with the base plan.

Files written to the output folder: ``plan.parquet`` / ``plan.csv`` (one row
per account: owner before and after, why), ``moves.csv`` (the accounts that
change hands or stay uncovered), ``reps.csv`` (per rep, before and after),
``shortfall.csv`` (demand against capacity per role, region and tier),
``scenarios.csv`` (the plans side by side) and ``summary.json``. With
``commit=True``, ``crm_upsert.csv`` (the account id and new owner of every
account that changes hands, headed like the accounts export) and a JSON record
of the plan under the spec's ``territories.history`` folder.

Examples
--------
>>> from tierwise.jobs.territories import territories
>>> result = territories("workspace/spec.yaml", "out/territories")               # doctest: +SKIP
>>> result.summary["plan"]["max_deviation"]["potential"]["after"] <= 0.05          # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from tierwise.engine import Engine, connect, write_text_atomic
from tierwise.errors import DataError, TierwiseError
from tierwise.io.loader import load_table
from tierwise.jobs.workspace import Workspace, load_workspace, resolve_as_of, write_json
from tierwise.models.territories import TerritoryPlanner
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.spec.loader import SpecFile, load_spec
from tierwise.spec.model import (
    SourceSpec,
    TerritoriesSpec,
    TerritoryRep,
    TerritoryRole,
    TerritoryScenario,
    TierCoverage,
)

#: Columns of the CRM upsert file per accounts preset: (account id, new owner).
UPSERT_HEADERS = {"canonical": ("account_id", "owner_id"), "salesforce": ("Id", "OwnerId"),
                  "hubspot": ("Record ID", "Company owner")}
BASE = "base"


class TerritoryCapacityError(TierwiseError):
    """Capacity below demand (with ``strict``): the message gives the shortfall by role and region."""


@dataclass
class PlanOutcome:
    """One plan (the base or a scenario): the fitted planner, the accounts it planned, its metrics."""

    name: str
    planner: TerritoryPlanner
    accounts: pd.DataFrame  # every scored account with its coverage (role, workload, covered)
    metrics: dict[str, Any]
    description: str = ""


@dataclass
class TerritoryResult:
    out_dir: Path
    files: dict[str, str]
    summary: dict[str, Any]
    plans: dict[str, PlanOutcome] = field(default_factory=dict)

    @property
    def base(self) -> PlanOutcome:
        return self.plans[BASE]


# --------------------------------------------------------------------------- entry point


def territories(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
                engine_url: str | None = None, reps_file: str | Path | None = None,
                scores_file: str | Path | None = None, scenarios_file: str | Path | None = None,
                scenarios: list[str] | None = None, commit: bool = False, commit_scenario: str | None = None,
                strict: bool = False, html: str | Path | None = None,
                progress: Progress = NULL_PROGRESS) -> TerritoryResult:
    """Plan territories for the spec's accounts and reps, compare the scenarios, optionally commit one plan.

    ``reps_file`` replaces ``data.reps``; ``scores_file`` (``scores.parquet`` or
    ``.csv`` from ``tierwise score``) skips scoring; ``scenarios_file`` is YAML
    with a ``scenarios:`` list (added to the spec's); ``scenarios`` limits
    which named scenarios run. ``strict`` raises
    :class:`TerritoryCapacityError` when capacity is below demand anywhere.
    """
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    cfg = spec_file.spec.territories or TerritoriesSpec()
    all_scenarios = list(cfg.scenarios) + (_read_scenarios(Path(scenarios_file), spec_file)
                                           if scenarios_file else [])
    names = [s.name for s in all_scenarios]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise TierwiseError(f"scenario '{dup}' is defined twice (spec and scenarios file)")
    if scenarios is not None:
        unknown = [n for n in scenarios if n not in names]
        if unknown:
            raise TierwiseError(f"unknown scenario '{unknown[0]}'; scenarios: {', '.join(names) or 'none'}")
        all_scenarios = [s for s in all_scenarios if s.name in scenarios]
    if commit_scenario is not None and commit_scenario != BASE and commit_scenario not in names:
        raise TierwiseError(f"cannot commit unknown scenario '{commit_scenario}'; scenarios: "
                            f"{', '.join(names) or 'none'}")
    out = Path(out_dir)
    with connect(engine_url or spec_file.spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        accounts, reps, inputs = _inputs(engine, spec_file, cfg, day, out, reps_file=reps_file,
                                         scores_file=scores_file, progress=progress)
    if accounts.empty:
        raise DataError(f"{spec_file.path}: no account could be loaded; see the quarantine with tierwise validate")
    plans: dict[str, PlanOutcome] = {}
    with progress.step(f"planning {len(accounts):,} accounts over {len(reps):,} reps"):
        plans[BASE] = _plan(BASE, accounts, reps, cfg, spec_file)
    for scen in all_scenarios:
        with progress.step(f"scenario {scen.name}"):
            s_cfg, s_reps = _apply_scenario(scen, cfg, reps)
            plans[scen.name] = _plan(scen.name, accounts, s_reps, s_cfg, spec_file, description=scen.description)
    base = plans[BASE]
    short = _shortfall_lines(base.planner)
    if strict and short:
        raise TerritoryCapacityError("capacity is below demand, so some accounts would be left uncovered:\n  "
                                     + "\n  ".join(short) + "\nadd reps, raise capacity or role limits, or change "
                                     "the coverage (territories.coverage); without --strict the plan leaves the "
                                     "lowest-potential accounts uncovered")
    with progress.step("writing the plan"):
        files = _write(out, plans, spec_file)
    summary = _summary(spec_file, cfg, day, inputs, plans, short)
    if html is not None:
        from tierwise.jobs.territory_report import render_html

        path = write_text_atomic(Path(html), render_html(summary, plans))
        files["html"] = str(path)
    if commit or commit_scenario is not None:
        chosen = plans[commit_scenario or BASE]
        files.update(_commit(out, chosen, spec_file, cfg, day, summary))
        summary["committed"] = {"plan": chosen.name, "upsert": files["crm_upsert"], "record": files["plan_record"]}
    files["summary"] = str(write_json(out / "summary.json", summary))
    return TerritoryResult(out, files, summary, plans)


# --------------------------------------------------------------------------- inputs


def _inputs(engine: Engine, spec_file: SpecFile, cfg: TerritoriesSpec, day: date, out_dir: Path, *,
            reps_file: str | Path | None, scores_file: str | Path | None,
            progress: Progress) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Scored accounts with their potential and coverage inputs, and the reps, as pandas frames."""
    from tierwise.compile.conditions import compile_value
    from tierwise.jobs.score import learned_components
    from tierwise.spec.expr import parse_condition

    spec = spec_file.spec
    learned = scores_file is None and (spec.uses_propensity or spec.lookalike.weight > 0)
    tables = ["accounts", "opportunities", "reps"]
    if scores_file is None:
        tables.append("activities")
    if learned:
        tables.append("transactions")
    ws = load_workspace(engine, spec_file, tables=tuple(tables),
                        columns={"activities": {"account_id", "event_type", "occurred_at"}}, progress=progress)
    acc = ws.table("accounts")
    if cfg.region_field not in acc.columns:
        raise TierwiseError(f"territories.region_field: the accounts have no column '{cfg.region_field}'")
    with progress.step("scoring accounts" if scores_file is None else "reading scores"):
        scores = _scores(ws, spec_file, day, scores_file, learned, learned_components)
    deals = _deal_figures(ws)
    keep = [c for c in scores.columns if c not in acc.columns or c == "account_id"]
    t = acc.join(scores.select(*keep), "account_id")
    if deals is not None:
        won, open_ = deals
        t = t.left_join(won, "account_id").select(t, won.won_amount, won.won_deals)
        t = t.left_join(open_, "account_id").select(t, open_.open_pipeline)
        t = t.mutate(won_amount=t.won_amount.fill_null(0.0), won_deals=t.won_deals.fill_null(0),
                     open_pipeline=t.open_pipeline.fill_null(0.0))
        seg = t.group_by("segment").aggregate(_seg_won=t.won_amount.sum(), _seg_deals=t.won_deals.sum())
        overall = t.aggregate(_all_won=t.won_amount.sum(), _all_deals=t.won_deals.sum())
        t = t.left_join(seg, "segment").select(t, seg._seg_won, seg._seg_deals).cross_join(overall)
        acv_all = ibis.ifelse(t._all_deals > 0, t._all_won / t._all_deals.cast("float64"), 1.0)
        t = t.mutate(segment_acv=ibis.ifelse(t._seg_deals > 0, t._seg_won / t._seg_deals.cast("float64"), acv_all))
    else:
        t = t.mutate(won_amount=ibis.literal(0.0), won_deals=ibis.literal(0), open_pipeline=ibis.literal(0.0),
                     segment_acv=ibis.literal(1.0))
    for name in ("propensity_score", "lookalike_score"):
        if name not in t.columns:
            t = t.mutate(**{name: ibis.null().cast("float64")})
    node = spec_file.conditions.get("territories.potential") or parse_condition(cfg.potential)
    try:
        potential = compile_value(node, t).cast("float64")
    except Exception as exc:  # a column the spec check could not see (a scores file without it)
        raise TierwiseError(f"territories.potential {cfg.potential!r} cannot be computed: {exc}") from None
    cols = {
        "account_id": t.account_id,
        "account_name": t["name"] if "name" in t.columns else ibis.null().cast("string"),
        "owner_id": t.owner_id,
        "tier": t.tier,
        "segment": t.segment,
        "score": t.score.cast("float64"),
        "industry": t.industry.cast("string") if "industry" in t.columns else ibis.null().cast("string"),
        "region": t[cfg.region_field].cast("string"),
        "potential": potential,
    }
    with progress.step("computing potential"):
        accounts = engine.to_arrow(t.select(**cols).order_by("account_id")).to_pandas()
    accounts["potential"] = accounts["potential"].astype("float64")
    bad_potential = int(accounts["potential"].isna().sum() + (accounts["potential"] < 0).sum())
    accounts["potential"] = accounts["potential"].fillna(0.0).clip(lower=0.0)
    reps, rep_source = _reps(engine, ws, spec_file, cfg, reps_file)
    inputs = {name: {k: load.summary()[k] for k in ("read", "loaded", "quarantined")}
              for name, load in ws.loads.items()}
    inputs["reps_source"] = rep_source
    inputs["potential_missing_or_negative"] = bad_potential
    inputs["quarantine_files"] = ws.write_quarantine(out_dir)
    return accounts, reps, inputs


def _scores(ws: Workspace, spec_file: SpecFile, day: date, scores_file: str | Path | None, learned: bool,
            learned_components: Any):
    from tierwise.compile.scoring import compile_scores

    engine = ws.engine
    if scores_file is not None:
        path = Path(scores_file)
        if not path.exists():
            raise DataError(f"scores file not found: {path} (write one with tierwise score)")
        raw = pa.Table.from_pandas(pd.read_parquet(path) if path.suffix in (".parquet", ".pq")
                                   else pd.read_csv(path, dtype={"account_id": str, "owner_id": str}),
                                   preserve_index=False)
        need = {"account_id", "tier", "segment", "score"} - set(raw.column_names)
        if need:
            raise DataError(f"{path}: not a tierwise scores file (missing {', '.join(sorted(need))})")
        t = engine.register(raw)
        return t.mutate(account_id=t.account_id.cast("string"))
    components = learned_components(ws, as_of=day) if learned else None
    scores = compile_scores(spec_file, ws.table("accounts"), ws.table("activities"), as_of=day, components=components)
    return engine.materialize(scores)


def _deal_figures(ws: Workspace):
    """Per account: won amount and deals (decided deals), open pipeline; None without opportunities."""
    from tierwise.compile.features import closed_deals

    opps = ws.table("opportunities")
    if opps is None:
        return None
    deals = closed_deals(opps)
    won = deals.filter(deals.won)
    per = won.group_by("account_id").aggregate(won_amount=won.amount.sum().cast("float64").fill_null(0.0),
                                               won_deals=won.count())
    closed = deals.select(_key=deals.key)
    open_ = opps.anti_join(closed, opps.opportunity_id == closed._key)
    op = open_.group_by("account_id").aggregate(open_pipeline=open_.amount.sum().cast("float64").fill_null(0.0))
    return per, op


def _reps(engine: Engine, ws: Workspace, spec_file: SpecFile, cfg: TerritoriesSpec,
          reps_file: str | Path | None) -> tuple[pd.DataFrame, str]:
    cols = ["rep_id", "name", "role", "region", "capacity", "active", "specialisation"]
    frames = []
    source = "none"
    if reps_file is not None:
        path = Path(reps_file)
        if not path.exists():
            raise DataError(f"reps file not found: {path}")
        load = load_table(engine, "reps", SourceSpec(path=str(path)), path)
        ws.loads["reps"] = load
        source = str(path)
    else:
        load = ws.loads.get("reps")
        if load is not None:
            source = "data.reps"
    if load is not None:
        t = load.clean
        frame = engine.to_arrow(t.select(*[c for c in cols if c in t.columns])).to_pandas()
        frames.append(frame)
    if cfg.reps:
        inline = pd.DataFrame([r.model_dump() for r in cfg.reps])
        frames.append(inline)
        source = "territories.reps" if source == "none" else f"{source} + territories.reps"
    if not frames:
        raise TierwiseError("no reps: add data.reps (a reps export: rep_id, role, region, capacity, active), "
                            "territories.reps in the spec, or pass --reps FILE")
    reps = pd.concat([f.reindex(columns=cols) for f in frames], ignore_index=True)
    reps["rep_id"] = reps["rep_id"].astype(str).str.strip()
    reps = reps.drop_duplicates("rep_id", keep="last").reset_index(drop=True)  # the spec's rep wins
    reps["active"] = reps["active"].astype(object).where(reps["active"].notna(), True).astype(bool)
    return reps, source


def _read_scenarios(path: Path, spec_file: SpecFile) -> list[TerritoryScenario]:
    import yaml
    from pydantic import ValidationError

    if not path.exists():
        raise TierwiseError(f"scenarios file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TierwiseError(f"{path}: invalid YAML: {exc}") from None
    items = data.get("scenarios") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise TierwiseError(f"{path}: expected a 'scenarios:' list of named scenarios")
    out = []
    tiers = {t.name for t in spec_file.spec.tiers}
    for i, raw in enumerate(items):
        try:
            scen = TerritoryScenario.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            raise TierwiseError(f"{path}: scenarios[{i}]{'.' + where if where else ''}: {err['msg']}") from None
        unknown = [t for t in scen.coverage if t not in tiers]
        if unknown:
            raise TierwiseError(f"{path}: scenario '{scen.name}': coverage names unknown tier '{unknown[0]}'")
        out.append(scen)
    return out


# --------------------------------------------------------------------------- planning


def resolve_coverage(spec_file: SpecFile, cfg: TerritoriesSpec) -> dict[str, dict[str, Any]]:
    """Per tier: role ('segment' or a role, None: not covered), (min, max) per rep and workload per account."""
    out: dict[str, dict[str, Any]] = {}
    for tier in spec_file.spec.tiers:
        cov = cfg.coverage.get(tier.name)
        if cov is None or cov.role is None:
            out[tier.name] = {"role": None, "per_rep": None, "workload": 0.0}
            continue
        per_rep = cov.accounts_per_rep or tier.accounts_per_rep
        if cov.workload is not None:
            workload = cov.workload
        elif per_rep is not None and sum(per_rep) > 0:
            workload = 2.0 / (per_rep[0] + per_rep[1])
        elif cov.pooled_per_rep:
            workload = 1.0 / cov.pooled_per_rep
        else:
            workload = 1.0
        out[tier.name] = {"role": cov.role, "per_rep": tuple(per_rep) if per_rep else None, "workload": workload}
    return out


def _coverage_frame(accounts: pd.DataFrame, spec_file: SpecFile, cfg: TerritoriesSpec) -> pd.DataFrame:
    """The accounts with the role that covers each, its workload, and whether it is planned (and why not)."""
    cov = resolve_coverage(spec_file, cfg)
    spec = spec_file.spec
    owner_role = {s.name: s.owner_role for s in [*spec.segments.rules, spec.segments.default]}
    tier_role = accounts["tier"].map({k: v["role"] for k, v in cov.items()})
    seg_role = accounts["segment"].map(owner_role).where(lambda s: s.notna(), cfg.default_role)
    role = np.where(tier_role == "segment", seg_role, tier_role)
    out = accounts.copy()
    out["role"] = pd.Series(role, index=accounts.index).astype(object).where(lambda s: s.notna(), None)
    out["workload"] = accounts["tier"].map({k: v["workload"] for k, v in cov.items()}).fillna(0.0).astype(float)
    not_covered = tier_role.isna()
    no_role = ~not_covered & out["role"].isna()
    out["planned"] = ~(not_covered | no_role)
    out["not_planned_why"] = np.where(not_covered, "tier " + accounts["tier"].astype(str) + ": no rep coverage",
                                      np.where(no_role, "segment " + accounts["segment"].astype(str)
                                               + " has no owner_role (set it, or territories.default_role)", ""))
    return out


def _planner(cfg: TerritoriesSpec, spec_file: SpecFile, planned: int) -> TerritoryPlanner:
    cov = resolve_coverage(spec_file, cfg)
    max_moves = cfg.moves.max_moves
    if cfg.moves.max_share is not None:
        share_cap = int(np.floor(cfg.moves.max_share * planned))
        max_moves = share_cap if max_moves is None else min(max_moves, share_cap)
    return TerritoryPlanner(
        tolerance=cfg.balance.tolerance,
        tier_limits={t: v["per_rep"] for t, v in cov.items() if v["per_rep"] is not None},
        role_limits={name: r.max_accounts for name, r in cfg.roles.items()},
        match_region=cfg.match_region,
        move_penalty=cfg.moves.penalty,
        protected_tiers=tuple(cfg.moves.keep_tiers),
        protected_move_penalty=cfg.moves.keep_penalty,
        band_penalty=cfg.balance.band_penalty,
        workload_weight=cfg.balance.workload_weight,
        max_moves=max_moves,
        time_limit=cfg.solver.time_limit_s,
        mip_gap=cfg.solver.mip_gap,
        n_jobs=cfg.solver.threads,
    )


def _plan(name: str, accounts: pd.DataFrame, reps: pd.DataFrame, cfg: TerritoriesSpec, spec_file: SpecFile,
          description: str = "") -> PlanOutcome:
    frame = _coverage_frame(accounts, spec_file, cfg)
    planned = frame[frame["planned"]]
    planner = _planner(cfg, spec_file, len(planned)).fit(
        planned[["account_id", "owner_id", "tier", "role", "region", "potential", "workload", "industry",
                 "segment"]], reps)
    return PlanOutcome(name, planner, frame, plan_metrics(planner, frame, cfg), description)


def _apply_scenario(scen: TerritoryScenario, cfg: TerritoriesSpec,
                    reps: pd.DataFrame) -> tuple[TerritoriesSpec, pd.DataFrame]:
    """The base inputs with the scenario's changes."""
    out = reps.copy()
    unknown = [r for r in [*scen.remove_reps, *scen.capacity] if r not in set(out["rep_id"])]
    if unknown:
        raise TierwiseError(f"scenario '{scen.name}': unknown rep '{unknown[0]}'")
    if scen.remove_reps:  # leaving: inactive, so their accounts move and say why
        out.loc[out["rep_id"].isin(scen.remove_reps), "active"] = False
    if scen.add_reps:
        clash = [r.rep_id for r in scen.add_reps if r.rep_id in set(out["rep_id"])]
        if clash:
            raise TierwiseError(f"scenario '{scen.name}': rep '{clash[0]}' already exists")
        out = pd.concat([out, pd.DataFrame([r.model_dump() for r in scen.add_reps]).reindex(columns=out.columns)],
                        ignore_index=True)
    if scen.capacity_factor is not None:
        cap = pd.to_numeric(out["capacity"], errors="coerce")
        out["capacity"] = np.floor(cap * scen.capacity_factor)
    for rep_id, cap in scen.capacity.items():
        out.loc[out["rep_id"] == rep_id, "capacity"] = cap
    update: dict[str, Any] = {}
    if scen.roles:
        update["roles"] = {**cfg.roles, **{k: TerritoryRole.model_validate(v.model_dump())
                                           for k, v in scen.roles.items()}}
    if scen.coverage:
        update["coverage"] = {**cfg.coverage, **{k: TierCoverage.model_validate(v.model_dump())
                                                 for k, v in scen.coverage.items()}}
    if scen.tolerance is not None:
        update["balance"] = cfg.balance.model_copy(update={"tolerance": scen.tolerance})
    if scen.max_moves is not None:
        update["moves"] = cfg.moves.model_copy(update={"max_moves": scen.max_moves})
    return cfg.model_copy(update=update), out.reset_index(drop=True)


# --------------------------------------------------------------------------- metrics


def plan_metrics(planner: TerritoryPlanner, frame: pd.DataFrame, cfg: TerritoriesSpec) -> dict[str, Any]:
    """The figures a plan is judged by (before and after), for the summary and the side-by-side comparison."""
    plan, reps, spread = planner.plan_, planner.reps_, planner.spread_
    tol = cfg.balance.tolerance
    active = reps[reps["active"] & reps["in_scope"]]
    change = plan["change"].value_counts().to_dict()
    why = plan.loc[plan["why"] != "", "why"].value_counts().to_dict()
    forced_codes = {"no_owner", "unknown_owner", "owner_inactive", "owner_role", "owner_region",
                    "owner_specialisation"}
    moved = plan["change"] == "moved"
    forced = int((moved & plan["why"].isin(forced_codes)).sum())

    def dev(metric: str, label: str) -> float:
        col = f"{metric}_dev_{label}"
        return round(float(active[col].abs().max()), 6) if len(active) else 0.0

    def out_of_band(label: str) -> int:
        return int(((active[f"potential_dev_{label}"].abs() > tol + 1e-9)
                    | (active[f"workload_dev_{label}"].abs() > tol + 1e-9)).sum())

    cells = planner.cells_
    cell_dev = {m: round(max([c.get(f"{m}_max_dev", 0.0) for c in cells] or [0.0]), 6)
                for m in ("potential", "workload")}
    return {
        "reps": {"total": int(len(reps)), "active": int(len(active)),
                 "inactive_with_accounts": int(((~reps["active"]) & (reps["accounts_before"] > 0)).sum())},
        "accounts": {"total": int(len(frame)), "planned": int(frame["planned"].sum()),
                     "not_covered": int((~frame["planned"]).sum()),
                     "not_covered_by_reason": frame.loc[~frame["planned"], "not_planned_why"].value_counts()
                     .to_dict()},
        "moves": {"total": int(moved.sum()), "forced": forced, "discretionary": int(moved.sum()) - forced,
                  "assigned_unowned": int(change.get("assigned", 0)), "kept": int(change.get("kept", 0)),
                  "by_reason": {k: int(v) for k, v in sorted(why.items())}},
        "uncovered": int(change.get("uncovered", 0)),
        "max_deviation": {m: {"before": dev(m, "before"), "after": dev(m, "after")}
                          for m in ("potential", "workload")},
        "max_deviation_within_region": cell_dev,
        "cv": {m: {"before": round(float(spread.loc[spread.metric == m, "cv_before"].max()), 6) if len(spread)
                   else 0.0, "after": round(float(spread.loc[spread.metric == m, "cv_after"].max()), 6)
                   if len(spread) else 0.0} for m in ("potential", "workload")},
        "reps_out_of_band": {"before": out_of_band("before"), "after": out_of_band("after")},
        "overloaded": {label: sorted(active.loc[active[f"status_{label}"].isin(["overloaded", "over capacity"]),
                                                "rep_id"].tolist()) for label in ("before", "after")},
        "starved": {label: sorted(active.loc[active[f"status_{label}"] == "starved", "rep_id"].tolist())
                    for label in ("before", "after")},
        "solver": {"status": planner.status_, "objective": round(planner.objective_, 4),
                   "bound": round(planner.bound_, 4), "gap": round(planner.gap_, 6), "seconds": planner.seconds_,
                   "cells": len(cells),
                   "methods": pd.Series([c.get("method") for c in cells]).value_counts().to_dict()},
        "shortfall": [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                      for row in planner.shortfall_[planner.shortfall_["shortfall"] > 0].to_dict("records")],
    }


def _shortfall_lines(planner: TerritoryPlanner) -> list[str]:
    """Capacity below demand, by role and region (and by tier where a per-rep tier limit binds), in plain words."""
    sf = planner.shortfall_
    lines = []
    for row in sf[sf["shortfall"] > 0].itertuples(index=False):
        where = f"{row.role}" + (f" in {row.region}" if isinstance(row.region, str) else "")
        tier = row.tier if isinstance(row.tier, str) else None
        if row.reps == 0:
            if tier is None:
                lines.append(f"{where}: {row.accounts:,} accounts and no active rep (short {row.accounts:,})")
        elif tier is None:
            lines.append(f"{where}: {row.accounts:,} accounts, {row.reps} reps can own {row.capacity:,.0f} "
                         f"(short {row.shortfall:,.0f})")
        else:
            lines.append(f"{where}: {row.accounts:,} tier {tier} accounts, {row.reps} reps can own "
                         f"{row.capacity:,.0f} of them (short {row.shortfall:,.0f})")
    return lines


def staffing(planner: TerritoryPlanner) -> list[dict[str, Any]]:
    """Per role and region: reps, potential per rep against the role's mean, and the reps the region's
    potential would need at the role's mean (the imbalance no reassignment within regions can remove)."""
    out = []
    means: dict[str, float] = {}
    for c in planner.cells_:
        if c.get("reps"):
            means.setdefault(c["role"], 0.0)
    reps = planner.reps_[planner.reps_["active"] & planner.reps_["in_scope"]]
    for role, grp in reps.groupby("role"):
        means[role] = float(grp["potential_after"].mean())
    for c in planner.cells_:
        mean = means.get(c["role"], 0.0)
        total = (c.get("potential_per_rep") or 0.0) * c["reps"]
        if not c["reps"]:
            pot = planner.plan_
            sel = (pot["role"] == c["role"]) & ((pot["region"] == c["region"]) if c["region"] is not None else True)
            total = float(pot.loc[sel, "potential"].sum())
        need = total / mean if mean > 0 else None
        out.append({"role": c["role"], "region": c["region"], "reps": c["reps"], "accounts": c["accounts"],
                    "potential_vs_role": c.get("potential_vs_role"),
                    "reps_at_role_mean": None if need is None else round(need, 2)})
    return out


# --------------------------------------------------------------------------- outputs


def _plan_table(outcome: PlanOutcome) -> pd.DataFrame:
    """Every account: the planned ones from the planner, the others kept as they are with why."""
    frame = outcome.accounts
    plan = outcome.planner.plan_.drop(columns=["tier", "role", "region", "potential", "workload"])
    out = frame[["account_id", "account_name", "tier", "segment", "role", "region", "score", "potential",
                 "workload", "owner_id"]].merge(plan, on="account_id", how="left")
    unplanned = out["change"].isna()
    out.loc[unplanned, "owner_before"] = out.loc[unplanned, "owner_id"]
    out.loc[unplanned, "owner_after"] = out.loc[unplanned, "owner_id"]
    out.loc[unplanned, "moved"] = False
    out.loc[unplanned, "change"] = "not_covered"
    out.loc[unplanned, "why"] = "not_covered"
    out.loc[unplanned, "reason"] = frame.loc[unplanned.to_numpy(), "not_planned_why"].to_numpy()
    out["moved"] = out["moved"].astype(bool)
    out = out.drop(columns=["owner_id"])
    cols = ["account_id", "account_name", "tier", "segment", "role", "region", "score", "potential", "workload",
            "owner_before", "owner_after", "change", "moved", "why", "reason"]
    return out[cols].sort_values("account_id", kind="stable").reset_index(drop=True)


def _write(out: Path, plans: dict[str, PlanOutcome], spec_file: SpecFile) -> dict[str, str]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from tierwise.engine.base import atomic_path

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def write(frame: pd.DataFrame, path: Path, parquet: bool = False) -> str:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with atomic_path(path) as tmp:
            if parquet:
                pq.write_table(table, tmp)
            else:
                pacsv.write_csv(table, tmp)
        return str(path)

    base = plans[BASE]
    plan = _plan_table(base)
    files["plan_parquet"] = write(plan, out / "plan.parquet", parquet=True)
    files["plan_csv"] = write(plan, out / "plan.csv")
    files["moves"] = write(plan[plan["change"].isin(["moved", "assigned", "uncovered"])], out / "moves.csv")
    files["reps"] = write(_reps_table(base), out / "reps.csv")
    files["shortfall"] = write(base.planner.shortfall_, out / "shortfall.csv")
    files["scenarios"] = write(scenario_table(plans), out / "scenarios.csv")
    for name, outcome in plans.items():
        if name == BASE:
            continue
        folder = out / "scenarios" / name
        folder.mkdir(parents=True, exist_ok=True)
        p = _plan_table(outcome)
        files[f"scenario_{name}_moves"] = write(p[p["change"].isin(["moved", "assigned", "uncovered"])],
                                                folder / "moves.csv")
        files[f"scenario_{name}_reps"] = write(_reps_table(outcome), folder / "reps.csv")
    return files


def _reps_table(outcome: PlanOutcome) -> pd.DataFrame:
    reps = outcome.planner.reps_.copy()
    for col in ("potential_before", "potential_after"):
        reps[col] = reps[col].round(2)
    for col in ("workload_before", "workload_after"):
        reps[col] = reps[col].round(4)
    for col in [c for c in reps.columns if "_dev_" in c]:
        reps[col] = reps[col].round(4)
    return reps.sort_values(["role", "region", "rep_id"], kind="stable", na_position="last").reset_index(drop=True)


def scenario_table(plans: dict[str, PlanOutcome]) -> pd.DataFrame:
    """The plans side by side: one row per plan."""
    rows = []
    for name, o in plans.items():
        m = o.metrics
        rows.append({
            "plan": name,
            "description": o.description,
            "active_reps": m["reps"]["active"],
            "planned_accounts": m["accounts"]["planned"],
            "uncovered": m["uncovered"],
            "moves": m["moves"]["total"],
            "forced_moves": m["moves"]["forced"],
            "discretionary_moves": m["moves"]["discretionary"],
            "max_dev_potential": m["max_deviation"]["potential"]["after"],
            "max_dev_workload": m["max_deviation"]["workload"]["after"],
            "max_dev_potential_within_region": m["max_deviation_within_region"]["potential"],
            "cv_potential": m["cv"]["potential"]["after"],
            "cv_workload": m["cv"]["workload"]["after"],
            "reps_out_of_band": m["reps_out_of_band"]["after"],
            "overloaded": len(m["overloaded"]["after"]),
            "starved": len(m["starved"]["after"]),
            "gap": m["solver"]["gap"],
            "status": m["solver"]["status"],
            "seconds": m["solver"]["seconds"],
        })
    return pd.DataFrame(rows)


def _summary(spec_file: SpecFile, cfg: TerritoriesSpec, day: date, inputs: dict[str, Any],
             plans: dict[str, PlanOutcome], shortfall: list[str]) -> dict[str, Any]:
    base = plans[BASE]
    planner = base.planner
    spread = planner.spread_.round(6).to_dict("records")
    cov = resolve_coverage(spec_file, cfg)
    return {
        "spec": spec_file.spec.name,
        "spec_hash": spec_file.spec.fingerprint(),
        "as_of": day.isoformat(),
        "inputs": inputs,
        "settings": {
            "potential": cfg.potential, "region_field": cfg.region_field, "match_region": cfg.match_region,
            "tolerance": cfg.balance.tolerance, "keep_tiers": cfg.moves.keep_tiers,
            "max_moves": planner.max_moves, "coverage": {k: {**v, "per_rep": list(v["per_rep"]) if v["per_rep"]
                                                             else None} for k, v in cov.items()},
            "roles": {k: r.max_accounts for k, r in cfg.roles.items()},
        },
        "plan": base.metrics,
        "spread": spread,
        "cells": planner.cells_,
        "shortfall_explained": shortfall,
        "staffing": staffing(planner),
        "scenarios": scenario_table(plans).to_dict("records"),
    }


def _commit(out: Path, chosen: PlanOutcome, spec_file: SpecFile, cfg: TerritoriesSpec, day: date,
            summary: dict[str, Any]) -> dict[str, str]:
    """The CRM upsert file (account id, new owner) and a JSON record of the plan in the history folder."""
    plan = _plan_table(chosen)
    changed = plan[plan["change"].isin(["moved", "assigned"])]
    source = spec_file.spec.data.accounts
    id_col, owner_col = UPSERT_HEADERS.get(source.preset, UPSERT_HEADERS["canonical"])
    id_col = source.columns.get("account_id", id_col)
    owner_col = source.columns.get("owner_id", owner_col)
    upsert = pd.DataFrame({id_col: changed["account_id"].to_numpy(), owner_col: changed["owner_after"].to_numpy()})
    lines = [",".join(_csv_cell(c) for c in upsert.columns)]
    lines += [f"{_csv_cell(a)},{_csv_cell(o)}" for a, o in upsert.itertuples(index=False)]
    upsert_path = write_text_atomic(out / "crm_upsert.csv", "\n".join(lines) + "\n")
    assignments = changed[["account_id", "owner_before", "owner_after", "why"]]
    payload = {
        "committed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "plan": chosen.name,
        "spec": spec_file.spec.name,
        "spec_hash": spec_file.spec.fingerprint(),
        "as_of": day.isoformat(),
        "metrics": chosen.metrics,
        "changes": [{k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v) for k, v in r.items()}
                    for r in assignments.to_dict("records")],
        "upsert_file": str(upsert_path),
    }
    digest = hashlib.sha256(json.dumps(payload["changes"], sort_keys=True).encode()).hexdigest()[:10]
    history = spec_file.resolve(cfg.history)
    record = history / f"plan-{day.isoformat()}-{chosen.name}-{digest}.json"
    write_json(record, payload)
    return {"crm_upsert": str(upsert_path), "plan_record": str(record)}


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if any(ch in text for ch in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def history_plans(spec: str | Path | SpecFile) -> list[Path]:
    """The committed plan records of a workspace, oldest first."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    cfg = spec_file.spec.territories or TerritoriesSpec()
    folder = spec_file.resolve(cfg.history)
    return sorted(folder.glob("plan-*.json")) if folder.exists() else []


__all__ = ["TerritoryCapacityError", "TerritoryResult", "PlanOutcome", "history_plans", "plan_metrics",
           "resolve_coverage", "scenario_table", "territories", "TerritoryRep"]
