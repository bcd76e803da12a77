"""The dashboard: server-rendered pages (Jinja2) over the scored accounts, mounted on the API app.

Pages (no bearer token; see docs/dashboard.md): ``/`` overview, ``/accounts`` the list (search, filters,
pagination — all in the engine), ``/accounts/{id}`` one account, ``/views/{key}`` the workspace's report
outputs (segment performance, pipeline, ICP, territories, RFM, assessment) or what to run to make them.
:func:`render_static` writes the same overview, top accounts, segments and distribution as one HTML file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse
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
from tierwise.web.format import human_number, percent, score
from tierwise.web.views import OUTPUT_VIEWS, VIEWS_BY_KEY

_env: Environment | None = None


def environment() -> Environment:
    global _env
    if _env is None:
        env = Environment(loader=PackageLoader("tierwise.web", "templates"),
                          autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        env.filters.update(human=human_number, pct=percent, score=score, tier_colour=charts.tier_colour)
        env.globals.update(charts=charts, views=OUTPUT_VIEWS, guardrail_min=GUARDRAIL_MIN_SHARE,
                           guardrail_max=GUARDRAIL_MAX_SHARE, guardrail_segments=GUARDRAIL_MAX_SEGMENTS)
        _env = env
    return _env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


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
        found = v.find(d.base_dir)
        return HTMLResponse(render("view.html", **d.context(page=key, view=v, found=found,
                                                            command=v.command.format(spec=d.spec_path))))

    @r.get("/views/{key}/file")
    def view_file(key: str) -> FileResponse:
        v = VIEWS_BY_KEY.get(key)
        found = v.find(d.base_dir) if v else None
        if found is None:
            raise HTTPException(404, f"view '{key}' has no output file yet")
        return FileResponse(found, media_type="text/html")

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


def render_static(spec_file: Any, data: DashboardData, *, as_of: date | None = None, top_n: int = 100) -> str:
    """Overview, top accounts, segments and distribution as one self-contained HTML page (no script, no network)."""
    changes = run_changes(spec_file)
    return render("static.html", spec_name=spec_file.spec.name, spec_path=str(spec_file.path or "spec.yaml"),
                  as_of=as_of, overview=data.overview, static=True, changes=changes, top=data.top(top_n),
                  top_n=top_n)


def write_static(spec: str | Path | Any, html: str | Path, *, as_of: date | None = None,
                 engine_url: str | None = None, top_n: int = 100, progress: Any = None) -> Path:
    """Score the workspace and write the static dashboard to ``html`` atomically; returns the path."""
    from tierwise.engine.base import write_text_atomic
    from tierwise.spec.loader import SpecFile, load_spec
    from tierwise.web.data import score_table

    spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
    table, day = score_table(spec_file, as_of=as_of, engine_url=engine_url, progress=progress)
    data = DashboardData(table, **spec_context(spec_file))
    try:
        text = render_static(spec_file, data, as_of=day, top_n=top_n)
    finally:
        data.close()
    return write_text_atomic(Path(html), text)
