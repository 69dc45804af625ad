"""The Cy language: a small sandboxed scripting language for automation tasks.

``compile_script`` turns source into a ``Program``; ``Program.run`` /
``Program.run_async`` execute it against a ``Host``.
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
