"""Schemathesis against the app's own OpenAPI document, in-process (ASGI), with an admin token:
no input makes the API answer 5xx, and no answer breaks the schema the API declares for it.

Every operation is generated from the schema (POST /events included) on a small department, a
bounded number of examples each so that the run stays well under two minutes. The schema is
read from the app object itself (no request, no database needed to collect the tests); the
store is seeded and the token created when the first test runs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from api_client import department
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from api.auth import create_token, ensure_tables
from ledger.config import Settings
from ledger.store import Ledger
from projections.db import engine_for

EXAMPLES = int(os.environ.get("PERFLEDGER_SCHEMATHESIS_EXAMPLES", "12"))  # per operation: bounded for CI

_FOLDER = Path(tempfile.mkdtemp(prefix="perfledger-schemathesis-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
STORE = Settings(database_url=f"sqlite:///{_FOLDER}/ledger.db")
APP = create_app(STORE)
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP  # calls go to the app in-process


@pytest.fixture(scope="module")
def admin_token() -> str:
    ledger = Ledger(STORE)
    if not ledger.head().position:
        ledger.record(department(), "seed")
    ledger.close()
    engine = engine_for(STORE)
    ensure_tables(engine)
    token = create_token(engine, "admin")[0]
    engine.dispose()
    return token


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail_or_break_its_own_schema(case, admin_token):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {admin_token}"}, checks=[not_a_server_error, response_schema_conformance]
    )
