"""``tierwise model train | score | evaluate`` as library functions.

Training builds one row per closed deal with the features known when the deal
was created (:mod:`tierwise.compile.features`), runs the leakage guard,
evaluates on the latest deals held out by time, then refits on every deal and
saves the model with its metadata next to the spec. Scoring builds the same
features for every account as of the scoring date.

Examples
--------
>>> from tierwise.jobs.model import train, score_accounts
>>> trained = train("demo-workspace/spec.yaml")                      # doctest: +SKIP
>>> trained.metrics["auc"] > 0.6                                      # doctest: +SKIP
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tierwise import __version__
from tierwise.engine import Engine, connect, write_text_atomic
from tierwise.errors import DataError
from tierwise.jobs import learning
from tierwise.jobs.tables import read_outcome_table
from tierwise.jobs.workspace import Workspace, load_workspace, resolve_as_of, write_json
from tierwise.models.evaluation import cross_validate, evaluate
from tierwise.models.frame import list_items, model_matrix
from tierwise.models.leakage import LeakageGuard
from tierwise.models.propensity import PropensityModel
from tierwise.progress import NULL_PROGRESS, Progress
from tierwise.reports import model as model_report
from tierwise.spec.loader import SpecFile, load_spec

#: Fewest deals on each side of the time split.
MIN_TRAIN, MIN_HOLDOUT = 50, 20
#: Accounts (highest propensity first) whose reasons are worded: per-feature contributions cost about
#: a millisecond per account, so a million accounts would take a quarter of an hour for reasons no one reads.
EXPLAIN_TOP = 50_000


@dataclass
class TrainResult:
    model_dir: Path
    files: dict[str, str]
    metrics: dict[str, Any]
    metadata: dict[str, Any]


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | date):
        return value.isoformat()
    return value


def _feature_kinds(frame: pd.DataFrame, data: learning.LearningData) -> dict[str, str]:
    """Attributes with their kinds, then every engineered (numeric) feature column."""
    kinds = dict(data.kinds)
    for col in frame.columns:
        if col not in kinds and col not in learning.OUTCOME_COLUMNS:
            kinds[col] = "numeric"
    return kinds


def model_dir(spec_file: SpecFile) -> Path:
    return spec_file.resolve(spec_file.spec.propensity.path)


def _timestamp_columns(spec_file: SpecFile, ws: Workspace) -> dict[str, str]:
    """``propensity.timestamps`` (attribute -> its timestamp column), checked against the accounts table."""
    stamps = dict(spec_file.spec.propensity.timestamps)
    columns = ws.table("accounts").columns
    missing = [f"{attr} -> {col}" for attr, col in stamps.items() if attr not in columns or col not in columns]
    if missing:
        raise DataError(f"{spec_file.path}: propensity.timestamps names account columns that are not loaded: "
                        f"{', '.join(missing)}; list them under data.accounts.attributes (the timestamp as "
                        "'timestamp')")
    return stamps


def _check_classes(y: np.ndarray, where: str, what: str) -> None:
    n, won = len(y), int(y.sum())
    if n == 0:
        raise DataError(f"{where}: no {what} to learn from")
    if won == 0 or won == n:
        raise DataError(f"{where}: all {n} {what} are {'won' if won else 'lost'}; a propensity model needs both "
                        "won and lost outcomes")


def _time_split(frame: pd.DataFrame, share: float, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Earlier deals to train, the latest ``share`` (by creation date) to evaluate.

    A training deal must also be decided before the first held-out deal was
    created: otherwise the model would learn results unknown at that moment.
    """
    created = pd.to_datetime(frame["cutoff"]).to_numpy()
    order = np.lexsort((frame["key"].to_numpy(), created))
    n_hold = int(round(len(frame) * share))
    train_idx, hold_idx = order[: len(order) - n_hold], order[len(order) - n_hold:]
    if len(hold_idx):
        start = created[hold_idx].min()
        closed = pd.to_datetime(frame["closed_at"]).to_numpy()[train_idx]
        train_idx = np.sort(train_idx[pd.isna(closed) | (closed < start)])
    y = frame["won"].to_numpy(dtype=bool)
    if len(train_idx) < MIN_TRAIN or len(hold_idx) < MIN_HOLDOUT:
        raise DataError(f"{where}: {len(frame)} closed deals are too few for a time-based split (at least "
                        f"{MIN_TRAIN} to train and {MIN_HOLDOUT} to evaluate with holdout_share {share:g})")
    for part, name in ((train_idx, "training"), (hold_idx, "held-out")):
        if y[part].all() or not y[part].any():
            raise DataError(f"{where}: the {name} deals (split by creation date) are all "
                            f"{'won' if y[part].all() else 'lost'}; need won and lost deals in both periods")
    return train_idx, hold_idx


def train(spec: str | Path | SpecFile, *, as_of: date | None = None, engine_url: str | None = None,
          progress: Progress = NULL_PROGRESS) -> TrainResult:
    """Train, evaluate (time-based holdout) and save the propensity model named in ``propensity.path``."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    settings = spec_file.spec.propensity
    with connect(engine_url or spec_file.spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=("accounts", "opportunities", "activities"),
                            columns={"activities": {"account_id", "event_type", "occurred_at"}}, progress=progress)
        data = learning.prepare(ws, windows=settings.windows_days, as_of=day)
        stamps = _timestamp_columns(spec_file, ws)
        with progress.step(f"building point-in-time features for {data.n_deals:,} deals"):
            frame = learning.deal_frame(ws, data, extra_columns=tuple(stamps.values()))
    where = str(ws.loads["opportunities"].path)
    y = frame["won"].to_numpy(dtype=bool)
    _check_classes(y, where, "closed deals")
    kinds = _feature_kinds(frame.drop(columns=list(stamps.values())), data)
    items = list_items(frame, kinds)
    X = model_matrix(frame, kinds, items)
    check_names(settings.exclude, X.columns, spec_file.path, "propensity.exclude")
    check_names(settings.include, X.columns, spec_file.path, "propensity.include")
    train_idx, hold_idx = _time_split(frame, settings.holdout_share, where)
    with progress.step("checking features for leakage"):
        # fitted on the training deals only: choosing features must not see the held-out outcomes
        timestamps = {col: frame[stamp].iloc[train_idx] for attr, stamp in stamps.items()
                      for col in expanded([attr], X.columns) if col in X.columns}
        guard = LeakageGuard(exclude=tuple(expanded(settings.exclude, X.columns)),
                             include=tuple(expanded(settings.include, X.columns))).fit(
            X.iloc[train_idx], y[train_idx], outcome_time=frame["closed_at"].iloc[train_idx] if timestamps else None,
            timestamps=timestamps or None)
    X = X[list(guard.kept_)]
    cutoff = pd.to_datetime(frame["cutoff"])
    with progress.step(f"evaluating on the latest {len(hold_idx):,} deals"):
        held_model = PropensityModel().fit(X.iloc[train_idx], y[train_idx], time=cutoff.iloc[train_idx])
        p = held_model.predict_proba(X.iloc[hold_idx])[:, 1]
        metrics = evaluate(y[hold_idx], p)
    with progress.step(f"training on all {len(frame):,} deals"):
        final = PropensityModel().fit(X, y, time=cutoff)
    metadata = {
        "kind": "tierwise propensity model",
        "spec": spec_file.spec.name,
        "spec_hash": spec_file.spec.fingerprint(),
        "as_of": day.isoformat(),
        "training_window": {"first_deal_created": cutoff.min().date().isoformat(),
                            "last_deal_created": cutoff.max().date().isoformat()},
        "holdout": {"share": settings.holdout_share, "deals": int(len(hold_idx)),
                    "from": cutoff.iloc[hold_idx].min().date().isoformat()},
        "deals": int(len(frame)), "won": int(y.sum()),
        "attributes": data.kinds, "event_types": data.event_types, "windows_days": data.windows,
        "list_items": items, "features": list(X.columns),
        "leakage": _jsonable(guard.findings_),
        "metrics": _jsonable(metrics),
        "tierwise_version": __version__,
    }
    out = model_dir(spec_file)
    final.save(out, metadata)
    files = {"model": str(out)}
    files["evaluation"] = str(write_json(out / "evaluation.json", _jsonable(metrics)))
    files["report"] = str(write_text_atomic(out / "report.md", model_report.render_markdown(
        _jsonable(metrics), metadata=metadata, title=f"Propensity model: {spec_file.spec.name}")))
    return TrainResult(out, files, _jsonable(metrics), metadata)


# --------------------------------------------------------------------------- scoring


def load_model(spec_file: SpecFile) -> tuple[PropensityModel, dict[str, Any]]:
    path = model_dir(spec_file)
    if not (path / "model.json").is_file():
        raise DataError(f"{spec_file.path}: no trained model at {path} (propensity.path); "
                        f"run `tierwise model train {spec_file.path}` first")
    model = PropensityModel.load(path)
    return model, model.metadata_


def propensity_scores(ws: Workspace, spec_file: SpecFile, *, as_of: date,
                      explain_top: int = EXPLAIN_TOP) -> pd.DataFrame:
    """account_id, propensity (0-100) for every account, from the saved model, and reasons in words
    for the ``explain_top`` accounts with the highest propensity (the others' reasons are empty)."""
    model, meta = load_model(spec_file)
    data = learning.prepare(ws, windows=meta["windows_days"], need_deals=False, as_of=as_of)
    missing = [a for a in meta["attributes"] if a not in data.kinds]
    if missing:
        raise DataError(f"{spec_file.path}: the model was trained with account attributes this workspace lacks: "
                        f"{', '.join(missing)}; retrain with `tierwise model train`")
    data.attributes = [a for a in data.attributes if a.name in meta["attributes"]]
    data.event_types = list(meta["event_types"])
    frame = learning.account_frame(ws, data, as_of=as_of)
    kinds = {**meta["attributes"], **{c: "numeric" for c in frame.columns
                                      if c not in meta["attributes"] and c not in learning.OUTCOME_COLUMNS}}
    X = model_matrix(frame, kinds, meta["list_items"])
    for col in meta["features"]:
        if col not in X.columns:
            X[col] = np.nan
    X = X[meta["features"]]
    out = pd.DataFrame({"account_id": frame["account_id"], "propensity": model.score_0_100(X)})
    ranked = np.lexsort((out["account_id"].to_numpy(), -out["propensity"].to_numpy()))[:explain_top]
    words = [[c.describe() for c in row] for row in model.explain(X.iloc[np.sort(ranked)], top=3)]
    for i in range(3):
        col = np.full(len(out), None, dtype=object)
        col[np.sort(ranked)] = [w[i] if len(w) > i else None for w in words]
        out[f"propensity_reason_{i + 1}"] = col
    return out


def score_accounts(spec: str | Path | SpecFile, out_dir: str | Path, *, as_of: date | None = None,
                   engine_url: str | None = None, progress: Progress = NULL_PROGRESS) -> dict[str, Any]:
    """Write ``propensity.parquet`` and ``propensity.csv``: every account's 0-100 propensity and reasons."""
    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    out = Path(out_dir)
    with connect(engine_url or spec_file.spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=("accounts", "opportunities", "activities"),
                            columns={"activities": {"account_id", "event_type", "occurred_at"}}, progress=progress)
        with progress.step("scoring accounts with the propensity model"):
            scores = propensity_scores(ws, spec_file, as_of=day)
        files = _write_frame(engine, scores, out / "propensity")
    summary = {"as_of": day.isoformat(), "accounts": int(len(scores)),
               "reasons_for": min(len(scores), EXPLAIN_TOP),
               "mean_propensity": round(float(scores["propensity"].mean()), 2) if len(scores) else None,
               "top": scores.sort_values(["propensity", "account_id"], ascending=[False, True]).head(10)
               .to_dict("records")}
    files["summary"] = str(write_json(out / "propensity.json", _jsonable(summary)))
    return {"files": files, "summary": summary}


def _write_frame(engine: Engine, frame: pd.DataFrame, stem: Path) -> dict[str, str]:
    table = engine.register(frame).order_by("account_id")
    return {"parquet": str(engine.write(table, stem.with_suffix(".parquet"), "parquet")),
            "csv": str(engine.write(table, stem.with_suffix(".csv"), "csv"))}


# --------------------------------------------------------------------------- flat tables


def evaluate_table(table: str | Path, out_dir: str | Path, *, outcome: str, won: str,
                   lost: Sequence[str] | None = None, exclude: Sequence[str] = (), include: Sequence[str] = (),
                   na_values: Sequence[str] = (), folds: int = 5,
                   progress: Progress = NULL_PROGRESS) -> dict[str, Any]:
    """Cross-validated propensity evaluation on one flat table (leakage guard first)."""
    with progress.step(f"reading {table}"):
        t = read_outcome_table(table, outcome=outcome, won=won, lost=lost, exclude=exclude, na_values=na_values)
    y = t.frame["won"].to_numpy(dtype=bool)
    _check_classes(y, str(t.path), "records")
    if len(y) < folds * 10 or min(int(y.sum()), int((~y).sum())) < folds:
        raise DataError(f"{t.path}: {len(y)} records ({int(y.sum())} won) are too few for {folds}-fold "
                        f"cross-validation; need at least {folds * 10} records and {folds} of each outcome")
    items = list_items(t.frame, t.kinds)
    X = model_matrix(t.frame, t.kinds, items)
    check_names(include, X.columns, t.path, "--include")
    with progress.step("checking features for leakage"):
        # name, identifier and timestamp checks use no outcome; the AUC checks see every row once,
        # before cross-validation, and only ever remove columns (see docs/icp.md)
        guard = LeakageGuard(include=tuple(expanded(include, X.columns))).fit(X, y)
    X = X[list(guard.kept_)]
    with progress.step(f"{folds}-fold cross-validation on {len(y):,} records"):
        oof, per_fold = cross_validate(PropensityModel, X, y, folds=folds)
        metrics = evaluate(y, oof)
    out = Path(out_dir)
    summary = _jsonable({**metrics, "folds": per_fold, "records": len(y), "won": int(y.sum()),
                         "features": list(X.columns), "leakage": guard.findings_,
                         "excluded": list(guard.excluded_), "inputs": t.summary()})
    files = {"summary": str(write_json(out / "summary.json", summary))}
    files["report"] = str(write_text_atomic(out / "report.md", model_report.render_markdown(
        summary, metadata={"leakage": summary["leakage"], "features": summary["features"]},
        title=f"Propensity evaluation: {Path(table).name}")))
    files["lift"] = str(write_text_atomic(out / "lift_by_decile.csv", pd.DataFrame(summary["lift_by_decile"])
                                          .to_csv(index=False, lineterminator="\n")))
    return {"files": files, "summary": summary}


def check_names(names: Sequence[str], columns: Sequence[str], where: Any, what: str) -> None:
    """Raise :class:`DataError` naming every entry of ``names`` that is no feature (list items count)."""
    unknown = [n for n in names if not any(c == n or c.startswith(f"{n}=") for c in columns)]
    if unknown:
        import difflib

        hints = [f"'{n}'" + (f" (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(n, list(columns), 1))
                             else "") for n in unknown]
        raise DataError(f"{where}: {what} names no feature {', '.join(hints)}; features are: "
                        f"{', '.join(sorted(columns))}")


def expanded(names: Sequence[str], columns: Sequence[str]) -> list[str]:
    """Excluded names, with a list attribute's item columns (``tech_stack=...``) when the list is named."""
    out = []
    for name in names:
        out += [c for c in columns if c == name or c.startswith(f"{name}=") or c == f"{name}_count"] or [name]
    return out
