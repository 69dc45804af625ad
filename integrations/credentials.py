"""The credential store: secrets are looked up by name inside activities only."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class MissingCredential(LookupError):
    pass


@dataclass
class CredentialStore:
    """Resolves a credential by name.

    Sources, first match wins: the environment variable ``CYTASKS_CREDENTIAL_<NAME>``
    (upper-cased, non-alphanumerics as ``_``), then a JSON object file named by
    ``CYTASKS_CREDENTIALS_FILE``.
    """

    environ: Mapping[str, str] | None = None
    """Where to look; the live process environment when None."""

    def get(self, name: str) -> str:
        environ = os.environ if self.environ is None else self.environ
        key = "CYTASKS_CREDENTIAL_" + "".join(c if c.isalnum() else "_" for c in name).upper()
        if key in environ:
            return environ[key]
        path = environ.get("CYTASKS_CREDENTIALS_FILE")
        if path and Path(path).is_file():
            values = json.loads(Path(path).read_text())
            if name in values:
                return str(values[name])
        raise MissingCredential(
            f"Credential '{name}' is not configured (set {key} or add it to CYTASKS_CREDENTIALS_FILE)"
        )
