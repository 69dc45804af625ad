"""docker-compose.yml checked against the Compose specification's JSON schema (no Docker engine here)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "tests" / "fixtures" / "compose-spec.json"
COMPOSE_PATH = ROOT / "docker-compose.yml"
APP_SERVICES = ("api", "worker", "migrate")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_PATH.read_text())


def test_compose_file_matches_the_compose_specification(compose: dict) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_an_invalid_compose_file() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    broken = {"services": {"api": {"image": "x", "depends_on": {"db": {"condition": "whenever"}}}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert list(jsonschema.Draft7Validator(schema).iter_errors({"services": {"api": {"imag": "x"}}}))


def test_compose_has_the_production_services(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "temporal", "temporal-ui", "minio", "api", "worker"} <= set(services)
    assert services["worker"]["deploy"]["replicas"] == 2
    temporal = services["temporal"]
    assert temporal["environment"]["DB"].startswith("postgres")
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgres"
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert set(depends_on) <= set(services), name


def test_app_services_are_configured_through_known_settings(compose: dict) -> None:
    fields = set(Settings.model_fields)
    for name in APP_SERVICES:
        service = compose["services"][name]
        environment = service["environment"]
        unknown = {
            key for key in environment if not (key.startswith("CYTASKS_") and key[len("CYTASKS_"):] in fields)
        }
        assert not unknown, f"{name}: {unknown}"
        assert environment["CYTASKS_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert environment["CYTASKS_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert environment["CYTASKS_BLOB_BACKEND"] == "s3"
        assert environment["CYTASKS_S3_ENDPOINT_URL"] == "http://minio:9000"
        dockerfile = ROOT / service["build"]["context"] / service["build"]["dockerfile"]
        assert dockerfile.is_file()
