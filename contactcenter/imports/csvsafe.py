"""CSV cells a spreadsheet will not run: text that would start a formula is quoted.

The rule is :func:`contactcenter.performance.csvfile._cell`'s (a leading ``=``, ``+``, ``-``,
``@``, tab or carriage return gets an apostrophe, which spreadsheets show as text), kept here as
a small public pair (that one is private to the performance CSV and may change with it), and
extended by one case so that it can be undone exactly: text that already starts with an
apostrophe gets one more. :func:`undefuse` removes the one apostrophe :func:`defuse` added,
and leaves any other text (``'Tis``, in a file we did not write) as it is, so an export read
back by the importer gives the values that were exported.
"""

from __future__ import annotations

FORMULA_STARTS = frozenset("=+-@\t\r")
_QUOTED_STARTS = FORMULA_STARTS | {"'"}


def defuse(text: str) -> str:
    """``text`` as a cell that a spreadsheet shows and never evaluates."""
    return "'" + text if text[:1] in _QUOTED_STARTS else text


def undefuse(text: str) -> str:
    """The text :func:`defuse` was given (other text unchanged)."""
    if text[:1] == "'" and text[1:2] in _QUOTED_STARTS:
        return text[1:]
    return text
