"""Console sessions: signing in with an API key sets a signed, HttpOnly, SameSite=Strict cookie
naming the key (by id, never the secret) and a CSRF token; every page resolves the key again
(a revoked or expired key ends the session at once) and every POST must carry the token.

The sign-in form itself is protected the same way by a token in a short-lived cookie of its own.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..services.api_keys import find_key_by_id
from ..state import AppState, Principal

SESSION_COOKIE = "cytasks_session"
LOGIN_COOKIE = "cytasks_login"
LOGIN_SECONDS = 3600
CSRF_FIELD = "csrf_token"


class NotSignedIn(Exception):
    """The request has no valid console session."""


class BadCsrfToken(Exception):
    """A POST without the session's CSRF token."""


@dataclass(frozen=True)
class ConsoleSession:
    principal: Principal
    csrf_token: str


_process_secret = secrets.token_urlsafe(32)


def _serializer(state: AppState, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(state.settings.UI_SESSION_SECRET or _process_secret, salt=salt)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(state: AppState, request: Request, response: Response, principal: Principal) -> None:
    token = secrets.token_urlsafe(32)
    value = _serializer(state, "session").dumps({"kid": principal.key_id, "csrf": token})
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(state.settings.UI_SESSION_HOURS * 3600),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/ui",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/ui")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/ui")


async def current_session(state: AppState, request: Request) -> ConsoleSession:
    """The signed-in key (looked up now), or NotSignedIn."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        raise NotSignedIn()
    try:
        data = _serializer(state, "session").loads(raw, max_age=int(state.settings.UI_SESSION_HOURS * 3600))
    except BadSignature:
        raise NotSignedIn() from None
    if not isinstance(data, dict) or not isinstance(data.get("kid"), str) or not isinstance(data.get("csrf"), str):
        raise NotSignedIn()
    async with state.sessionmaker() as session:
        api_key = await find_key_by_id(session, data["kid"])
    if api_key is None:
        raise NotSignedIn()
    principal = Principal(key_id=str(api_key.id), name=api_key.name, roles=tuple(api_key.roles or ()))
    return ConsoleSession(principal, data["csrf"])


def check_csrf(console: ConsoleSession, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted, console.csrf_token):
        raise BadCsrfToken()


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def set_login_cookie(state: AppState, request: Request, response: Response, token: str) -> None:
    """The sign-in form's token, signed, in a cookie of its own: the form must send it back."""
    response.set_cookie(
        LOGIN_COOKIE,
        _serializer(state, "login").dumps(token),
        max_age=LOGIN_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/ui",
    )


def check_login_token(state: AppState, request: Request, submitted: str | None) -> None:
    raw = request.cookies.get(LOGIN_COOKIE)
    if not raw or not submitted:
        raise BadCsrfToken()
    try:
        expected = _serializer(state, "login").loads(raw, max_age=LOGIN_SECONDS)
    except BadSignature:
        raise BadCsrfToken() from None
    if not isinstance(expected, str) or not hmac.compare_digest(expected, submitted):
        raise BadCsrfToken()
