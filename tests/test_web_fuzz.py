"""Fuzzing the JSON API and the page from the OpenAPI document: never a 5xx, always what the spec says.

Valid requests (positive) and invalid ones (negative: wrong types, out-of-range numbers, odd strings) are
generated for every operation of `/openapi.json` and sent to the ASGI app as a read/write user.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from tests.test_web_dataset import WebHome, web_fixture  # noqa: F401 - fixture

EXAMPLES_PER_OPERATION = 15
CONFORMANCE = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_every_operation_answers_as_documented(web: WebHome, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/audit-logs", "/api/v1/audit-logs/facets",
                                              "/api/v1/audit-logs/download", "/audit-logs"}
    auth = {"Authorization": f"Bearer {web.tokens['alice']}"}

    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
            continue  # nothing to get wrong

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(headers=auth, checks=CONFORMANCE)

        answers_as_documented()
