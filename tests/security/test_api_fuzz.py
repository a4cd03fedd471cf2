"""Schemathesis on every operation of the OpenAPI, as an attacker with a valid key would: no server
error, every answer (errors included) as documented. A fixed seed keeps the run reproducible."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from avis.wsgi import application
from tests.factories import make_organisation

SEED = 20261202
# The fuzzing phase on every operation, valid and invalid data alike; the exhaustive coverage phase
# would take a quarter of an hour on SQLite.
CONFIG = SchemathesisConfig.from_str(
    f"""
seed = {SEED}
[phases.coverage]
enabled = false
[phases.stateful]
enabled = false
"""
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=CONFIG)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def key(db: None, settings) -> Iterator[str]:  # noqa: ANN001
    # Hundreds of requests a minute from one key: the rate limit (tested on its own) would answer 429.
    settings.AVIS_API_RATE_PER_KEY = settings.AVIS_API_RATE_PER_ADDRESS = 0
    # As Django's test client does: the end of a request must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield make_organisation("Assurances de l'Attaque").api_key
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@seed(SEED)
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.slow
@pytest.mark.engine_independent
def test_no_operation_answers_a_server_error_or_breaks_its_schema(case, key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
