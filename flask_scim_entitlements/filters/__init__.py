"""SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): AST, parser and in-memory evaluator.

Pure Python: nothing here imports Flask or SQLAlchemy.
"""

from .ast import (
    COMPARISON_OPERATORS,
    And,
    AttrPath,
    Compare,
    Filter,
    Literal,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
)
from .evaluate import element_matches, evaluate
from .parser import parse_attribute_list, parse_filter, parse_path, unparse

__all__ = [
    "COMPARISON_OPERATORS",
    "And",
    "AttrPath",
    "Compare",
    "Filter",
    "Literal",
    "Not",
    "Or",
    "PatchPath",
    "Present",
    "ValuePath",
    "element_matches",
    "evaluate",
    "parse_attribute_list",
    "parse_filter",
    "parse_path",
    "unparse",
]
