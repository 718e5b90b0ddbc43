r"""Filter and PATCH-path parsing: scim2-filter-parser's lexer, corrected, feeding our own parser.

scim2-filter-parser (the project's chosen dependency) tokenises with a sly lexer and parses
with a sly LALR parser. Both have defects that real filters hit, confirmed by
``tests/filter/test_upstream_defects.py``:

* the lexer reads one digit per ``NUMBER`` token (``x eq 55`` fails), and has no decimals,
  negative numbers or exponents;
* strings end at the first ``"`` (``"O\"Brien"`` fails) and JSON escapes stay undecoded;
* ``true``/``false``/``null`` match as prefixes (``nullable`` lexes as ``null`` + ``able``)
  and only in lower case;
* the parser gives ``and`` and ``or`` the same precedence (``a or b and c`` groups as
  ``(a or b) and c``, against RFC 7644 §3.4.2.2), turns every literal into a string (``5``,
  ``"5"``, ``true``, ``"true"``, ``null`` and ``"null"`` become indistinguishable), rewrites
  ``emails[type eq "work"].value`` in place, and reports errors without a position.

So we subclass the lexer, replacing the faulty token rules (the rest, including the
case-insensitive operator keywords, is inherited), and parse its tokens with the small
recursive-descent parser below. Fixing the LALR parser would have meant redefining every
grammar rule of its class anyway, and its tree loses the literal types we need. Comparison
values are read by the parser from the text, so that a value written without quotes
(``2015-10-10T14:38:21.8617979-07:00``, accepted only as a tolerance, at bind time) is one
word and not a run of broken tokens.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

from scim2_filter_parser.lexer import SCIMLexer

from scimkit._errors import BadRequest, InvalidFilter, InvalidPath
from scimkit._filter._ast import (
    And,
    AttrPath,
    Compare,
    CompareOp,
    CompareValue,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    Unquoted,
    ValuePath,
)

__all__ = [
    "FILTER_CACHE_SIZE",
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_LENGTH",
    "clear_parse_cache",
    "is_json_word",
    "parse_filter",
    "parse_path",
]

MAX_FILTER_LENGTH = 4096
"""Longest filter (or PATCH path) text accepted, in characters."""
MAX_FILTER_DEPTH = 32
"""Deepest nesting accepted: of groups (parentheses, ``not``, brackets) and of the tree."""
FILTER_CACHE_SIZE = 1024
"""Parsed filters kept per process; identity providers send the same few shapes."""

_F = TypeVar("_F", bound=Callable[..., Any])

# A keyword must not be the start of a longer name: ``nullable``, ``trueName``, ``false-y``.
_WORD_END = r"(?![A-Za-z0-9_$-])"
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_OPERATORS = {op.name: op for op in CompareOp}
_NAME_TOKENS = frozenset({"ATTRNAME", "TRUE", "FALSE", "NULL"})
_LITERAL_WORDS: dict[str, CompareValue] = {"true": True, "false": False, "null": None}
# A comparison value written without quotes: up to a space, parenthesis, bracket or quote.
_WORD = re.compile(r'[^ \t\r\n()\[\]"]+')
_JSON = json.JSONDecoder(strict=False)  # strict=False: raw tabs and newlines inside strings


class _SyntaxError(Exception):
    def __init__(self, detail: str, position: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.position = position


def _rule(pattern: str) -> Callable[[_F], _F]:
    """Attach a token pattern to a lexer method, as sly's ``@_`` decorator does."""

    def decorate(func: _F) -> _F:
        setattr(func, "pattern", pattern)  # noqa: B010 (sly reads this attribute)
        return func

    return decorate


class _Lexer(SCIMLexer):  # type: ignore[misc]
    """SCIMLexer with the faulty rules replaced; sly keeps each rule's original place."""

    tokens = SCIMLexer.tokens
    ignore = " \t\r\n"

    FALSE = r"(?i:false)" + _WORD_END
    TRUE = r"(?i:true)" + _WORD_END
    NULL = r"(?i:null)" + _WORD_END
    # Broader than JSON on purpose (leading zeros), so the parser can say what is wrong.
    NUMBER = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?" + _WORD_END

    @_rule(r'"(?:[^"\\]|\\.)*"')
    def COMP_VALUE(self, t: Any) -> Any:
        # Keep the quotes and escapes: the parser decodes with the token's position at hand.
        return t

    def error(self, t: Any) -> NoReturn:
        char = t.value[0]
        if char == '"':
            raise _SyntaxError("unterminated string (missing closing '\"')", self.index)
        if char == "'":
            raise _SyntaxError('unexpected "\'" (strings must be in double quotes)', self.index)
        if char.isdigit() or char == "-":
            raise _SyntaxError(f"invalid number starting {t.value[:12]!r}", self.index)
        raise _SyntaxError(f"unexpected character {char!r}", self.index)


class _Token:
    __slots__ = ("type", "value", "index", "end")

    def __init__(self, type_: str, value: str, index: int, end: int) -> None:
        self.type = type_
        self.value = value
        self.index = index
        self.end = end


def _tokens(text: str, index: int) -> Iterator[_Token]:
    for t in _Lexer().tokenize(text, index=index):
        yield _Token(t.type, t.value, t.index, t.end)


class _Parser:
    """Recursive descent over the tokens; ``not`` > ``and`` > ``or`` (RFC 7644 §3.4.2.2).

    Tokens are read lazily, one ahead, because a comparison value is not lexed as tokens:
    after an operator the parser reads it from the text itself (a JSON string, or a word up
    to a space or bracket, see :meth:`literal`) and lexes on after it.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.stream = _tokens(text, 0)
        self.ahead: _Token | None = None
        self.looked = False  # whether self.ahead holds the next token (None: the end)
        self.offset = 0  # where the text after the last consumed token starts
        self.nesting = 0
        self.in_brackets = False

    # -- helpers ---------------------------------------------------------------------------

    def peek(self) -> _Token | None:
        if not self.looked:
            self.ahead = next(self.stream, None)
            self.looked = True
        return self.ahead

    def advance(self) -> _Token:
        token = self.peek()
        assert token is not None  # callers peek first
        self.looked = False
        self.offset = token.end
        return token

    def fail(self, expected: str, token: _Token | None = None) -> NoReturn:
        if token is None:
            token = self.peek()
        found = _describe(token)
        position = token.index if token is not None else len(self.text)
        raise _SyntaxError(f"expected {expected}, found {found}", position)

    def expect(self, type_: str, expected: str) -> _Token:
        token = self.peek()
        if token is None or token.type != type_:
            self.fail(expected)
        return self.advance()

    def enter(self, token: _Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_FILTER_DEPTH:
            raise _SyntaxError(
                f"filter nested too deeply (more than {MAX_FILTER_DEPTH} levels)", token.index
            )

    def end(self) -> None:
        token = self.peek()
        if token is not None:
            if token.type == "RPAREN":
                self.fail("'and', 'or' or the end of the filter (unbalanced ')')")
            self.fail("'and', 'or' or the end of the filter")

    # -- grammar ---------------------------------------------------------------------------

    def filter(self) -> tuple[Filter, int]:
        return self.chain("OR", Or, self.conjunction)

    def conjunction(self) -> tuple[Filter, int]:
        return self.chain("AND", And, self.unary)

    def chain(
        self,
        keyword: str,
        node_type: type[And] | type[Or],
        operand: Callable[[], tuple[Filter, int]],
    ) -> tuple[Filter, int]:
        start = self.peek()
        terms = [operand()]
        while (token := self.peek()) is not None and token.type == keyword:
            self.advance()
            terms.append(operand())
        node, depth = _balanced(node_type, terms)
        if depth > MAX_FILTER_DEPTH:
            position = start.index if start is not None else 0
            raise _SyntaxError(
                f"filter nested too deeply (more than {MAX_FILTER_DEPTH} levels)", position
            )
        return node, depth

    def unary(self) -> tuple[Filter, int]:
        token = self.peek()
        if token is not None and token.type == "NOT":
            self.advance()
            opening = self.expect("LPAREN", "'(' after 'not' (RFC 7644: not (filter))")
            node, depth = self.group(opening)
            return Not(node), depth + 1
        if token is not None and token.type == "LPAREN":
            return self.group(self.advance())
        if token is None or (token.type not in _NAME_TOKENS and token.type != "SCHEMA_URI"):
            self.fail("an attribute name, '(' or 'not'")
        return self.attribute_expression()

    def group(self, opening: _Token) -> tuple[Filter, int]:
        self.enter(opening)
        result = self.filter()
        self.expect("RPAREN", "')' or 'and'/'or' inside the parentheses")
        self.nesting -= 1
        return result

    def attribute_expression(self) -> tuple[Filter, int]:
        path = self.attribute_path()
        token = self.peek()
        if token is not None and token.type == "LBRACKET":
            inner, depth = self.bracket_filter()
            sub = self.peek()
            if sub is not None and sub.type == "SUBATTR":
                # Entra's match filter: emails[type eq "work"].value eq "x" means one value
                # with both properties, i.e. emails[type eq "work" and value eq "x"]. As
                # everywhere, ne is not eq: "ne" there asks that no such value exists, which
                # emails[type eq "work" and value ne "x"] would not (it needs a work email).
                self.advance()
                leaf = self.comparison(AttrPath(None, sub.value, None, sub.index + 1))
                if isinstance(leaf, Compare) and leaf.op is CompareOp.NE:
                    positive = Compare(leaf.path, CompareOp.EQ, leaf.value, leaf.written)
                    return Not(ValuePath(path, And(inner, positive))), max(depth, 1) + 3
                return ValuePath(path, And(inner, leaf)), max(depth, 1) + 2
            if sub is not None and (sub.type in _OPERATORS or sub.type == "PR"):
                self.fail(f"'.subAttribute' before the operator, as in {path}[...].value eq ...")
            return ValuePath(path, inner), depth + 1
        return self.comparison(path), 1

    def bracket_filter(self) -> tuple[Filter, int]:
        opening = self.advance()
        if self.in_brackets:
            raise _SyntaxError("value filters cannot be nested", opening.index)
        self.enter(opening)
        self.in_brackets = True
        result = self.filter()
        self.expect("RBRACKET", "']' or 'and'/'or' inside the value filter")
        self.in_brackets = False
        self.nesting -= 1
        return result

    def comparison(self, path: AttrPath) -> Filter:
        token = self.peek()
        if token is not None and token.type == "PR":
            self.advance()
            return Present(path)
        if token is not None and token.type in _OPERATORS:
            self.advance()
            value, written = self.literal()
            return Compare(path, _OPERATORS[token.type], value, written)
        self.fail(f"an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after '{path}'")

    def attribute_path(self) -> AttrPath:
        token = self.peek()
        urn: str | None = None
        start = token.index if token is not None else len(self.text)
        if token is not None and token.type == "SCHEMA_URI":
            urn = self.advance().value
            token = self.peek()
        if token is None or token.type not in _NAME_TOKENS:
            self.fail("an attribute name" if urn is None else f"an attribute name after '{urn}:'")
        name = self.advance().value
        sub: str | None = None
        following = self.peek()
        if following is not None and following.type == "SUBATTR":
            sub = self.advance().value
            extra = self.peek()
            if extra is not None and extra.type == "SUBATTR":
                raise _SyntaxError(
                    "attribute paths have at most one sub-attribute "
                    f"('{name}.{sub}.{extra.value}')",
                    extra.index,
                )
        return AttrPath(urn, name, sub, start)

    def literal(self) -> tuple[CompareValue, str | None]:
        """The value after an operator, and its text if it was written without quotes.

        A word without quotes runs to the next space, parenthesis, bracket or ``"``: a JSON
        literal (number, ``true``, ``false``, ``null``, any case) or else :class:`Unquoted`,
        which binding accepts only as a tolerance.
        """
        assert not self.looked  # called right after the operator was consumed
        start = self.offset
        while start < len(self.text) and self.text[start] in _Lexer.ignore:
            start += 1
        word = _WORD.match(self.text, start)
        if word is None:
            token = self.peek()
            if token is not None and token.type == "COMP_VALUE":
                self.advance()
                return _decode_string(token), None
            self.fail("a value (a string in double quotes, a number, true, false or null)")
        text = word.group()
        if text.startswith("'"):
            raise _SyntaxError('unexpected "\'" (strings must be in double quotes)', start)
        self.stream = _tokens(self.text, word.end())
        self.offset = word.end()
        return _decode_word(text, start), text

    def patch_path(self) -> PatchPath:
        path = self.attribute_path()
        token = self.peek()
        if token is None:
            return PatchPath(path)
        if token.type != "LBRACKET":
            self.fail("'[', a sub-attribute or the end of the path")
        value_filter, _ = self.bracket_filter()
        token = self.peek()
        sub: str | None = None
        if token is not None and token.type == "SUBATTR":
            sub = self.advance().value
        if self.peek() is not None:
            self.fail("a sub-attribute or the end of the path")
        return PatchPath(path, value_filter, sub)


def _balanced(
    node_type: type[And] | type[Or], terms: list[tuple[Filter, int]]
) -> tuple[Filter, int]:
    # and/or are associative, so a long chain becomes a balanced tree: a 500-term "or" of ids
    # is 9 levels deep, not 500, and nothing downstream needs deep recursion.
    if len(terms) == 1:
        return terms[0]
    middle = (len(terms) + 1) // 2
    left, left_depth = _balanced(node_type, terms[:middle])
    right, right_depth = _balanced(node_type, terms[middle:])
    return node_type(left, right), max(left_depth, right_depth) + 1


def _describe(token: _Token | None) -> str:
    if token is None:
        return "the end of the text"
    if token.type == "COMP_VALUE":
        return f"the string {token.value}"
    if token.type == "SUBATTR":
        return f"'.{token.value}'"
    if token.type == "SCHEMA_URI":
        return f"'{token.value}:'"
    return f"'{token.value}'"


def _decode_string(token: _Token) -> str:
    raw = token.value
    if "\\" not in raw:  # no escapes: the common case, and several times faster
        value = raw[1:-1]
        if value.isascii():
            return value
    try:
        value = _JSON.decode(raw)
    except json.JSONDecodeError as exc:
        position = token.index + exc.pos
        raise _SyntaxError(f"invalid string {token.value}: {exc.msg}", position) from None
    assert isinstance(value, str)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _SyntaxError(
            f"invalid string {token.value}: unpaired surrogate", token.index
        ) from exc
    return value


def is_json_word(text: str) -> bool:
    """Whether a value written without quotes is a JSON literal (number, true, false, null)."""
    return text.lower() in _LITERAL_WORDS or _JSON_NUMBER.fullmatch(text) is not None


def _decode_word(text: str, position: int) -> CompareValue:
    keyword = text.lower()
    if keyword in _LITERAL_WORDS:
        return _LITERAL_WORDS[keyword]
    if _JSON_NUMBER.fullmatch(text):
        if any(c in text for c in ".eE"):
            number = float(text)
            if not math.isfinite(number):
                raise _SyntaxError(f"number '{text}' is out of range", position)
            return number
        return int(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _SyntaxError(f"invalid value {text!r}: unpaired surrogate", position) from exc
    return Unquoted(text)


def _check_text(text: object, what: str, error: type[BadRequest]) -> None:
    """Raise ``error`` when ``text`` cannot be parsed at all."""
    if not isinstance(text, str):
        raise error(f"Invalid {what}: expected a string, got {type(text).__name__}")
    if len(text) > MAX_FILTER_LENGTH:
        raise error(f"Invalid {what}: longer than {MAX_FILTER_LENGTH} characters ({len(text)})")
    if not text.strip():
        raise error(f"Invalid {what}: empty")


def parse_filter(text: str) -> Filter:
    """Parse a filter (RFC 7644 §3.4.2.2); raises :class:`InvalidFilter` with a position.

    Results are cached by text.
    """
    _check_text(text, "filter", InvalidFilter)
    return _parse_filter(text)


@functools.lru_cache(maxsize=FILTER_CACHE_SIZE)
def _parse_filter(text: str) -> Filter:
    try:
        parser = _Parser(text)
        node, _ = parser.filter()
        parser.end()
    except _SyntaxError as exc:
        raise InvalidFilter(f"Invalid filter: {exc.detail}", position=exc.position) from None
    return node


def parse_path(text: str) -> PatchPath:
    """Parse a PATCH ``path`` (RFC 7644 §3.5.2); raises :class:`InvalidPath`.

    ``attrPath``, or ``attrPath[valFilter]`` optionally followed by ``.subAttr``.
    """
    _check_text(text, "path", InvalidPath)
    return _parse_path(text)


@functools.lru_cache(maxsize=FILTER_CACHE_SIZE)
def _parse_path(text: str) -> PatchPath:
    try:
        parser = _Parser(text)
        return parser.patch_path()
    except _SyntaxError as exc:
        raise InvalidPath(f"Invalid path: {exc.detail} (at position {exc.position})") from None


def clear_parse_cache() -> None:
    """Forget cached parses (benchmarks and tests)."""
    _parse_filter.cache_clear()
    _parse_path.cache_clear()
