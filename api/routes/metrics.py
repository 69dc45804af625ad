"""`GET /metrics`: the Prometheus text format, for a key holding a reading role (`viewer` and up)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ..authz import Permission, forbidden, may
from ..deps import PrincipalDep, SessionDep
from ..route import CytasksRoute
from ..services.metrics import exposition

router = APIRouter(tags=["metrics"], route_class=CytasksRoute)


@router.get("/metrics", include_in_schema=False)
async def metrics(principal: PrincipalDep, session: SessionDep) -> Response:
    if not may(principal, Permission.RUNS_READ):
        raise forbidden(principal, Permission.RUNS_READ)
    return Response(await exposition(session), media_type=CONTENT_TYPE_LATEST)
