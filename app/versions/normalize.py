"""Code reduced to what it computes: source without docstrings, comments or layout, bytecode
without line numbers, and the global names a code object reads.

Everything here is a pure function of its input, so the same code always gives the same text,
whatever the process, the hash seed or the position of the code in its file; that is also why
parsing a file and reading a code object's globals are cached across calls, keyed by the text
and by the code object (compared by value, so a re-import of an unchanged file hits).
"""

from __future__ import annotations

import ast
import copy
import dis
import functools
import hashlib
import importlib.util
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import CodeType

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
# An import statement: ``import a.b`` is ("a.b", 0, ()); ``from ..m import x`` ("m", 2, ("x",)).
ImportStatement = tuple[str | None, int, tuple[str, ...]]
_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


_LENGTH = struct.Struct("<Q").pack  # 8 bytes, little-endian: the framing versions were made with


def digest(*parts: str) -> str:
    """16 hex characters; each part is length-prefixed so ("ab", "c") and ("a", "bc") differ."""
    hashed = hashlib.blake2b(digest_size=8)
    update = hashed.update
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        update(_LENGTH(len(data)))
        update(data)
    return hashed.hexdigest()


@dataclass(slots=True)
class ParsedSource:
    """One file's docstring-free tree, indexed the ways running code can be traced back: code
    objects carry (name, first line), lambdas only their first line, classes their qualified
    name (and on 3.13 their first line). Shared by every caller that parses the same text, so
    the tree is never modified after parsing; ``dumps`` holds the texts of its nodes once
    made (by node id and kept decorators)."""

    tree: ast.Module
    functions: dict[tuple[str, int], list[FunctionNode]] = field(default_factory=dict)
    classes: dict[tuple[str, int], list[ast.ClassDef]] = field(default_factory=dict)
    qualnames: dict[str, list[ast.ClassDef]] = field(default_factory=dict)
    dumps: dict[tuple[int, tuple[bool, ...]], str] = field(default_factory=dict)
    imports: list[ImportStatement] = field(default_factory=list)
    lambdas_by_line: dict[int, list[FunctionNode]] | None = None  # made when first asked

    def lambdas(self) -> dict[int, list[FunctionNode]]:
        if self.lambdas_by_line is None:
            self.lambdas_by_line = _lambdas(self.tree)
        return self.lambdas_by_line

    def dump(self, node: ast.AST) -> str:
        """``dump(node)`` for a node of this tree, made once."""
        key = (id(node), ())
        text = self.dumps.get(key)
        if text is None:
            text = self.dumps[key] = dump(node)
        return text


# The last text parsed of each file, for the few files most recently asked for: a parsed
# file holds ~75 times its text in memory (20 files of 500 assets: ~100 MB), and what later
# calls need of an unchanged file is kept without its tree (each function's text in
# code.py, its imports here).
_LAST_PARSED: OrderedDict[str, tuple[str, ParsedSource | None]] = OrderedDict()
_LAST_PARSED_FILES = 4
_last_parsed_lock = threading.Lock()  # versions are computed on the loop and off it
# The import statements of every file parsed: (module, level, names) each, by file.
_IMPORTS: dict[str, tuple[str, list[ImportStatement]]] = {}


def parse_source(text: str, filename: str) -> ParsedSource | None:
    """``text`` parsed and indexed, or None if it does not parse; shared, so read-only."""
    with _last_parsed_lock:
        last = _LAST_PARSED.get(filename)
        if last is not None and last[0] == text:
            _LAST_PARSED.move_to_end(filename)
            return last[1]
    parsed = _parse(text, filename)
    with _last_parsed_lock:
        _IMPORTS[filename] = (text, parsed.imports if parsed is not None else [])
        _LAST_PARSED[filename] = (text, parsed)
        _LAST_PARSED.move_to_end(filename)
        if len(_LAST_PARSED) > _LAST_PARSED_FILES:
            _LAST_PARSED.popitem(last=False)
    return parsed


def forget_parsed() -> None:
    """Drop the parsed trees kept; what later calls need of a file outlives them."""
    with _last_parsed_lock:
        _LAST_PARSED.clear()


def read_source(filename: str) -> str | None:
    """A file's text as Python decodes source (its coding cookie), or None if unreadable.
    The file, not inspect.getsource: linecache can hold the text from before an edit."""
    try:
        with open(filename, "rb") as file:
            return importlib.util.decode_source(file.read())
    except (OSError, ValueError, SyntaxError):
        return None


def known_imports(text: str, filename: str) -> list[ImportStatement] | None:
    """The import statements of ``text`` if they are known without parsing it."""
    with _last_parsed_lock:
        seen = _IMPORTS.get(filename)
    return seen[1] if seen is not None and seen[0] == text else None


def remember_imports(text: str, filename: str, imports: list[ImportStatement]) -> None:
    """What a parse of ``text`` found, read back from elsewhere (the source cache)."""
    with _last_parsed_lock:
        _IMPORTS[filename] = (text, imports)


def import_statements(text: str, filename: str) -> list[ImportStatement]:
    """The import statements of ``text`` (any depth), from its last parse when it was the
    same text: a reload asks this of every file it may keep."""
    known = known_imports(text, filename)
    if known is not None:
        return known
    parsed = parse_source(text, filename)
    return parsed.imports if parsed is not None else []


def _parse(text: str, filename: str) -> ParsedSource | None:
    try:
        tree = ast.parse(text, filename)
    except (SyntaxError, ValueError):
        return None
    parsed = ParsedSource(tree)
    _strip_docstring(tree)
    _index(parsed, tree, "")
    return parsed


def _strip_docstring(node: ast.Module | _Definition) -> None:
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        del node.body[0]


def _first_lines(node: _Definition) -> set[int]:
    # A decorated definition's code starts at its first decorator (co_firstlineno, and
    # __firstlineno__ on 3.13); the node's own lineno is the `def`/`class` line.
    lines = {node.lineno}
    if node.decorator_list:
        lines.add(node.decorator_list[0].lineno)
    return lines


def _index(parsed: ParsedSource, parent: ast.AST, prefix: str) -> None:
    """Index every ``def`` and ``class`` under ``parent``, naming them as the compiler's
    __qualname__, and strip docstrings on the way (one walk, not two). Only statements can
    hold them, so expressions, most of a tree, are not walked: lambdas are found on demand."""
    for node in ast.iter_child_nodes(parent):
        if isinstance(node, ast.ClassDef):
            _strip_docstring(node)
            qualname = prefix + node.name
            parsed.qualnames.setdefault(qualname, []).append(node)
            for line in _first_lines(node):
                parsed.classes.setdefault((node.name, line), []).append(node)
            _index(parsed, node, qualname + ".")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            _strip_docstring(node)
            for line in _first_lines(node):
                parsed.functions.setdefault((node.name, line), []).append(node)
            _index(parsed, node, f"{prefix}{node.name}.<locals>.")
        elif isinstance(node, ast.Import):
            parsed.imports += [(alias.name, 0, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parsed.imports.append((node.module, node.level, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.stmt | ast.excepthandler | ast.match_case):
            _index(parsed, node, prefix)


def _lambdas(tree: ast.Module) -> dict[int, list[FunctionNode]]:
    found: dict[int, list[FunctionNode]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda):
            found.setdefault(node.lineno, []).append(node)
    return found


def find_function(parsed: ParsedSource, code: CodeType) -> FunctionNode | None:
    """The node of ``code``, or None when it is not exactly one node (the file changed since
    the code was compiled, or nested lambdas share a line): guessing could hash the wrong code.
    Lambdas side by side on one line are told apart by the columns of their instructions."""
    if code.co_name == "<lambda>":
        found = parsed.lambdas().get(code.co_firstlineno, [])
    else:
        found = parsed.functions.get((code.co_name, code.co_firstlineno), [])
    if len(found) > 1:
        start = first_position(code)
        found = [n for n in found if start is not None and _spans(n, start)]
    return found[0] if len(found) == 1 else None


def first_position(code: CodeType) -> tuple[int, int] | None:
    # The first instruction with a real extent: RESUME and the like are placed at (line, 0, 0).
    for line, end_line, col, end_col in code.co_positions():
        if line is None or end_line is None or col is None or end_col is None:
            continue
        if (end_line, end_col) > (line, col):
            return line, col
    return None


def _spans(node: FunctionNode, position: tuple[int, int]) -> bool:
    start = (node.lineno, node.col_offset)
    end = (node.end_lineno or node.lineno, node.end_col_offset or 0)
    return start <= position < end


def find_class(parsed: ParsedSource, cls: type) -> list[ast.ClassDef]:
    """Every node that may be ``cls``: without 3.13's __firstlineno__ a qualified name can be
    defined twice (under an ``if``), and hashing all candidates is safer than picking one."""
    line = getattr(cls, "__firstlineno__", None)
    if isinstance(line, int):
        return parsed.classes.get((cls.__name__, line), [])
    return parsed.qualnames.get(cls.__qualname__, [])


def dump(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def dump_function(parsed: ParsedSource, node: FunctionNode, keeps: tuple[bool, ...]) -> str:
    """The tree of a function of ``parsed`` without the decorators ``keeps`` says to leave
    out, one flag per decorator (the shallow copy leaves the shared tree intact), made once
    per choice of decorators."""
    if isinstance(node, ast.Lambda) or all(keeps):
        return parsed.dump(node)
    key = (id(node), keeps)
    text = parsed.dumps.get(key)
    if text is None:
        clone = copy.copy(node)
        clone.decorator_list = [
            d for d, keep in zip(node.decorator_list, keeps, strict=True) if keep
        ]
        text = parsed.dumps[key] = dump(clone)
    return text


def decorator_roots(node: FunctionNode) -> tuple[str | None, ...]:
    """The global each decorator of ``node`` starts from (none for a lambda)."""
    if isinstance(node, ast.Lambda):
        return ()
    return tuple(decorator_root(d) for d in node.decorator_list)


def decorator_root(expr: ast.expr) -> str | None:
    """The global a decorator expression starts from: ``asset`` in ``@asset(...)``,
    ``mr`` in ``@mr.asset``."""
    while isinstance(expr, ast.Call | ast.Attribute):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def bytecode_text(code: CodeType) -> str:
    """What ``code`` computes, without where it sits: no file name, no line table. An unused
    string or None in slot 0 of co_consts is the docstring slot, so it is left out."""
    consts = list(code.co_consts)
    if consts and isinstance(consts[0], str | None) and not _loads_const_zero(code):
        consts[0] = "<docstring>"
    return "|".join(
        [
            code.co_name,
            code.co_code.hex(),
            code.co_exceptiontable.hex(),
            repr(code.co_names),
            repr(code.co_varnames),
            repr(code.co_freevars),
            repr(code.co_cellvars),
            repr((code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount)),
            str(code.co_flags),
            *(_const_text(c) for c in consts),
        ]
    )


def _loads_const_zero(code: CodeType) -> bool:
    return any(i.opcode in dis.hasconst and i.arg == 0 for i in dis.get_instructions(code))


def _const_text(value: object) -> str:
    if isinstance(value, CodeType):
        return "code(" + bytecode_text(value) + ")"
    if isinstance(value, tuple):
        return "(" + ",".join(_const_text(v) for v in value) + ")"
    if isinstance(value, frozenset):  # `x in {"a", "b"}`: iteration order follows the hash seed
        return "frozenset(" + ",".join(sorted(_const_text(v) for v in value)) + ")"
    return f"{type(value).__name__}:{value!r}"


_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_ATTRIBUTE_LOADS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})


# One entry per function of a large project, and the least recently used go first: every
# load reads all of its code, so what an edit replaced is what is dropped.
@functools.lru_cache(maxsize=1 << 15)
def global_chains(code: CodeType) -> frozenset[tuple[str, ...]]:
    """Each global read by ``code`` or the code nested in it, with the attributes read right
    after it: ``helpers.clean(x)`` gives ("helpers", "clean"), so a module's member can be
    resolved in that module. Only names and attributes are followed, never values."""
    chains: set[tuple[str, ...]] = set()
    for nested in _code_tree(code):
        chain: list[str] = []
        for instruction in dis.get_instructions(nested):
            if instruction.opname == "EXTENDED_ARG":
                continue
            if instruction.opname in _ATTRIBUTE_LOADS and chain:
                chain.append(instruction.argval)
                continue
            if chain:
                chains.add(tuple(chain))
            chain = [instruction.argval] if instruction.opname in _GLOBAL_LOADS else []
        if chain:
            chains.add(tuple(chain))
    return frozenset(chains)


def _code_tree(code: CodeType) -> Iterator[CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _code_tree(const)
