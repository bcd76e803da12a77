"""The REST API (FastAPI): score and route leads, score accounts, read an account.

``tierwise serve SPEC`` builds the app with :func:`create_app` and runs it
with uvicorn. Every route except ``/healthz`` needs ``Authorization: Bearer
<token>``. Invalid bodies get 422 with each problem's field path
(``lead.employees``, ``events[2].occurred_at``). The OpenAPI document is at
``/openapi.json`` and browsable at ``/docs``.

Examples
--------
>>> from fastapi.testclient import TestClient                       # doctest: +SKIP
>>> client = TestClient(create_app("spec.yaml", token="s3cret"))      # doctest: +SKIP
>>> client.get("/healthz").json()["status"]                           # doctest: +SKIP
'ok'
"""

# No ``from __future__ import annotations``: FastAPI reads the request models
# (built per spec, inside create_app) from the handlers' evaluated annotations.
import json
import secrets
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tierwise.api.schemas import request_models
from tierwise.api.service import RecordError, ScoringService
from tierwise.spec.loader import SpecFile, load_spec

API_VERSION = "1"


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "events", 2, "occurred_at")`` -> ``events[2].occurred_at``.

    >>> field_path(("body", "lead", "employees")), field_path(("body", "events", 2, "occurred_at"))
    ('lead.employees', 'events[2].occurred_at')
    """
    out = ""
    for part in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def json_body(content: Any) -> bytes:
    """``content`` as the JSON bytes ``JSONResponse(jsonable_encoder(content))`` sends, without walking it
    twice: only what :mod:`json` cannot write (times, dates) goes through ``jsonable_encoder``.

    >>> from datetime import datetime
    >>> json_body({"due": datetime(2026, 11, 1, 9, 30), "score": 65.0, "why": "naïve"})
    b'{"due":"2026-11-01T09:30:00","score":65.0,"why":"na\\xc3\\xafve"}'
    """
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"),
                      default=jsonable_encoder).encode("utf-8")


def create_app(spec: str | Path | SpecFile | ScoringService, *, token: str, engine_url: str | None = None,
               as_of: date | None = None, dashboard: bool = True) -> FastAPI:
    """The API app for a spec (or a started :class:`ScoringService`); ``token`` is the bearer token.

    ``dashboard``: also serve the dashboard pages (:mod:`tierwise.web`; no token, see docs/dashboard.md).
    """
    if not token:
        raise ValueError("an API token is required")
    if isinstance(spec, ScoringService):
        service = spec
    else:
        spec_file = spec if isinstance(spec, SpecFile) else load_spec(spec)
        service = ScoringService(spec_file, engine_url=engine_url, as_of=as_of)
    s = service.spec_file.spec
    models = request_models(dict(s.data.leads.attributes) if s.data.leads else {},
                            dict(s.data.accounts.attributes))
    LeadRequest, AccountRequest = models["lead"], models["account"]  # noqa: N806 - classes

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        await service.drain()  # the decisions staged for the audit log go to disk first
        service.close()

    app = FastAPI(title="tierwise", version=API_VERSION, lifespan=lifespan,
                  description=f"Scores, tiers, segments and routes for the '{s.name}' workspace (spec {s.fingerprint()}).")
    bearer = HTTPBearer(auto_error=False)
    expected = token.encode()

    async def authorised(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})
        if not secrets.compare_digest(credentials.credentials.encode(), expected):
            raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"path": field_path(e["loc"]), "message": e["msg"], "type": e["type"],
                     "loc": list(e["loc"])} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

    @app.exception_handler(RecordError)
    async def unscorable(_: Request, exc: RecordError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": [{"path": exc.path, "message": str(exc),
                                                                  "type": "unscorable"}]})

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        """Liveness and what the service holds (no token needed)."""
        return {"status": "ok", "spec": s.name, "spec_hash": s.fingerprint(), "as_of": service.as_of.isoformat(),
                "accounts": service.account_count, "lead_scoring": s.lead_scoring is not None,
                "routing": s.routing is not None, "mql_threshold": service.mql_threshold}

    @app.post("/v1/leads/score-and-route", tags=["leads"], dependencies=[Depends(authorised)])
    async def score_and_route(body: Annotated[LeadRequest, Body()]) -> JSONResponse:  # type: ignore[valid-type]
        """Score a lead (fit, behaviour, negatives, decay, MQL, segment), match it to an account and route it.

        Every decision is written to the audit log; the same lead sent again (same
        fields routing reads) returns the logged decision with ``replay: true``.
        """
        result = await service.score_and_route_async(body.lead.model_dump(), [e.model_dump() for e in body.events],
                                                     as_of=body.as_of, now=body.now)
        return Response(json_body(result), media_type="application/json")

    @app.post("/v1/accounts/score", tags=["accounts"], dependencies=[Depends(authorised)])
    def score_account(body: Annotated[AccountRequest, Body()]) -> JSONResponse:  # type: ignore[valid-type]
        """Score, tier and segment one account from its fields and events, exactly as ``tierwise score`` does."""
        result = service.score_account(body.account.model_dump(), [e.model_dump() for e in body.events],
                                       as_of=body.as_of)
        return JSONResponse(jsonable_encoder(result))

    @app.get("/v1/accounts/{account_id}", tags=["accounts"], dependencies=[Depends(authorised)])
    def get_account(account_id: str) -> JSONResponse:
        """A workspace account: score, tier, segment, reasons, opportunities, recent activity, scored contacts."""
        found = service.account(account_id)
        if found is None:
            raise HTTPException(404, f"account '{account_id}' is not in the workspace")
        return JSONResponse(jsonable_encoder(found))

    # score-and-route runs on the event loop: it needs about a millisecond of CPU, less than handing
    # it to a thread would cost; only its audit-log write and fsync go to a worker thread, shared by
    # the requests that arrive meanwhile (group commit). The account handlers are plain functions
    # (FastAPI's thread pool): rare, and they plan queries.
    app.state.service = service
    if dashboard:
        from tierwise.web.app import mount

        mount(app, service)
    return app

