"""CSRF tokens bound to the session: every state-changing request made with the session cookie carries one.

The token is an HMAC of the session cookie under the server's key, so it changes with every sign-in, is
worthless with another session, and needs no storage. Forms send it as the `csrf_token` field, scripts as
the `X-CSRF-Token` header. A request authenticated with `Authorization: Bearer` needs none: a browser never
adds that header on its own, so another site cannot make one. SameSite=Strict on the cookie is kept as a
second line, not relied on.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from starlette.requests import Request

from audit_pipeline.web.sessions import SESSION_COOKIE

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_BYTES = 16_384
MAX_FORM_FIELDS = 32


class CsrfRejectedError(Exception):
    """A state-changing request with the session cookie came without this session's token."""

    def __init__(self) -> None:
        super().__init__(
            "this request did not carry the security token of your session (CSRF check): reload the page "
            "and try again"
        )


class FormTooLargeError(ValueError):
    """A form body over MAX_FORM_BYTES."""


class CsrfGuard:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def token_for(self, request: Request) -> str:
        """The token of the request's session ('' without one: such a request is refused anyway)."""
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if not cookie:
            return ""
        return hmac.new(self._key, b"csrf:" + cookie.encode("utf-8"), hashlib.sha256).hexdigest()

    async def check(self, request: Request) -> None:
        """Raise CsrfRejectedError unless the request is safe, Bearer-authenticated or carries the token."""
        if request.method in SAFE_METHODS or request.headers.get("authorization") is not None:
            return
        expected = self.token_for(request)
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None and _is_form(request):
            submitted = (await read_form(request)).get(CSRF_FIELD)
        if not expected or not submitted or not hmac.compare_digest(expected.encode(), submitted.encode()):
            raise CsrfRejectedError()


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form as field -> first value (the body is cached, so it can be read again)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormTooLargeError(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True,
                        max_num_fields=MAX_FORM_FIELDS)
    except ValueError as error:
        raise FormTooLargeError(f"the form has more than {MAX_FORM_FIELDS} fields") from error
    return {name: values[0] for name, values in form.items()}
