"""Automatic code versions: an asset's version changes when what it computes may have changed.

Staleness compares the code version an asset was materialized with to the current one, so the
version has to be right both ways: a comment, a reformat or a new docstring must not make a
thousand assets look stale, and an edit to a helper two modules away must not go unnoticed.
So the version hashes, with layout and docstrings removed, the asset's source and the source of
every project function and class it reaches, the values of the constants they read, the name
and version of the libraries they call, and the decorator arguments that shape what is computed
or stored. An explicit ``code_version`` is taken as given.
"""

from __future__ import annotations

import builtins
import functools
import operator
import sys
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import CellType, CodeType, FunctionType, ModuleType
from typing import Any

from ..declarations.asset import AssetsDefinition
from ..declarations.checks import AssetCheckKey, AssetChecksDefinition, AssetCheckSpec
from ..declarations.keys import AssetKey
from ..declarations.metadata import metadata_to_json
from .normalize import (
    ParsedSource,
    bytecode_text,
    decorator_roots,
    digest,
    dump_function,
    find_class,
    find_function,
    forget_parsed,
    global_chains,
    known_imports,
    parse_source,
    read_source,
    remember_imports,
)
from .origin import Origins
from .source_cache import SourceCache, StoredFunction
from .values import Describer, Edge, annotation_text

Node = AssetsDefinition | AssetChecksDefinition


@dataclass(frozen=True, slots=True)
class CodeVersion:
    value: str  # the explicit code_version, or a 16-hex-char hash
    origin: str  # "explicit", "source" or "bytecode"
    note: str | None = None  # why bytecode was used


def code_versions(
    nodes: Iterable[AssetsDefinition | AssetChecksDefinition],
    *,
    root: Path | None,
    sources: Mapping[str, str] | None = None,
    cache: Path | None = None,
) -> dict[AssetKey | AssetCheckKey, CodeVersion]:
    """The code version of every asset and check; external assets (AssetSpec) have none.

    ``root`` is the project directory: code under it is hashed from source, code elsewhere is
    identified by its distribution's name and version. ``sources`` maps file names to the text
    that was compiled, for when a file may have changed on disk since it was imported.
    ``cache``: a directory where what was read of each file is kept for the next process.
    """
    resolver = _Resolver(root, sources, SourceCache(cache))
    versioned = [n for n in nodes if isinstance(n, AssetsDefinition | AssetChecksDefinition)]
    # File by file (a location lists its assets, then its checks): each file's parse is then
    # asked for while it is among the few parse_source keeps.
    found = {n.key: resolver.version(n) for n in sorted(versioned, key=_file_of)}
    resolver.stored.save()
    # A reload versions only the definitions it did not keep, of the files it ran again: it
    # parses those anyway, and trees kept alive for the others would only be walked by
    # every full collection (4 files of the scale project: ~20 MB of nodes).
    forget_parsed()
    return {n.key: found[n.key] for n in versioned}


def _file_of(node: Node) -> str:
    return str(getattr(getattr(node.fn, "__code__", None), "co_filename", ""))


def code_version_of(
    node: AssetsDefinition | AssetChecksDefinition,
    *,
    root: Path | None,
    sources: Mapping[str, str] | None = None,
) -> CodeVersion:
    return _Resolver(root, sources, SourceCache(None)).version(node)


# What ``_definition`` reads of a check (False) and of an asset (True).
_DEFINITION_READS = {
    False: operator.attrgetter(
        "fn",
        "inputs",
        "deps",
        "metadata",
        "required_resource_keys",
        "key",
        "blocking",
    ),
    True: operator.attrgetter(
        "fn",
        "composed_of",
        "inputs",
        "deps",
        "metadata",
        "required_resource_keys",
        "key",
        "io_manager_key",
        "special",
        "partitions_def",
        "partition_mappings",
        "backfill_policy",
        "retry_policy",
        "check_specs",
        "output_annotation",
    ),
}
# Each function's source text as hashed, while its file's text and its code are the same,
# with the hash of that text, what its names were last bound to and the global chains its
# code reads: a reload that kept its module finds it here without parsing the file again
# or reading the source cache. Nothing in the value leads back to the function, so an
# entry goes with it.
_Kept = tuple[str, CodeType, str, list[str], str, Iterable[tuple[str, ...]]]
_SOURCES: weakref.WeakKeyDictionary[FunctionType, _Kept] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class _Item:
    """One piece of project code: its own hash (source, and what each name it reads is bound
    to) and the project code it reaches, hashed as items of their own."""

    identity: str
    local: str
    edges: tuple[Edge, ...]
    note: str | None = None


class _Resolver:
    """Caches for one call: each file is read once, each function hashed once, whatever the
    number of assets that share it. What outlives the call is keyed by what it is made from
    (a file's text, a code object: see normalize); what names are bound to is read afresh."""

    def __init__(
        self, root: Path | None, sources: Mapping[str, str] | None, stored: SourceCache
    ) -> None:
        self._root = root
        self.stored = stored
        self._values = Describer(Origins(root))
        self._sources = sources or {}
        # Each file's text, read once per call; its parse is shared through parse_source,
        # which keeps only a few trees (a tree is ~75 times its text in memory).
        self._texts: dict[str, str | None] = {}
        # By id, holding the object so its id cannot be reused while the call runs.
        self._items: dict[int, tuple[object, _Item]] = {}

    def version(self, node: Node) -> CodeVersion:
        if isinstance(node, AssetsDefinition) and node.code_version is not None:
            return CodeVersion(node.code_version, "explicit")
        edges: list[Edge] = []
        definition = self._definition(node, edges)
        # The set of reachable items, not a nested hash: cycles terminate, and the version
        # does not depend on which asset first reached a shared helper.
        items = self._reachable(edges)
        value = digest(definition, *sorted(f"{i.identity}\x1f{i.local}" for i in items))
        notes = sorted({i.note for i in items if i.note is not None})
        if notes:
            return CodeVersion(value, "bytecode", "; ".join(notes))
        return CodeVersion(value, "source")

    def _reachable(self, start: list[Edge]) -> list[_Item]:
        seen: set[int] = set()
        stack = list(start)
        found: list[_Item] = []
        while stack:
            obj = stack.pop()
            if id(obj) not in seen:
                seen.add(id(obj))
                item = self._item(obj)
                found.append(item)
                stack.extend(item.edges)
        return found

    def _item(self, obj: Edge) -> _Item:
        cached = self._items.get(id(obj))
        if cached is None:
            if isinstance(obj, FunctionType):
                item = self._function_item(obj)
            elif isinstance(obj, type):
                item = self._class_item(obj)
            else:
                item = self._module_item(obj)
            cached = self._items[id(obj)] = (obj, item)
        return cached[1]

    def _definition(self, node: Node, edges: list[Edge]) -> str:
        """The decorator arguments that change what is computed or stored; the descriptive
        ones (description, group, owners, tags, kinds) are left out.

        Kept on the node between calls, for as long as it holds the same objects: a
        definition is not changed in place (as in Dagster, copies are made instead), and
        describing its arguments is most of the cost of versioning an unchanged asset."""
        read = _DEFINITION_READS[type(node) is not AssetChecksDefinition](node)
        cached = node._described
        if (
            cached is not None
            and (cached[0] is self._root or cached[0] == self._root)
            and all(map(operator.is_, cached[1], read))
        ):
            edges.extend(cached[3])
            return cached[2]
        found: list[Edge] = []
        text = self._describe_definition(node, found)
        node._described = (self._root, read, text, tuple(found))
        edges.extend(found)
        return text

    def _describe_definition(self, node: Node, edges: list[Edge]) -> str:
        values = self._values

        def d(value: object) -> str:  # not a partial: with keywords it costs 3x the call
            return values.describe(value, edges)

        parts = {
            "fn": d(getattr(node, "composed_of", ()) or node.fn),
            "inputs": d(tuple((i.param, i.key.path, dict(i.metadata)) for i in node.inputs)),
            "deps": d(sorted(k.path for k in node.deps)),
            "metadata": d(metadata_to_json(node.metadata)),
            "resources": d(sorted(node.required_resource_keys)),
        }
        if isinstance(node, AssetChecksDefinition):
            parts["key"] = d((node.key.asset_key.path, node.key.name))
            parts["blocking"] = d(node.blocking)
        else:
            parts["key"] = d(node.key.path)
            parts["io_manager_key"] = d(node.io_manager_key)
            parts["config"] = d(node.special.config)
            parts["partitions_def"] = d(node.partitions_def)
            parts["partition_mappings"] = d(
                sorted((k.path, m) for k, m in node.partition_mappings.items())
            )
            parts["backfill_policy"] = d(node.backfill_policy)
            parts["retry_policy"] = d(node.retry_policy)
            parts["check_specs"] = d(tuple(_check_spec(s) for s in node.check_specs))
            parts["output"] = annotation_text(node.output_annotation)
        return digest(*(f"{name}={text}" for name, text in sorted(parts.items())))

    def _function_item(self, fn: FunctionType) -> _Item:
        code = fn.__code__
        identity = f"{fn.__module__}:{fn.__qualname__}"
        source = self._text(code.co_filename)
        edges: list[Edge] = []
        kept = _SOURCES.get(fn)
        if kept is not None and kept[1] is code and source is not None and kept[0] == source:
            refs = self._code_references(fn, edges, kept[5])
            if kept[3] != refs:
                kept = _SOURCES[fn] = (*kept[:3], refs, digest("source", kept[2], *refs), kept[5])
            return _Item(identity, kept[4], (*edges,))
        stored = self.stored.get(source, code) if source is not None else None
        chains = stored.chains if stored is not None else global_chains(code)
        refs = self._code_references(fn, edges, chains)
        text = None
        if stored is not None and stored.keeps == _keeps(fn.__globals__, stored.roots):
            text = stored.text
        elif source is not None and (parsed := self._parse(code.co_filename)) is not None:
            node = find_function(parsed, code)
            if node is not None:
                roots = decorator_roots(node)
                keeps = _keeps(fn.__globals__, roots)
                text = dump_function(parsed, node, keeps)
                self.stored.put(source, code, StoredFunction(roots, keeps, text, chains))
        if text is not None and source is not None:
            local = digest("source", text, *refs)
            _SOURCES[fn] = (source, code, text, refs, local, chains)
            return _Item(identity, local, (*edges,))
        where = (
            f"({code.co_filename}) cannot be read"
            if source is None or self._parse(code.co_filename) is None
            else f"cannot be found in {code.co_filename} at line {code.co_firstlineno}"
        )
        note = f"source of {fn.__qualname__} {where}: versioned from its bytecode"
        return _Item(identity, digest("bytecode", bytecode_text(code), *refs), (*edges,), note)

    def _code_references(
        self, fn: FunctionType, edges: list[Edge], chains: Iterable[tuple[str, ...]] | None = None
    ) -> list[str]:
        """What each name the function reads is bound to: globals (followed into modules),
        closure cells and defaults. Values, not names, so factory-made functions that share
        one code object still differ. ``chains``: its global chains, if known already."""
        refs: set[str] = set()
        for chain in global_chains(fn.__code__) if chains is None else chains:
            ref = self._global(chain, fn.__globals__, edges)
            if ref is not None:
                refs.add(ref)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True):
            refs.add(f"closure {name}={self._cell(cell, edges)}")
        if fn.__defaults__:
            refs.add(f"defaults={self._values.describe(fn.__defaults__, edges)}")
        if fn.__kwdefaults__:
            refs.add(f"kwdefaults={self._values.describe(fn.__kwdefaults__, edges)}")
        return sorted(refs)

    def _cell(self, cell: CellType, edges: list[Edge]) -> str:
        try:
            value = cell.cell_contents
        except ValueError:  # not yet assigned when the function was made
            return "empty"
        return self._values.describe(value, edges)

    def _global(
        self, chain: tuple[str, ...], namespace: Mapping[str, Any], edges: list[Edge]
    ) -> str | None:
        name = chain[0]
        if name not in namespace:
            return None if hasattr(builtins, name) else f"{name} unbound"
        value = namespace[name]
        label = name
        for attribute in chain[1:]:
            # The module's own dict, not getattr: a lazy module __getattr__ would import.
            if not isinstance(value, ModuleType) or attribute not in vars(value):
                break
            value = vars(value)[attribute]
            label += "." + attribute
        return f"{label}={self._values.describe(value, edges)}"

    def _class_item(self, cls: type) -> _Item:
        filename = getattr(sys.modules.get(cls.__module__), "__file__", None)
        edges: list[Edge] = []
        refs = {f"base {self._values.describe(b, edges)}" for b in cls.__bases__ if b is not object}
        methods: list[FunctionType] = []
        for name, value in vars(cls).items():
            own = [f for f in _functions_in(value) if _defined_in(f, cls, filename)]
            for method in own:
                refs.update(self._code_references(method, edges))
            methods.extend(own)
            # The rest of the class body is in its source; what the interpreter adds
            # (dunders, enum's _sunder_ names) is derived from it.
            if not own and not _is_special(name):
                refs.add(f"{name}={self._values.describe(value, edges)}")
        identity = f"{cls.__module__}:{cls.__qualname__}"
        parsed = self._parse(filename) if isinstance(filename, str) else None
        nodes = find_class(parsed, cls) if parsed is not None else []
        if parsed is not None and nodes:
            text = "\x1e".join(parsed.dump(n) for n in nodes)
            return _Item(identity, digest("source", text, *sorted(refs)), (*edges,))
        code = "\x1e".join(sorted(bytecode_text(f.__code__) for f in methods))
        where = f"({filename}) cannot be read" if parsed is None else f"is not in {filename}"
        note = f"source of class {cls.__qualname__} {where}: versioned from its bytecode"
        return _Item(identity, digest("bytecode", code, *sorted(refs)), (*edges,), note)

    def _module_item(self, module: ModuleType) -> _Item:
        """A project module used as a value (``getattr(helpers, name)``): all of its source."""
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):  # a namespace package has no code of its own
            return _Item(module.__name__, digest("namespace"), ())
        parsed = self._parse(file)
        if parsed is not None:
            return _Item(module.__name__, digest("source", parsed.dump(parsed.tree)), ())
        note = f"source of module {module.__name__} ({file}) cannot be read: versioned by name"
        return _Item(module.__name__, digest("unreadable"), (), note)

    def _parse(self, filename: str) -> ParsedSource | None:
        text = self._text(filename)
        if text is None:
            return None
        parsed = parse_source(text, filename)
        if parsed is not None:
            self.stored.put_imports(text, parsed.imports)
        return parsed

    def _text(self, filename: str) -> str | None:
        if filename not in self._texts:
            text = self._texts[filename] = self._read(filename)
            if text is not None and known_imports(text, filename) is None:
                stored = self.stored.imports(text)
                if stored is not None:
                    remember_imports(text, filename, stored)
        return self._texts[filename]

    def _read(self, filename: str) -> str | None:
        text = self._sources.get(filename)
        if text is not None or filename.startswith("<"):
            return text
        return read_source(filename)


def _keeps(namespace: Mapping[str, Any], roots: tuple[str | None, ...]) -> tuple[bool, ...]:
    """Which decorators stay in the source, by the global each starts from: Millrace's own
    are left out, as what their arguments change is hashed from the definition, and what they
    only describe must not change the version."""
    return tuple(_keeps_decorator(namespace, root) for root in roots)


def _keeps_decorator(namespace: Mapping[str, Any], root: str | None) -> bool:
    if root is None or root not in namespace:
        return True
    value = namespace[root]
    module = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", "")
    return not (isinstance(module, str) and module.partition(".")[0] == "millrace")


def _functions_in(value: object) -> list[FunctionType]:
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if isinstance(value, property):
        candidates: list[object] = [value.fget, value.fset, value.fdel]
    elif isinstance(value, functools.cached_property):
        candidates = [value.func]
    else:
        candidates = [value]
    return [c for c in candidates if isinstance(c, FunctionType)]


def _defined_in(fn: FunctionType, cls: type, filename: str | None) -> bool:
    # dataclass and pydantic generate methods from strings; the class's source covers them.
    inside = fn.__qualname__.startswith(cls.__qualname__ + ".")
    return inside and (filename is None or fn.__code__.co_filename == filename)


def _is_special(name: str) -> bool:
    return len(name) > 2 and name[0] == name[-1] == "_"


def _check_spec(spec: AssetCheckSpec) -> tuple[Any, ...]:
    deps = tuple(sorted(k.path for k in spec.additional_deps))
    return (spec.name, spec.asset_key.path, spec.blocking, deps)
