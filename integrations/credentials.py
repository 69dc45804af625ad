"""The credential store: secrets are looked up by name inside activities only.

A credential is bound to the hosts it may be sent to (``CYTASKS_CREDENTIAL_<NAME>_HOSTS``,
comma-separated ``host`` or ``host:port``; ``*`` for any host). A tool that puts a
credential into a request checks the binding first, so a script cannot send a secret to
a server of its author's choosing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class MissingCredential(LookupError):
    pass


class CredentialNotAllowed(ValueError):
    pass


def _env_key(name: str) -> str:
    return "CYTASKS_CREDENTIAL_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def origin_of(url: str) -> tuple[str, str]:
    """(host, host:port) of an http(s) URL, lower-cased, with the scheme's default port."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return host, f"{host}:{port}"


@dataclass
class CredentialStore:
    """Resolves a credential by name.

    Sources, first match wins: the environment variable ``CYTASKS_CREDENTIAL_<NAME>``
    (upper-cased, non-alphanumerics as ``_``), then a JSON object file named by
    ``CYTASKS_CREDENTIALS_FILE`` (a value there may be ``{"value": ..., "hosts": [...]}``).
    """

    environ: Mapping[str, str] | None = None
    """Where to look; the live process environment when None."""

    def _env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    def _file_entry(self, name: str):
        path = self._env().get("CYTASKS_CREDENTIALS_FILE")
        if path and Path(path).is_file():
            return json.loads(Path(path).read_text()).get(name)
        return None

    def get(self, name: str) -> str:
        environ = self._env()
        key = _env_key(name)
        if key in environ:
            return environ[key]
        entry = self._file_entry(name)
        if isinstance(entry, dict) and "value" in entry:
            return str(entry["value"])
        if entry is not None:
            return str(entry)
        raise MissingCredential(
            f"Credential '{name}' is not configured (set {key} or add it to CYTASKS_CREDENTIALS_FILE)"
        )

    def hosts(self, name: str) -> list[str] | None:
        """The hosts the credential may be sent to; None when no binding is configured."""
        value = self._env().get(_env_key(name) + "_HOSTS")
        if value is None:
            entry = self._file_entry(name)
            if isinstance(entry, dict) and isinstance(entry.get("hosts"), list):
                return [str(host).strip().lower() for host in entry["hosts"]]
            return None
        return [host.strip().lower() for host in value.split(",") if host.strip()]

    def for_url(self, name: str, url: str, default_hosts: list[str] | None = None) -> str:
        """The credential, if its binding allows sending it to ``url``."""
        value = self.get(name)
        hosts = self.hosts(name)
        if hosts is None:
            hosts = default_hosts
        if not hosts:
            raise CredentialNotAllowed(
                f"Credential '{name}' is not bound to any host; set {_env_key(name)}_HOSTS "
                "to the hosts it may be sent to"
            )
        host, host_port = origin_of(url)
        if "*" not in hosts and host not in hosts and host_port not in hosts:
            raise CredentialNotAllowed(
                f"Credential '{name}' may not be sent to {host_port} (it is bound to {', '.join(hosts)})"
            )
        return value
