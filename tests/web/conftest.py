"""A small demo workspace scored twice (a quarter ago, then today) with every view's command run on it (report,
pipeline, ICP discovery, territories, RFM twice, the evidence-mode assessment), the API app with the dashboard
on it, and a bare workspace (no command run) for the empty states.

Built once per test session (per xdist worker); every test reads them, none changes them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    from tierwise.demo import generate_workspace
    from tierwise.jobs.score import score
    from tierwise.spec.loader import load_spec

    folder = tmp_path_factory.mktemp("web-ws")
    spec_path = generate_workspace(folder, accounts=300, seed=11, leads=60)
    spec_file = load_spec(spec_path)
    score(spec_file, folder / "scores-earlier", as_of=spec_file.spec.as_of - timedelta(days=91))
    score(spec_file, folder / "scores")
    make_views(spec_file, folder)
    return spec_path


def make_views(spec_file, folder: Path) -> None:
    """Run each view's command the way `tierwise demo` does, writing to the folders the dashboard reads."""
    from tierwise.jobs.governance import pipeline, report
    from tierwise.jobs.icp import discover
    from tierwise.jobs.rfm import rfm
    from tierwise.jobs.territories import territories
    from tierwise.jobs.workspace import write_json
    from tierwise.reports.assessment import evidence

    report(spec_file, folder / "report")
    pipeline(spec_file, folder / "pipeline")
    discover(spec_file, folder / "icp")
    territories(spec_file, folder / "territories", scores_file=folder / "scores" / "scores.parquet")
    rfm(spec_file, folder / "rfm", as_of=spec_file.spec.as_of - timedelta(days=91))
    rfm(spec_file, folder / "rfm")
    write_json(folder / "assessment" / "assessment.json",
               {"assessment": None, "progress": None, "evidence": evidence(spec_file.path)})


@pytest.fixture(scope="session")
def bare_dashboard(tmp_path_factory):
    """A dashboard over a workspace where nothing but the accounts exists: every view is an empty state."""
    import pyarrow as pa

    from tierwise.demo import generate_workspace
    from tierwise.spec.loader import load_spec
    from tierwise.web.app import Dashboard
    from tierwise.web.data import DashboardData, spec_context

    folder = tmp_path_factory.mktemp("web-bare")
    spec_file = load_spec(generate_workspace(folder, accounts=40, seed=3, leads=10))
    table = pa.table({"account_id": ["A1", "A2"], "account_name": ["Acme", "Bolt"], "score": [81.0, 35.0],
                      "tier": ["A", "D"], "segment": ["SMB Standard", "SMB Standard"]})
    dashboard = Dashboard(spec_file, DashboardData(table, **spec_context(spec_file)), as_of=spec_file.spec.as_of)
    yield dashboard
    dashboard.data.close()


@pytest.fixture(scope="session")
def web_app(workspace):
    from tierwise.api.app import create_app

    app = create_app(workspace, token="t0ken")
    yield app
    app.state.dashboard.data.close()
    app.state.service.close()


@pytest.fixture(scope="session")
def client(web_app) -> TestClient:
    return TestClient(web_app)  # no lifespan: the session fixture closes the service
