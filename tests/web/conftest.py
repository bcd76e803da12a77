"""A small demo workspace scored twice (a quarter ago, then today) and the API app with the dashboard on it.

Built once per test session (per xdist worker); every test reads it, none changes it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

ICP_HTML = "<!doctype html><html lang='en'><head><title>ICP</title></head><body><h1>ICP document</h1></body></html>"


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
    (folder / "icp").mkdir()
    (folder / "icp" / "icp.html").write_text(ICP_HTML, encoding="utf-8")  # one report output present
    return spec_path


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
