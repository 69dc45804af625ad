"""``llm_run``: one chat completion against any OpenAI-compatible endpoint."""

from __future__ import annotations

from typing import Any

import httpx

from .context import ToolContext, ToolOutput
from .credentials import CredentialNotAllowed, MissingCredential, origin_of
from .tls import tls_context


LLM_KEY_CREDENTIAL = "llm_api_key"


def _llm_settings(ctx: ToolContext) -> dict[str, Any]:
    """The endpoint, model and key of this call. The key goes only where the operator
    configured it to go: the configured base URL's host, or the hosts the ``llm_api_key``
    credential is bound to. A task's ``llm_config.base_url`` elsewhere gets no key."""
    from settings import get_settings

    settings = get_settings()
    config = {
        "base_url": settings.LLM_BASE_URL,
        "model": settings.LLM_MODEL,
        "temperature": None,
        "max_tokens": None,
    }
    config.update({k: v for k, v in (ctx.llm_config or {}).items() if v is not None and k != "api_key"})
    url = str(config.get("base_url") or "")
    configured_hosts = [origin_of(settings.LLM_BASE_URL)[1]] if settings.LLM_BASE_URL else []
    config["api_key"] = None
    try:
        config["api_key"] = ctx.credential_for(LLM_KEY_CREDENTIAL, url, configured_hosts)
    except MissingCredential:
        if settings.LLM_API_KEY and url and origin_of(url)[1] in configured_hosts:
            config["api_key"] = ctx.used(LLM_KEY_CREDENTIAL, settings.LLM_API_KEY)
    except CredentialNotAllowed:
        pass
    return config


async def llm_run(
    ctx: ToolContext,
    prompt: str,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> ToolOutput:
    """Ask the configured LLM; the task's directive is the system message."""
    if not isinstance(ctx, ToolContext):
        ctx = ToolContext()
    if not isinstance(prompt, str):
        raise ValueError(f"llm_run() prompt must be string, got {type(prompt).__name__}")
    config = _llm_settings(ctx)
    if not config.get("base_url"):
        raise ValueError("llm_run() has no endpoint: set CYTASKS_LLM_BASE_URL or the task's llm_config.base_url")
    messages = []
    if ctx.directive:
        messages.append({"role": "system", "content": ctx.directive})
    messages.append({"role": "user", "content": prompt})
    body: dict[str, Any] = {"model": model or config.get("model") or "default", "messages": messages}
    chosen_temperature = temperature if temperature is not None else config.get("temperature")
    chosen_max_tokens = max_tokens if max_tokens is not None else config.get("max_tokens")
    if chosen_temperature is not None:
        body["temperature"] = chosen_temperature
    if chosen_max_tokens is not None:
        body["max_tokens"] = chosen_max_tokens
    headers = {"Authorization": f"Bearer {config['api_key']}"} if config.get("api_key") else {}
    url = str(config["base_url"]).rstrip("/") + "/chat/completions"
    try:
        async with httpx.AsyncClient(timeout=120, verify=tls_context()) as client:
            response = await client.post(url, json=body, headers=headers)
    except httpx.HTTPError as error:
        raise RuntimeError(ctx.redact(f"LLM endpoint unreachable: {type(error).__name__}: {error}")) from None
    if response.status_code >= 400:
        raise RuntimeError(ctx.redact(f"LLM endpoint answered {response.status_code}: {response.text[:500]}"))
    data = ctx.redact(response.json())
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise RuntimeError(f"LLM endpoint gave an unexpected answer: {str(data)[:500]}") from None
    usage = data.get("usage") or {}
    return ToolOutput(
        value=content,
        llm_usage={
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0),
            "total_tokens": int(usage.get("total_tokens") or 0),
            "calls": 1,
        },
    )
