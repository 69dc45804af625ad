"""API keys as a resource: create (the secret is shown once), list, revoke. Admin only."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..authz import ROLES
from ..deps import PrincipalDep, SessionDep, StateDep
from ..presenters import created_key_resource
from ..problems import problem_responses
from ..route import CytasksRoute
from ..services import api_keys as key_service

router = APIRouter(tags=["api-keys"], route_class=CytasksRoute)

KEY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$"
ROLE_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,63}\Z")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=KEY_NAME_PATTERN, description="Unique; letters, digits, `_ . @ -`")
    roles: list[str] = Field(
        min_length=1,
        max_length=32,
        description=f"The roles {', '.join(ROLES)} grant permissions; any other name (lower case, "
        "digits, `_ -`) is a group that questions can be assigned to",
    )
    expires_at: datetime | None = Field(default=None, description="After this instant the key no longer works")

    @field_validator("roles")
    @classmethod
    def known_roles(cls, roles: list[str]) -> list[str]:
        bad = sorted(role for role in set(roles) if not ROLE_PATTERN.match(role))
        if bad:
            raise ValueError(f"role names are lower case letters, digits, '_' and '-': {', '.join(bad)}")
        return sorted(set(roles), key=lambda role: (ROLES.index(role) if role in ROLES else len(ROLES), role))

    @field_validator("expires_at")
    @classmethod
    def in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        if value <= datetime.now(timezone.utc):
            raise ValueError("must be in the future")
        return value


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    roles: list[str]
    created_at: datetime
    created_by: str | None = None
    expires_at: datetime | None = None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret. It is shown only in this answer and stored only as a hash.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key (its secret is in this answer only)",
    responses=problem_responses(403, 409, 422),
)
async def create_key(body: ApiKeyCreate, response: Response, session: SessionDep, principal: PrincipalDep) -> Any:
    api_key, secret = await key_service.create_key(
        session, name=body.name, roles=body.roles, expires_at=body.expires_at, principal=principal
    )
    response.headers["Location"] = f"/v1/api-keys/{api_key.id}"
    return created_key_resource(api_key, secret)


@router.get("/api-keys", response_model=ApiKeyList, summary="List API keys (never their secrets)", responses=problem_responses(403))
async def list_keys(session: SessionDep) -> Any:
    return {"items": await key_service.list_keys(session)}


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    summary="Revoke an API key (at once, on every API process)",
    responses=problem_responses(403, 404, 409, 422),
)
async def revoke_key(
    key_id: Annotated[uuid.UUID, Path()], session: SessionDep, state: StateDep, principal: PrincipalDep
) -> Response:
    await key_service.revoke_key(state, session, key_id, principal)
    return Response(status_code=204)
