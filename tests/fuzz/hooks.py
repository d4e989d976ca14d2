"""Schemathesis hooks for `make fuzz` (loaded through SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

The fuzzer runs every operation with an admin token, including the ones that could end its
own access: revoking that token, deactivating, demoting or erasing its user. Such cases are
pointed at a decoy of the same kind instead (the runner creates decoy users and tokens), so
they are still sent and checked, and the run keeps its access to the end.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

# (method, path, path parameter, environment variable of the protected id, of its decoy)
_PROTECTED = (
    (
        "DELETE",
        "/api/v1/tokens/{token_id}",
        "token_id",
        "KOSH_FUZZ_TOKEN_ID",
        "KOSH_FUZZ_DECOY_TOKEN",
    ),
    ("PATCH", "/api/v1/users/{user_id}", "user_id", "KOSH_FUZZ_USER_ID", "KOSH_FUZZ_DECOY_USER"),
    (
        "POST",
        "/api/v1/users/{user_id}/reset-password",
        "user_id",
        "KOSH_FUZZ_USER_ID",
        "KOSH_FUZZ_DECOY_USER",
    ),
    # a GDPR erasure of the fuzzer's own user would end its session and tokens
    (
        "POST",
        "/api/v1/users/{user_id}/erase",
        "user_id",
        "KOSH_FUZZ_USER_ID",
        "KOSH_FUZZ_DECOY_USER",
    ),
    # an admin's reset of two-factor login: aimed at a decoy, so no account-security change
    # reaches the user the run logs in as (enrolment itself is browser-only, never fuzzed)
    (
        "POST",
        "/api/v1/users/{user_id}/two-factor/reset",
        "user_id",
        "KOSH_FUZZ_USER_ID",
        "KOSH_FUZZ_DECOY_USER",
    ),
)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    method, path = case.operation.method.upper(), case.operation.path
    for guarded_method, guarded_path, name, protected, decoy in _PROTECTED:
        if method != guarded_method or not path.endswith(guarded_path.removeprefix("/api/v1")):
            continue
        parameters = case.path_parameters or {}
        if _as_int(parameters.get(name)) == int(os.environ[protected]):
            parameters[name] = int(os.environ[decoy])
    return case
