"""The dashboard: server-rendered pages (Jinja2, inline-SVG charts) over the scored accounts, mounted on the API.

Pages (no bearer token; see docs/dashboard.md): ``/`` overview, ``/accounts`` the list (search, filters,
pagination — all in the engine), ``/accounts/{id}`` one account, ``/views/{key}`` segment performance,
pipeline health, the ICP document, territory balance, RFM and the maturity assessment, each drawn from the
outputs of its command (:mod:`tierwise.web.views`) or an empty state naming the command.

:func:`render_static` renders the **same templates** into one self-contained HTML file (no script, no
stylesheet or font to fetch, no network): ``tierwise report SPEC --html FILE`` writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from tierwise.web import charts
from tierwise.web.data import (
    GUARDRAIL_MAX_SEGMENTS,
    GUARDRAIL_MAX_SHARE,
    GUARDRAIL_MIN_SHARE,
    PAGE_SIZES,
    DashboardData,
    Filters,
    run_changes,
    spec_context,
)
from tierwise.web.format import human_number, percent, score, signed_percent
from tierwise.web.views import OUTPUT_VIEWS, VIEWS_BY_KEY, OutputView

_env: Environment | None = None


def environment() -> Environment:
    global _env
    if _env is None:
        env = Environment(loader=PackageLoader("tierwise.web", "templates"),
                          autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        env.filters.update(human=human_number, pct=percent, score=score, signed_pct=signed_percent,
                           tier_colour=charts.tier_colour, bar_row=_bar_row, column=_column, lift_row=_lift_row,
                           rep_row=_rep_row, move_row=_move_row)
        env.globals.update(charts=charts, views=OUTPUT_VIEWS, guardrail_min=GUARDRAIL_MIN_SHARE,
                           guardrail_max=GUARDRAIL_MAX_SHARE, guardrail_segments=GUARDRAIL_MAX_SEGMENTS,
                           pct_fn=percent, lift_fn=_lift, radar_axes=_radar_axes)
        _env = env
    return _env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


# -- chart rows from the views' data (template filters) ----------------------------------------------


def _bar_row(r: dict[str, Any], name: str, value: str, by_tier: bool = False) -> dict[str, Any]:
    """A row of a report table as a bar: the value, its 95% interval when the row has one, the tier colour."""
    return {"name": "unassigned" if r[name] is None else r[name], "value": r.get(value), "low": r.get("ci_low"), "high": r.get("ci_high"),
            "colour": charts.tier_colour(r[name]) if by_tier else None}


def _column(r: dict[str, Any], name: str, value: str, flag: str) -> dict[str, Any]:
    return {"name": r[name], "value": r.get(value) or 0, "flag": bool(r.get(flag))}


def _lift(v: float) -> str:
    return f"{v:.2f}×"


def _lift_row(a: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"{a['attribute']} = {a['value']}", "value": a["lift"],
            "colour": charts.BAR if a["lift"] >= 1 else charts.WARN,
            "note": f"win rate {percent(a['win_rate'])}, {human_number(a['support'])} deals"}


def _rep_row(r: dict[str, Any]) -> dict[str, Any]:
    off = r["status_after"] not in ("ok", "")
    return {"name": f"{r['rep_id']} · {r['role']} {r['region']}", "value": r["potential_after"],
            "colour": charts.WARN if off else charts.BAR,
            "note": f"{signed_percent(r['potential_dev_after'])} vs role mean, {r['accounts_after']} accounts"}


def _move_row(t: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"{t['from']} → {t['to']}", "value": t["customers"],
            "colour": charts.WARN if t["to"] in ("At-Risk", "Lost", "Hibernating", "Cannot Lose Them") else None}


def _radar_axes(d: dict[str, Any]) -> list[dict[str, Any]]:
    """One axis per dimension: the team's answer (``value``) and the evidence's suggestion (``second``)."""
    from tierwise.reports.assessment import DIMENSIONS

    answered = ((d.get("assessment") or {}).get("scores")) or {}
    found = ((d.get("evidence") or {}).get("dimensions")) or {}
    axes = []
    for dim in DIMENSIONS:
        a = answered.get(dim.key)
        e = (found.get(dim.key) or {}).get("suggested")
        axes.append({"key": dim.key, "name": dim.name, "answered": a, "suggested": e,
                     "evidence": (found.get(dim.key) or {}).get("evidence") or [],
                     "value": a if answered else e, "second": e if answered else None})
    return axes


def view_context(view: OutputView, base_dir: Path, spec_path: str,
                 data: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a view's template needs: its data (``data``, else loaded from the workspace) and its command."""
    return {"view": view, "d": data if data is not None else view.load(base_dir),
            "command": view.command.format(spec=spec_path, dir=str(base_dir))}


class Dashboard:
    """The dashboard's state: the spec, the scored accounts and what changed since the previous run."""

    def __init__(self, spec_file: Any, data: DashboardData, *, as_of: date | None = None,
                 account_detail: Callable[[str], dict[str, Any] | None] | None = None):
        self.spec_file = spec_file
        self.data = data
        self.as_of = as_of
        self.account_detail = account_detail
        self.changes = run_changes(spec_file)
        self.base_dir: Path = spec_file.base_dir
        self.spec_name = spec_file.spec.name
        self.spec_path = str(spec_file.path) if spec_file.path else "spec.yaml"

    @classmethod
    def from_service(cls, service: Any) -> Dashboard:
        """Take the accounts the API service scored at start-up into the dashboard's engine."""
        with service._lock:  # the service's connection serves one caller at a time
            table = service.engine.to_arrow(service.scores)
        data = DashboardData(table, **spec_context(service.spec_file))
        return cls(service.spec_file, data, as_of=service.as_of, account_detail=service.account)

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"spec_name": self.spec_name, "spec_path": self.spec_path, "as_of": self.as_of,
                "overview": self.data.overview, "static": False, **extra}

    def available(self) -> dict[str, bool]:
        return {v.key: v.find(self.base_dir) is not None for v in OUTPUT_VIEWS}


def router(dashboard: Dashboard) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    d = dashboard

    @r.get("/", response_class=HTMLResponse)
    def overview() -> str:
        return render("overview.html", **d.context(page="overview", changes=d.changes, available=d.available()))

    @r.get("/accounts", response_class=HTMLResponse)
    def accounts(q: Annotated[str, Query(max_length=200)] = "", tier: str = "", segment: str = "",
                 owner: str = "", min_score: Annotated[str, Query(max_length=20)] = "",
                 max_score: Annotated[str, Query(max_length=20)] = "",
                 page: Annotated[int, Query(ge=1)] = 1, per_page: int = 50) -> str:
        problems = []
        low, high = _number(min_score, "minimum score", problems), _number(max_score, "maximum score", problems)
        filters = Filters(q=q, tier=tier, segment=segment, owner=owner, min_score=low, max_score=high, page=page,
                          per_page=per_page if per_page in PAGE_SIZES else 50)
        result = d.data.accounts(filters)
        return render("accounts.html", **d.context(page="accounts", result=result, filters=filters,
                                                    problems=problems, tiers=d.data.tier_names,
                                                    segments=d.data.segment_names, owners=d.data.owners,
                                                    page_sizes=PAGE_SIZES))

    @r.get("/accounts/{account_id}", response_class=HTMLResponse)
    def account(account_id: str) -> HTMLResponse:
        row = d.data.account(account_id)
        if row is None:
            return HTMLResponse(render("missing.html", **d.context(page="accounts", account_id=account_id)),
                                status_code=404)
        detail = d.account_detail(account_id) if d.account_detail else None
        s = d.spec_file.spec
        weights = [("Fit", row.get("fit_score"), s.fit.weight), ("Signals", row.get("signal_score"), s.signals.weight),
                   ("Engagement", row.get("engagement_score"), s.engagement.weight)]
        bars = [(f"{name} ({weight:g}%)", value) for name, value, weight in weights]
        return HTMLResponse(render("account.html", **d.context(page="accounts", a=row, detail=detail,
                                                               weights=weights, bars=bars)))

    @r.get("/views/{key}", response_class=HTMLResponse)
    def view(key: str) -> HTMLResponse:
        v = VIEWS_BY_KEY.get(key)
        if v is None:
            raise HTTPException(404, f"no view '{key}'")
        # read per request: a report run while the server is up shows on the next reload
        return HTMLResponse(render("view.html", **d.context(page=key, **view_context(v, d.base_dir, d.spec_path))))

    return r


def _number(text: str, name: str, problems: list[str]) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        problems.append(f"{name} '{text}' is not a number; ignored")
        return None


def mount(app: Any, service: Any) -> Dashboard:
    """Add the dashboard pages to the API app (``create_app``), over the accounts ``service`` scored."""
    dashboard = Dashboard.from_service(service)
    app.include_router(router(dashboard))
    app.state.dashboard = dashboard
    return dashboard


# --------------------------------------------------------------------------- the static report


def render_view(key: str, data: dict[str, Any] | None, *, spec_path: str = "spec.yaml", base_dir: Path = Path("."),
                static: bool = True) -> str:
    """One view's HTML fragment (what its dashboard page and the static report show) from its data.

    >>> "tierwise rfm spec.yaml" in render_view("rfm", None)   # no data: the empty state names the command
    True
    """
    view = VIEWS_BY_KEY[key]
    return render("_view.html", static=static, spec_path=spec_path, view=view, d=data,
                  command=view.command.format(spec=spec_path, dir=str(base_dir)))


def render_static(spec_file: Any, data: DashboardData, *, as_of: date | None = None, top_n: int = 100,
                  payloads: dict[str, dict[str, Any]] | None = None) -> str:
    """Every dashboard view as one self-contained HTML page (no script, no network): the overview, the top
    ``top_n`` accounts and each workspace view — from ``payloads[key]`` when given (``tierwise report`` passes
    the report it just computed), else from the workspace's outputs, else its empty state."""
    base = spec_file.base_dir
    spec_path = str(spec_file.path or "spec.yaml")
    sections = [view_context(v, base, spec_path, (payloads or {}).get(v.key)) for v in OUTPUT_VIEWS]
    return render("static.html", spec_name=spec_file.spec.name, spec_path=spec_path, as_of=as_of,
                  overview=data.overview, static=True, page="static", changes=run_changes(spec_file),
                  top=data.top(top_n), top_n=top_n, sections=sections)


def write_static(spec: str | Path | Any, html: str | Path, *, as_of: date | None = None,
                 engine_url: str | None = None, top_n: int = 100, payloads: dict[str, dict[str, Any]] | None = None,
                 scores_file: str | Path | None = None, progress: Any = None) -> Path:
    """Score the workspace (or read ``scores_file``, a ``scores.parquet`` of ``tierwise score``) and write the
    static report to ``html`` atomically; returns the path.

    >>> write_static("demo-workspace/spec.yaml", "report.html")   # doctest: +SKIP
    PosixPath('report.html')
    """
    from tierwise.engine.base import write_text_atomic
    from tierwise.spec.loader import SpecFile, load_spec
    from tierwise.web.data import score_table

    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    if scores_file is not None:  # already scored (the demo): no second scoring pass
        import pyarrow.parquet as pq

        table, day = pq.read_table(scores_file), as_of or spec_file.spec.as_of
    else:
        table, day = score_table(spec_file, as_of=as_of, engine_url=engine_url, progress=progress)
    data = DashboardData(table, **spec_context(spec_file))
    try:
        text = render_static(spec_file, data, as_of=day, top_n=top_n, payloads=payloads)
    finally:
        data.close()
    return write_text_atomic(Path(html), text)
