"""JSON Schema checks shared by the API (task schemas, run inputs) and the workers (run outputs).

Patterns are matched by `regex` with a time limit (``validation.patterns``) and `$ref`s
resolve only inside the schema (nothing is fetched).
"""

from .json_schema import Failure, SchemaFault, failures_of, json_path, patterns_of

__all__ = ["Failure", "SchemaFault", "failures_of", "json_path", "patterns_of"]
