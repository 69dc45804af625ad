"""The operator console (`/ui`): server-rendered pages (Jinja2) with htmx, served by the API.

``install_console(app)`` adds its routes, its static files (`/ui/static`, htmx vendored under
its BSD-0 licence) and what a page answers when the visitor is not signed in (a redirect to
the sign-in page) or a form lacks its CSRF token (403)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from .routes import TEMPLATES, router
from .session import BadCsrfToken, NotSignedIn
from .workflow_routes import router as workflow_router

STATIC_DIR = Path(__file__).parent / "static"


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/ui"
    location = f"/ui/login?next={quote(target)}"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def _bad_csrf(request: Request, exc: Exception) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {"console": None, "principal": None, "title": "Form expired",
         "message": "This form was not sent from a page of this session. Reload the page and try again."},
        status_code=403,
    )


def install_console(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(workflow_router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(BadCsrfToken, _bad_csrf)
