"""An XPath's case-sensitive EXSLT regex tests (``re:test(@class, 'pattern')``), each guarded by the literals its pattern needs.

lxml evaluates ``re:test`` by calling back into Python for every element the XPath reaches (~2 µs
a call), while libxml2's own ``contains()`` costs a fraction of that. Most elements hold none of
the words a test looks for, so ``(contains(@class, 'author') or ...) and re:test(@class, ...)``
selects the same elements with far fewer calls: a string the pattern matches contains at least one
of the literals ``needed_literals`` finds in it (a necessary condition, never a sufficient one), and
``and`` asks ``re:test`` only where one is there. Pure functions; tasks.parse installs the guarded
expressions over trafilatura's.
"""

from __future__ import annotations

import re
# The parsed form of a pattern has no public API; these are the modules re itself compiles with.
from re import _constants as sre
from re import _parser as sre_parse

# A test that needs more literals than this is left unguarded: each contains() costs ~0.4 µs an
# element, so a long list of them costs more than the one callback it spares.
MAX_GUARD_LITERALS = 8
_RE_TEST = re.compile(
    r"""re:test\(\s*(?P<attributes>@[\w-]+(?:\s*\|\s*@[\w-]+)*)\s*,\s*(?:'(?P<single>[^']*)'|"(?P<double>[^"]*)")"""
    r"""\s*(?:,\s*(?:'(?P<flags>[^']*)'|"(?P<dflags>[^"]*)")\s*)?\)"""
)


def needed_literals(pattern: str) -> frozenset[str] | None:
    """Strings one of which every match of ``pattern`` contains (case as written), or None if none is known.

    From the pattern's parsed form: a run of literal characters, or the union of such sets over the
    branches of an alternation, or over a group repeated at least once. Anchors, classes, optional
    parts and lookarounds only end a run. Patterns with inline flags are not guarded.
    """
    parsed = sre_parse.parse(pattern)
    if parsed.state.flags & ~re.UNICODE:
        return None
    literals = _sequence_literals(list(parsed))
    if literals is None:
        return None
    # A literal that contains another adds nothing: the shorter one is found wherever it is.
    return frozenset(lit for lit in literals if not any(other != lit and other in lit for other in literals))


def _sequence_literals(items: list) -> frozenset[str] | None:
    """The best necessary literal set of a sequence: any one item's will do, the one with the longest shortest literal is kept."""
    candidates: list[frozenset[str]] = []
    run = ""
    for op, value in items:
        if op is sre.LITERAL:
            run += chr(value)
            continue
        if run:
            candidates.append(frozenset([run]))
            run = ""
        if op is sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = value
            if not (add_flags or del_flags):
                candidates.append(_sequence_literals(list(sub)))
        elif op is sre.BRANCH:
            branches = [_sequence_literals(list(branch)) for branch in value[1]]
            if all(branch is not None for branch in branches):
                candidates.append(frozenset().union(*branches))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] >= 1:
            candidates.append(_sequence_literals(list(value[2])))
        elif op is sre.ATOMIC_GROUP:
            candidates.append(_sequence_literals(list(value)))
    if run:
        candidates.append(frozenset([run]))
    known = [candidate for candidate in candidates if candidate]
    return max(known, key=lambda lits: (min(map(len, lits)), -len(lits))) if known else None


def guarded(path: str, max_literals: int = MAX_GUARD_LITERALS) -> str:
    """``path`` with each ``re:test`` of attributes it can guard preceded by a cheaper necessary test."""
    return _RE_TEST.sub(lambda match: _guarded_test(match, max_literals), path)


def _guarded_test(match: re.Match[str], max_literals: int) -> str:
    pattern = match["single"] if match["single"] is not None else match["double"]
    literals = needed_literals(pattern)
    case_insensitive = "i" in (match["flags"] or match["dflags"] or "")
    if case_insensitive or not literals or len(literals) > max_literals or any("'" in lit for lit in literals):
        return match[0]
    attributes = [name.strip() for name in match["attributes"].split("|")]
    # re:test reads the first attribute of a union: whichever it is, it holds a needed literal.
    contains = " or ".join(
        f"({name} and ({' or '.join(f'contains({name}, {_quoted(lit)})' for lit in sorted(literals))}))"
        for name in attributes
    )
    return f"(({contains}) and {match[0]})"


def _quoted(text: str) -> str:
    return f"'{text}'"
