"""The custom search attributes runs carry in Temporal: registering and checking them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from .contract import SEARCH_ATTRIBUTE_NAMES

logger = logging.getLogger(__name__)

SEARCH_ATTRIBUTES: Mapping[str, IndexedValueType.ValueType] = {
    name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in SEARCH_ATTRIBUTE_NAMES
}

_TOLERATED_REGISTRATION_ERRORS = {
    RPCStatusCode.ALREADY_EXISTS,
    RPCStatusCode.PERMISSION_DENIED,
    RPCStatusCode.UNIMPLEMENTED,
}

_registered: dict[int, bool] = {}


async def ensure_search_attributes(
    client: Client,
    namespace: str,
    attributes: Mapping[str, IndexedValueType.ValueType] = SEARCH_ATTRIBUTES,
) -> list[str]:
    """Register the custom search attributes that are missing; return the names added.

    Safe to call from every worker at start: existing attributes, and servers that do not let
    this caller register attributes, are not errors."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as err:
        if err.status in _TOLERATED_REGISTRATION_ERRORS:
            logger.warning("cannot list search attributes in %s: %s", namespace, err.message)
            return []
        raise
    missing = {
        name: kind for name, kind in attributes.items() if name not in listed.custom_attributes
    }
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
    except RPCError as err:
        if err.status in _TOLERATED_REGISTRATION_ERRORS:
            logger.warning("search attributes not registered in %s: %s", namespace, err.message)
            return []
        raise
    return sorted(missing)


async def search_attributes_registered(client: Client, namespace: str) -> bool:
    """Whether the server knows our custom search attributes (asked once per client)."""
    key = id(client)
    if key not in _registered:
        try:
            response = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=namespace)
            )
            names = set(response.custom_attributes)
            _registered[key] = all(name in names for name in SEARCH_ATTRIBUTE_NAMES)
        except RPCError:
            _registered[key] = False
    return _registered[key]
