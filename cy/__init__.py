"""The Cy language: a small sandboxed scripting language for automation tasks.

``compile_script`` turns source into a ``Program``; ``Program.run`` /
``Program.run_async`` execute it against a ``Host``.

The front end is a pipeline whose modules import only earlier stages: ``scanner`` ->
``parser`` (with ``interpolation``) -> ``resolver`` -> ``typecheck`` -> ``codegen`` ->
``program``; ``syntax`` holds the tree they share. This package only re-exports the public
names; no module of ``cy`` imports from it.
"""

from .options import CyOptions
from .program import Analysis, CallSite, Outcome, Program, check_script, compile_script

__all__ = [
    "Analysis",
    "CallSite",
    "CyOptions",
    "Outcome",
    "Program",
    "check_script",
    "compile_script",
]
