"""Optional API-key authentication, as a FastAPI dependency.

With a key configured, ``/v1/*`` and ``/metrics`` require the header ``X-API-Key`` equal to it
(compared in constant time, so response timing does not reveal how much of a guess matched);
``/health`` and ``/ready`` stay open for probes. Without a key, the dependency lets everything
through. With a key, the header is declared as an OpenAPI security scheme (so ``/docs`` offers to
set it); without one, the spec declares no scheme, as the server asks for none.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import HTTPException, Security, status
from fastapi.security import APIKeyHeader

API_KEY_HEADER = "X-API-Key"

api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Required when the server is started with an API key.",
)


def keys_match(given: str, expected: str) -> bool:
    """Constant-time comparison of two keys (as UTF-8 bytes)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def api_key_guard(expected: str | None) -> Callable[..., Awaitable[None]]:
    """A dependency that enforces ``expected`` (or nothing, when it is None).

    Without a key the dependency takes no parameter, so the OpenAPI spec declares no scheme.
    Both variants are coroutines: they never block, and FastAPI would run a plain function in
    its thread pool, one thread hand-off per request for nothing.

    Raises (from the dependency):
        HTTPException: 401 when the header is missing or wrong.
    """
    if expected is None:

        async def open_access() -> None:
            return None

        return open_access

    async def require_api_key(
        given: Annotated[str | None, Security(api_key_scheme)] = None,
    ) -> None:
        if given is None:
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail=f"Missing API key: send it in the '{API_KEY_HEADER}' header.",
            )
        if not keys_match(given, expected):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail=f"Invalid API key in the '{API_KEY_HEADER}' header.",
            )

    return require_api_key
