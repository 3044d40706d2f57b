"""Property-based tests (issue 14, item 15): for every generated input, Millrace works or raises
a MillraceError subclass whose message names the bad input; never another exception type,
never a traceback from Millrace's own frames in the CLI, never a write outside the home.

Inputs: ``--select`` strings and AssetSelection algebra, asset key components, partition keys,
``-c ASSET.FIELD=VALUE`` overrides and config documents (dicts, JSON/YAML text, raw bytes),
metadata values, log lines up to 1 MiB, and the CLI itself.

Every check catches only the documented error type (``attempt``): anything else propagates and
fails the property. Known failures are pinned with ``@example`` so they stay regression tests.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pytest
import yaml
from conftest import run_cli, write_source
from hypothesis import example, given, settings
from hypothesis import strategies as st
from millrace import AssetIn, AssetKey, AssetSelection, AssetSpec, Definitions, Output, asset
from millrace import materialize as run_materialize
from millrace.declarations.config import (
    RUN_CONFIG_KEYS,
    Config,
    ConfigError,
    load_config_file,
    merge_run_config,
    parse_config_overrides,
    resolve_asset_configs,
)
from millrace.declarations.keys import InvalidAssetKeyError, coerce_key
from millrace.declarations.metadata import metadata_to_json, normalize_metadata
from millrace.errors import MillraceError, SelectionError, StorageError
from millrace.selection import STATUSES, parse_selection, resolve_selection
from millrace.storage.io_managers import InputContext, OutputContext, ParquetIOManager
from millrace.storage.paths import PARTITION_PREFIX, key_path, partition_name

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


def attempt(fn: Callable[[], T], error: type[E] = MillraceError) -> tuple[T | None, E | None]:
    """``(result, None)``, or ``(None, exc)`` if ``fn`` raised ``error``. Only ``error`` is
    caught: any other exception propagates and fails the property."""
    try:
        return fn(), None
    except error as exc:
        return None, exc


def nest(depth: int, leaf: Any = 0) -> Any:
    """``[[...[leaf]...]]``, ``depth`` lists deep, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


class Deep:
    """Stands for ``nest(depth)`` in generated data, so that Hypothesis can print a failing
    example (its printer recurses); ``unwrap`` builds the real value."""

    __slots__ = ("depth",)

    def __init__(self, depth: int) -> None:
        self.depth = depth

    def __repr__(self) -> str:
        return f"Deep({self.depth})"


def unwrap(value: Any) -> Any:
    """``value`` with every Deep replaced by the nested lists it stands for."""
    if isinstance(value, Deep):
        return nest(value.depth)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


@contextmanager
def unlimited_int_digits() -> Iterator[None]:
    """Lets the test itself write a huge int as text (Python refuses > 4300 digits)."""
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(old)


def same_json(expected: Any, actual: Any) -> bool:
    """Equal as JSON data, NaN equal to NaN, compared without recursion (deep values)."""
    stack = [(expected, actual)]
    while stack:
        a, b = stack.pop()
        if type(a) is not type(b):
            return False
        if isinstance(a, dict):
            if list(a) != list(b):
                return False
            stack.extend((a[k], b[k]) for k in a)
        elif isinstance(a, list):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b, strict=True))
        elif isinstance(a, float) and math.isnan(a):
            if not math.isnan(b):
                return False
        elif a != b:
            return False
    return True


HUGE_INT = 10**4300  # 4301 digits: one more than Python converts to text by default

# -- selection: a small fixed graph ----------------------------------------------------------
#
#  external -> raw_customers --.
#  raw_orders -> clean --------+-> features -> ml/model -> report


@asset(group_name="raw", tags={"tier": "bronze"})
def raw_orders():
    return 1


@asset(group_name="raw", tags={"tier": "bronze"}, deps=["external"])
def raw_customers():
    return 1


@asset(group_name="features", deps=[raw_orders])
def clean():
    return 1


@asset(group_name="features", tags={"tier": "gold"}, deps=[clean, raw_customers])
def features():
    return 1


@asset(group_name="ml", key_prefix="ml", tags={"tier": "gold", "owner": "ml"}, deps=[features])
def model():
    return 1


@asset(group_name="ml", ins={"model": AssetIn(key=["ml", "model"])})
def report(model):
    return model


GRAPH = Definitions(
    assets=[AssetSpec("external"), raw_orders, raw_customers, clean, features, model, report]
).graph
K = AssetKey.from_user_string
UPSTREAM = {
    K("external"): (),
    K("raw_orders"): (),
    K("raw_customers"): (K("external"),),
    K("clean"): (K("raw_orders"),),
    K("features"): (K("clean"), K("raw_customers")),
    K("ml/model"): (K("features"),),
    K("report"): (K("ml/model"),),
}
DOWNSTREAM = {k: tuple(d for d, ups in UPSTREAM.items() if k in ups) for k in UPSTREAM}
GROUPS = {
    "default": {K("external")},
    "raw": {K("raw_orders"), K("raw_customers")},
    "features": {K("clean"), K("features")},
    "ml": {K("ml/model"), K("report")},
}
TAGS = {
    K("raw_orders"): {"tier": "bronze"},
    K("raw_customers"): {"tier": "bronze"},
    K("features"): {"tier": "gold"},
    K("ml/model"): {"tier": "gold", "owner": "ml"},
}
EXECUTABLE = set(UPSTREAM) - {K("external")}
STATUS_OF = {
    K("raw_orders"): "fresh",
    K("raw_customers"): "stale",
    K("clean"): "missing",
    K("features"): "failed",
    K("ml/model"): "running",
    K("report"): "stale",
}
KEY_NAMES = ["raw_orders", "raw_customers", "clean", "features", "ml/model", "report", "external"]
NEAR_KEYS = ["raw_order", "ml/modle", "ml//model", "ML/model", "model", "/report", "report/", ""]
GROUP_NAMES = [*GROUPS, "ml2", "", "Raw"]
TAG_KEYS = ["tier", "owner", "", "tie"]
TAG_VALUES = [None, "gold", "bronze", "ml", "", "Gold"]
STATUS_NAMES = [*STATUSES, "", "stal", "STALE"]


def test_the_oracle_describes_the_graph() -> None:
    assert GRAPH.upstream == UPSTREAM
    assert {g: set(keys) for g, keys in GRAPH.groups().items()} == GROUPS
    assert {k: dict(n.tags) for k, n in GRAPH.nodes.items() if n.tags} == TAGS
    assert {k for k, n in GRAPH.nodes.items() if n.is_executable} == EXECUTABLE


def closure(start: set[AssetKey], edges: dict[AssetKey, tuple[AssetKey, ...]], depth: int | None):
    seen, frontier, level = set(start), set(start), 0
    while frontier and (depth is None or level < depth):
        frontier = {o for k in frontier for o in edges[k]} - seen
        seen |= frontier
        level += 1
    return seen


def names_selection_input(message: str, text: str) -> bool:
    """The message names the whole text, one of its terms, or a term's body (key, group,
    tag or status), as the user wrote it or quoted/repr'd."""
    terms = [t.strip() for t in text.split(",") if t.strip()]
    candidates = set(terms)
    for term in terms:
        body = term.strip("*+")
        candidates.add(body)
        for prefix in ("group:", "tag:", "status:", "key:"):
            if body.startswith(prefix):
                rest = body[len(prefix) :]
                candidates.update({rest, *rest.partition("=")[::2]})
    if text.strip() and text in message:  # "<text> matches no asset"
        return True
    return any(f"'{c}'" in message or repr(c) in message for c in candidates)


def check_selection_error(error: SelectionError, text: str) -> None:
    message = str(error)
    if not [t for t in text.split(",") if t.strip()]:
        assert message.startswith("Empty selection"), message
    else:
        assert names_selection_input(message, text), (message, text)


selection_alphabet = st.sampled_from("abcdefgilmnoprstuwy_/:=*+, \t\n.-\x00é")
term_bodies = st.one_of(
    st.sampled_from(KEY_NAMES + NEAR_KEYS),
    st.sampled_from(GROUP_NAMES).map("group:{}".format),
    st.tuples(st.sampled_from(TAG_KEYS), st.sampled_from(TAG_VALUES)).map(
        lambda kv: f"tag:{kv[0]}" if kv[1] is None else f"tag:{kv[0]}={kv[1]}"
    ),
    st.sampled_from(STATUS_NAMES).map("status:{}".format),
    st.sampled_from(KEY_NAMES + NEAR_KEYS).map("key:{}".format),
    st.text(selection_alphabet.filter(lambda c: c != ","), max_size=12),
)
terms = st.builds(
    lambda up, body, down, pad: f"{pad}{up}{body}{down}{pad}",
    st.sampled_from(["", "*", "+", "++", "+++", "*+"]),
    term_bodies,
    st.sampled_from(["", "*", "+", "++", "+*"]),
    st.sampled_from(["", " ", "\t"]),
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(), st.text(selection_alphabet), st.lists(terms, max_size=4).map(",".join)))
@example("")
@example(" , ,")
@example("status:stale")
@example("tag:")
@example("group:")
@example("**")
@example("+*raw_orders")
def test_selection_strings_resolve_or_name_the_bad_term(text: str) -> None:
    keys, error = attempt(lambda: resolve_selection(text, GRAPH, STATUS_OF), SelectionError)
    if error is not None:
        check_selection_error(error, text)
    else:
        assert keys and keys <= set(GRAPH.nodes)


@settings(max_examples=150, deadline=None)
@given(st.lists(terms, min_size=1, max_size=5))
def test_a_comma_list_selects_the_union_of_its_terms(parts: list[str]) -> None:
    """``a,b`` is ``a`` | ``b``; if a term is bad, the whole fails with that term's error."""
    text = ",".join(parts)
    whole, whole_error = attempt(lambda: resolve_selection(text, GRAPH, STATUS_OF), SelectionError)
    outcomes = [
        attempt(lambda p=p: parse_selection(p).resolve(GRAPH, STATUS_OF), SelectionError)
        for p in parts
        if p.strip()
    ]
    errors = [str(e) for _, e in outcomes if e is not None]
    union = set().union(*(keys for keys, e in outcomes if e is None))
    if not outcomes:
        assert whole_error is not None and str(whole_error).startswith("Empty selection")
    elif errors:
        assert whole_error is not None and str(whole_error) in errors, (whole_error, errors)
    elif not union:
        assert whole_error is not None and str(whole_error) == f"{text} matches no asset"
    else:
        assert whole_error is None, whole_error
        assert whole == union


# -- AssetSelection algebra ------------------------------------------------------------------

Leaf = tuple[Any, ...]

leaves: st.SearchStrategy[Leaf] = st.one_of(
    st.tuples(
        st.just("keys"),
        st.lists(
            st.sampled_from([*KEY_NAMES, "raw_order", "ml/modle", "ML/model", "model"]), max_size=2
        ),
    ),
    st.tuples(st.just("groups"), st.lists(st.sampled_from(GROUP_NAMES), max_size=2)),
    st.tuples(st.just("tag"), st.sampled_from(TAG_KEYS[:2]), st.sampled_from(TAG_VALUES)),
    st.tuples(st.just("status"), st.lists(st.sampled_from(STATUSES), min_size=1, max_size=2)),
    st.tuples(st.just("all"), st.booleans()),
    st.tuples(st.just("prefixes"), st.lists(st.sampled_from(["ml", "raw_orders", "x"]))),
)
lineages = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(["upstream", "downstream"]),
        st.sampled_from([None, 0, 1, 2, 3]),
        st.booleans(),
    ),
)


def build_leaf(leaf: Leaf, lineage: tuple[str, int | None, bool] | None) -> AssetSelection:
    kind, *args = leaf
    if kind == "keys":
        selection = AssetSelection.keys(*args[0])
    elif kind == "groups":
        selection = AssetSelection.groups(*args[0])
    elif kind == "tag":
        selection = AssetSelection.tag(*args)
    elif kind == "status":
        selection = AssetSelection.status(*args[0])
    elif kind == "all":
        selection = AssetSelection.all(include_sources=args[0])
    else:
        selection = AssetSelection.key_prefixes(*args[0])
    if lineage is not None:
        direction, depth, include_self = lineage
        selection = getattr(selection, direction)(depth=depth, include_self=include_self)
    return selection


def expected_leaf(leaf: Leaf, lineage: tuple[str, int | None, bool] | None) -> set[AssetKey] | str:
    """The keys a leaf selects, or the name an error must mention."""
    kind, *args = leaf
    if kind == "keys":
        unknown = [n for n in args[0] if K(n) not in UPSTREAM]
        if unknown:
            return unknown[0]
        found = {K(n) for n in args[0]}
    elif kind == "groups":
        unknown = [g for g in args[0] if g not in GROUPS]
        if unknown:
            return unknown[0]
        found = set().union(*(GROUPS[g] for g in args[0]))
    elif kind == "tag":
        key, value = args
        found = {k for k, t in TAGS.items() if key in t and (value is None or t[key] == value)}
    elif kind == "status":
        found = {k for k, s in STATUS_OF.items() if s in args[0]}
    elif kind == "all":
        found = set(UPSTREAM) if args[0] else set(EXECUTABLE)
    else:
        found = {k for k in UPSTREAM for p in args[0] if k.path[:1] == (p,)}
    if lineage is not None:
        direction, depth, include_self = lineage
        edges = UPSTREAM if direction == "upstream" else DOWNSTREAM
        reached = closure(found, edges, depth)
        found = reached if include_self else reached - found
    return found


def test_lineage_of_every_key_at_every_depth_matches_the_oracle() -> None:
    for key in UPSTREAM:
        for depth in (None, 0, 1, 2, 3, 4):
            for include_self in (True, False):
                for direction in ("upstream", "downstream"):
                    lineage = (direction, depth, include_self)
                    leaf = ("keys", [key.to_user_string()])
                    assert build_leaf(leaf, lineage).resolve(GRAPH) == expected_leaf(leaf, lineage)


OPS: dict[str, Callable[[set[AssetKey], set[AssetKey]], set[AssetKey]]] = {
    "|": set.__or__,
    "&": set.__and__,
    "-": set.__sub__,
}
OPS_SEL: dict[str, Callable[[AssetSelection, AssetSelection], AssetSelection]] = {
    "|": AssetSelection.__or__,
    "&": AssetSelection.__and__,
    "-": AssetSelection.__sub__,
}


@settings(max_examples=60, deadline=None)
@given(
    first=st.tuples(leaves, lineages),
    rest=st.lists(st.tuples(st.sampled_from("|&-"), leaves, lineages), max_size=6),
    repeat=st.sampled_from([1, 2, 3000]),
    right=st.booleans(),
    wrap=st.sampled_from([0, 1, 3000]),
)
@example(  # a 3000-deep left chain of |: one spliced node, no recursion
    first=(("keys", ["raw_orders"]), None),
    rest=[("|", ("keys", ["clean"]), None)],
    repeat=3000,
    right=False,
    wrap=0,
)
@example(  # a 3000-deep right chain of - under 3000 lineage wrappers
    first=(("all", False), None),
    rest=[("-", ("groups", ["raw"]), ("upstream", 1, True))],
    repeat=3000,
    right=True,
    wrap=3000,
)
def test_selection_algebra_matches_set_semantics_at_any_depth(
    first: tuple[Leaf, Any],
    rest: list[tuple[str, Leaf, Any]],
    repeat: int,
    right: bool,
    wrap: int,
) -> None:
    """Chains of ``|``/``&``/``-`` (left- or right-nested, thousands deep, under thousands of
    ``.upstream(0)``/``.downstream(0)`` no-ops) resolve to the set an oracle computes, or
    raise a SelectionError naming an unknown key or group; never a RecursionError."""
    chain = [("|", *first), *(rest * repeat)][:3001]
    ops = [op for op, _, _ in chain]
    nodes = [build_leaf(leaf, lineage) for _, leaf, lineage in chain]
    oracle: dict[str, set[AssetKey] | str] = {}  # a deep chain repeats a few leaves
    wanted = []
    for _, leaf, lineage in chain:
        name = repr((leaf, lineage))
        if name not in oracle:
            oracle[name] = expected_leaf(leaf, lineage)
        wanted.append(oracle[name])
    bad_names = {w for w in wanted if isinstance(w, str)}
    sets = [w for w in wanted if not isinstance(w, str)]
    if right:  # s0 op1 (s1 op2 (s2 ...)), built and evaluated from the end
        selection = nodes[-1]
        for i in range(len(nodes) - 2, -1, -1):
            selection = OPS_SEL[ops[i + 1]](nodes[i], selection)
        if not bad_names:
            expected = sets[-1]
            for i in range(len(sets) - 2, -1, -1):
                expected = OPS[ops[i + 1]](sets[i], expected)
    else:  # ((s0 op1 s1) op2 s2) ...
        selection = nodes[0]
        for i in range(1, len(nodes)):
            selection = OPS_SEL[ops[i]](selection, nodes[i])
        if not bad_names:
            expected = sets[0]
            for i in range(1, len(sets)):
                expected = OPS[ops[i]](expected, sets[i])
    for i in range(wrap):
        selection = selection.upstream(0) if i % 2 else selection.downstream(0)
    keys, error = attempt(lambda: selection.resolve(GRAPH, STATUS_OF), SelectionError)
    if bad_names:
        assert error is not None, keys
        assert any(f"'{name}'" in str(error) for name in bad_names), (str(error), bad_names)
    else:
        assert error is None, error
        assert keys == expected
        assert selection.needs_statuses == any(leaf[0] == "status" for _, leaf, _ in chain)


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(["keys", "groups", "tag", "status", "key_prefixes"]),
    value=st.one_of(st.text(), st.sampled_from(KEY_NAMES + NEAR_KEYS + GROUP_NAMES)),
    tag_value=st.one_of(st.none(), st.text()),
)
def test_selection_constructors_take_any_text(kind: str, value: str, tag_value: str | None):
    """Building and resolving ``AssetSelection.keys(text)`` (and groups, tag, status,
    key_prefixes) works or raises a SelectionError that names the text."""

    def build_and_resolve() -> set[AssetKey]:
        if kind == "tag":
            selection = AssetSelection.tag(value, tag_value)
        else:
            selection = getattr(AssetSelection, kind)(value)
        return resolve_selection(selection, GRAPH, STATUS_OF)

    keys, error = attempt(build_and_resolve, SelectionError)
    if error is None:
        assert keys and keys <= set(GRAPH.nodes)
        return
    message = str(error)
    written = [value]
    if kind == "tag":  # named as the --select term it would be
        written.append(f"tag:{value}" if tag_value is None else f"tag:{value}={tag_value}")
    assert message == "the selection matches no asset" or any(
        repr(w) in message or f"'{w}'" in message for w in written
    ), message


# -- asset key components --------------------------------------------------------------------

RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{d}{i}" for d in ("COM", "LPT") for i in range(10))}


def portable_file_name(name: str) -> bool:
    """A name Linux, macOS and Windows all keep as given (the oracle, independent of keys.py)."""
    return (
        bool(name)
        and name not in (".", "..")
        and not any(c in '/\\<>:"|?*' or ord(c) < 32 for c in name)
        and not name.endswith((".", " "))
        and name.split(".", 1)[0].upper() not in RESERVED
    )


tricky_components = st.sampled_from(
    [
        "..",
        ".",
        "",
        "a/b",
        "a\\b",
        "a\x00b",
        "\x00",
        "CON",
        "con",
        "nul.txt",
        "COM1",
        "lpt9.x",
        "Con.",
        "AUX.tar.gz",
        "CONIN$",
        "name.",
        ".hidden",
        "é",
        "ä" * 200,
        "x" * 300,
        "a b",
        "a\n",
        "\u202e",
        "ok",
        "ok.v2",
        "-",
        "_",
        "ß",
        "COM¹",
        "a:b",
        "a*b",
    ]
)
components = st.one_of(
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}[A-Za-z0-9_-]", fullmatch=True),
    tricky_components,
    st.text(max_size=30),
)


def check_key(parts: list[str], make: Callable[[], AssetKey], base: Path) -> AssetKey | None:
    key, error = attempt(make, InvalidAssetKeyError)
    if error is not None:
        assert isinstance(error, MillraceError) and isinstance(error, ValueError)
        message = str(error)
        if not parts:
            assert message == "AssetKey needs at least one path component"
        else:
            assert any(
                message.startswith(f"Invalid asset key component {p!r} in ") for p in parts
            ), message
        return None
    assert key is not None and list(key.path) == parts
    assert all(portable_file_name(p) for p in parts), parts
    root = os.path.realpath(base)
    for partition in (None, "p", "../../x"):
        path = os.path.realpath(key_path(base, key, partition))
        assert os.path.commonpath([root, path]) == root and path != root, (path, root)
    return key


@settings(max_examples=200, deadline=None)
@given(st.lists(components, max_size=4))
@example([".."])
@example(["a", "..", "b"])
@example(["CON"])
@example(["x" * 300])
def test_asset_key_components_are_portable_names_inside_the_store(
    tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    base = tmp_path_factory.getbasetemp() / "key-base"
    check_key(parts, lambda: AssetKey(parts), base)
    text = "/".join(parts)
    check_key(text.split("/"), lambda: AssetKey.from_user_string(text), base)
    check_key(text.split("/"), lambda: coerce_key(text), base)


@settings(max_examples=25, deadline=None)
@given(st.lists(components, min_size=1, max_size=3))
@example(["x" * 300])  # a file name too long: a StorageError
@example(["x" * 256, "a"])  # a directory name too long: OSError from files._why
def test_a_valid_key_stores_and_loads_inside_base_dir_or_says_which_asset(
    tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    """A frame stored under any accepted key lands in base_dir and loads back, or the store
    raises a StorageError naming the asset (a component too long for the file system)."""
    key, _ = attempt(lambda: AssetKey(parts), InvalidAssetKeyError)
    if key is None:
        return  # rejected keys are the property above
    root = tmp_path_factory.mktemp("keys")
    base = root / "storage"
    manager = ParquetIOManager(base)
    frame = pl.DataFrame({"n": [1, 2, 3]})
    _, store_error = attempt(lambda: manager.handle_output(OutputContext(key), frame), StorageError)
    if store_error is not None:
        assert f"asset '{key.to_user_string()}'" in str(store_error), store_error
    else:
        assert manager.load_input(InputContext(key)).equals(frame)
    assert_only_inside(root, base)


def assert_only_inside(root: Path, base: Path) -> None:
    """Everything under ``root`` is ``base`` or inside it, and no temporary file is left."""
    real_base = os.path.realpath(base)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = os.path.realpath(os.path.join(dirpath, name))
            assert path == real_base or path.startswith(real_base + os.sep), path
            assert not name.endswith(".tmp"), path


# -- partition keys --------------------------------------------------------------------------

partition_keys = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=300),  # surrogates included
    st.sampled_from(["", ".", "..", "../x", "a/b", "a\\b", "\x00", "A", "a", "a.", "%41", "~"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "A", "é", "%", "."]), st.integers(0, 400)),
)


def with_variants(keys: list[str]) -> list[str]:
    """Keys plus the ones most likely to collide with them."""
    out = list(keys)
    for key in keys:
        out += [key.upper(), key.lower(), key + ".", key[:-1], key + "a"]
        out.append(partition_name(key).removeprefix(PARTITION_PREFIX))  # the encoding as a key
    return list(dict.fromkeys(out))


@settings(max_examples=150, deadline=None)
@given(st.lists(partition_keys, max_size=6))
def test_partition_names_are_injective_and_portable(keys: list[str]) -> None:
    keys = with_variants(keys)
    names = [partition_name(k) for k in keys]
    assert len(set(names)) == len(keys)  # distinct keys, distinct names
    assert len({n.casefold() for n in names}) == len(keys)  # even on a case-insensitive disk
    for name in names:
        assert not any(c in name for c in "/\\\x00") and name not in (".", "..")
        assert name.isascii() and not name.endswith((".", " "))
        assert len((name + ".parquet").encode()) < 255


@settings(max_examples=30, deadline=None)
@given(partition_keys)
@example("../../escape")
@example("é" * 300)
def test_partitions_round_trip_through_parquet_io_manager_inside_base_dir(
    tmp_path_factory: pytest.TempPathFactory, partition: str
) -> None:
    root = tmp_path_factory.mktemp("partitions")
    base = root / "storage"
    manager = ParquetIOManager(base)
    key = AssetKey(["lake", "events"])
    value = {"partition": partition, "n": 1}
    frame = pl.DataFrame({"n": [1, 2, 3]})
    manager.handle_output(OutputContext(key, partition_key=partition), value)
    assert manager.load_input(InputContext(key, partition_key=partition)) == value
    manager.handle_output(OutputContext(key, partition_key=partition), frame)
    assert manager.load_input(InputContext(key, partition_key=partition)).equals(frame)
    assert_only_inside(root, base)
    stored = [p.name for p in (base / "lake" / "events").iterdir()]
    assert stored == [partition_name(partition) + ".parquet"]


# -- config: -c overrides, documents, files --------------------------------------------------


class Inner(Config):
    depth: int = 1
    label: str = "x"


class TrainConfig(Config):
    epochs: int = 5
    rate: float = 0.1
    name: str = "m"
    tags: tuple[str, ...] = ()
    inner: Inner = Inner()


class ReportConfig(Config):
    threshold: float
    recipients: tuple[str, ...] = ()


CONFIG_PARAMS = {
    AssetKey("train"): ("config", TrainConfig),
    AssetKey(["ml", "report"]): ("config", ReportConfig),
}
FIELDS = ["epochs", "rate", "name", "tags", "inner", "depth", "label", "threshold", "recipients"]
ASSETS = ["train", "ml/report", "ml__report", "raw", "", "ml/", "a b", "ml//report"]

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(4295, 4310).map(lambda n: 10**n),  # around Python's int-to-text limit
    st.floats(),  # nan and inf included
    st.text(max_size=20),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
deep_values = st.integers(2500, 6000).map(Deep)  # past any recursion limit
config_values = st.one_of(json_values, deep_values)


def run_configs(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Run config documents: anything at the top, or Dagster's shape with ``values`` inside."""
    entries = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values)
    return st.one_of(
        st.dictionaries(st.text(max_size=8), values, max_size=3),
        st.fixed_dictionaries(
            {
                "ops": st.one_of(
                    st.dictionaries(
                        st.sampled_from(["train", "ml__report", "ml/report", "nope"]) | st.text(),
                        st.one_of(st.fixed_dictionaries({"config": entries}), values),
                        max_size=3,
                    ),
                    values,
                )
            },
            optional={"resources": values, "execution": values, "zops": json_leaves},
        ),
    )


def raw_value(value: Any) -> str:
    with unlimited_int_digits():
        return json.dumps(value)


override_values = st.one_of(
    json_values.map(raw_value),
    st.text(max_size=30),
    st.integers(2500, 6000).map(lambda n: "[" * n),
    st.integers(4200, 5000).map(lambda n: "9" * n),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "true", "null", "", '"3"', "{"]),
)
overrides = st.one_of(
    st.builds(
        lambda a, fields, value: f"{a}.{'.'.join(fields)}={value}",
        st.sampled_from(ASSETS) | st.text(max_size=8),
        st.lists(st.sampled_from([*FIELDS, "", "config"]) | st.text(max_size=6), max_size=3),
        override_values,
    ),
    st.text(max_size=40),
)


def check_config_error(error: ConfigError, run_config: Any) -> None:
    """Every problem of a resolution names its top-level key, its op or its asset."""
    message = str(error)
    if message.startswith("Invalid run config: 'ops' must be a mapping, got "):
        return
    header, *problems = message.split("\n  - ")
    assert header == "Invalid run config:" and problems, message
    for problem in problems:
        assert problem.startswith(("unknown top-level key '", "ops.", "asset '")), problem
    for key in run_config:
        if key not in RUN_CONFIG_KEYS:
            assert f"unknown top-level key '{key}'" in message, message


def resolve(run_config: Any) -> None:
    configs, error = attempt(lambda: resolve_asset_configs(CONFIG_PARAMS, run_config), ConfigError)
    if error is not None:
        check_config_error(error, run_config)
    else:
        assert configs is not None
        for key, config in configs.items():
            assert isinstance(config, CONFIG_PARAMS[key][1])


@settings(max_examples=150, deadline=None)
@given(items=st.lists(overrides, max_size=4), base=run_configs(config_values))
@example(items=["train.epochs=" + "[" * 5000], base={})  # RecursionError from json.loads
@example(items=[], base={"ops": {"train": {"config": {"rate": HUGE_INT}}}})
@example(items=[], base={"ops": {"train": {"config": {"epochs": Deep(5000)}}}})
@example(items=["train.rate=1e999", "ml/report.threshold=NaN"], base={})
def test_config_overrides_and_documents_resolve_or_name_the_problem(
    items: list[str], base: dict[str, Any]
) -> None:
    """``-c`` strings laid over a run config document, resolved against typed Config classes:
    a Config per asset, or a ConfigError naming the override, the key, the op or the asset."""
    parsed, error = attempt(lambda: parse_config_overrides(items), ConfigError)
    if error is not None:
        assert any(repr(item) in str(error) for item in items), str(error)
        return
    assert parsed is not None
    resolve(merge_run_config(unwrap(base), parsed))


config_suffixes = st.sampled_from([".json", ".yaml", ".yml", ".YAML", ".txt", ""])
yaml_scalars = st.one_of(
    st.builds(
        "{:04d}-{:02d}-{:02d}".format, st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99)
    ),  # YAML reads these as dates
    st.sampled_from(["2001-12-14t21:59:43.10-99:00", "2024-02-30", "1e999", ".nan", "0x", "0o9"]),
    st.builds(
        "!!{} {}".format,
        st.sampled_from(["int", "float", "bool", "timestamp", "binary", "null", "str", "set"]),
        st.sampled_from(["", "x", "_", ":", "'é'", "[1]", "0b"]),
    ),
    st.integers(4200, 5000).map(lambda n: "9" * n),
    # PyYAML scans "[[[..." in quadratic time: just past the recursion limit, no further
    st.integers(1100, 1200).map(lambda n: "[" * n),
    st.text(max_size=10),
)
yaml_documents = (
    st.builds(
        lambda indent, key, value: (
            f"ops:\n{indent}train:\n{indent * 2}config:\n{indent * 3}{key}: {value}\n"
        ),
        st.sampled_from(["  ", "\t", " "]),
        st.sampled_from(FIELDS) | st.text(max_size=5),
        yaml_scalars,
    )
    | yaml_scalars
)


def check_config_file(path: Path) -> dict[str, Any] | None:
    config, error = attempt(lambda: load_config_file(path), ConfigError)
    if error is not None:
        assert str(path) in str(error), str(error)
        return None
    assert isinstance(config, dict)
    resolve(config)
    return config


@settings(max_examples=100, deadline=None)
@given(
    case=st.one_of(
        st.tuples(
            st.one_of(st.text(), yaml_documents, st.binary(), st.binary().map(b"\xff".__add__)),
            config_suffixes,
        ),
        st.tuples(  # fast to scan as JSON only
            st.one_of(
                st.integers(2500, 6000).map(lambda n: "[" * n),
                st.integers(4300, 5000).map(lambda n: '{"a": 1' + "0" * n + "}"),
            ),
            st.just(".json"),
        ),
    )
)
@example(case=("0000-00-00", ".yaml"))  # ValueError: year 0 is out of range
@example(case=("!!int", ".yaml"))  # IndexError
@example(case=("!!bool", ".yaml"))  # KeyError
@example(case=("!!timestamp", ".yaml"))  # AttributeError
@example(case=("[" * 1200, ".yaml"))  # RecursionError
@example(case=("1" + "0" * 4300, ".json"))  # ValueError: int too long
@example(case=("[" * 5000, ".json"))  # RecursionError
@example(case=(b"ok: 1\n\xff", ".yaml"))
@example(case=("\x00", ".yaml"))
def test_config_files_load_or_name_the_file(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str | bytes, str]
) -> None:
    """Any text or bytes in a config file: a run config, or a ConfigError naming the file."""
    content, suffix = case
    path = tmp_path_factory.mktemp("config") / f"run{suffix}"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    check_config_file(path)


@settings(max_examples=80, deadline=None)
@given(run_configs(json_values), st.sampled_from([".json", ".yaml"]))
@example({"ops": {"train": {"config": {"epochs": HUGE_INT}}}}, ".json")
@example({"ops": {"train": {"config": {"epochs": HUGE_INT}}}}, ".yaml")
def test_config_documents_written_as_files_load_back(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, Any], suffix: str
) -> None:
    """A document the standard writers produce loads back (JSON: equal), or is a ConfigError
    naming the file; then resolves like any run config."""
    path = tmp_path_factory.mktemp("config") / f"run{suffix}"
    with unlimited_int_digits():  # deep documents are the text property's
        text = json.dumps(document) if suffix == ".json" else yaml.safe_dump(document)
    path.write_text(text, encoding="utf-8")
    config = check_config_file(path)
    if config is not None and suffix == ".json":
        assert same_json(document, config)


# -- metadata --------------------------------------------------------------------------------

metadata_values = st.one_of(
    json_values,
    deep_values,
    st.integers(4295, 4310).map(lambda n: [10**n]),
    st.binary(max_size=8),
    st.lists(st.binary(max_size=4), min_size=1, max_size=2),
)
# The runtime adds entries of its own under these names; a user entry may not replace them.
metadata_keys = st.text(max_size=12).filter(lambda k: not k.startswith("millrace/") and k != "path")
metadata = st.dictionaries(metadata_keys, metadata_values, max_size=4)


def plain(value: Any) -> Any:
    """How the store keeps a metadata value: non-finite floats as their name (without
    recursion, for deep values)."""
    if not isinstance(value, list | dict):
        return str(value) if isinstance(value, float) and not math.isfinite(value) else value
    root: Any = [] if isinstance(value, list) else {}
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for k, v in items:
            if isinstance(v, list | dict):
                child: Any = [] if isinstance(v, list) else {}
                stack.append((v, child))
            else:
                child = plain(v)
            if isinstance(target, list):
                target.append(child)
            else:
                target[k] = child
    return root


def expected_entry(value: Any) -> dict[str, Any]:
    if value is None:
        return {"type": "null", "value": None}
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("text", str)):
        if isinstance(value, types):
            return {"type": kind, "value": plain(value)}
    return {"type": "json", "value": plain(value)}


def check_metadata_error(error: MillraceError, entries: dict[str, Any]) -> None:
    assert any(repr(k) in str(error) for k in entries), str(error)


@settings(max_examples=200, deadline=None)
@given(metadata)
@example({"": b""})  # TypeError, not a MillraceError
@example({"": HUGE_INT})  # accepted here, but json.dumps fails later in the store
@example({"": [HUGE_INT]})  # ValueError
@example({"": Deep(5000)})  # RecursionError
def test_metadata_normalizes_to_the_json_the_store_writes(entries: dict[str, Any]) -> None:
    entries = unwrap(entries)
    normalized, error = attempt(lambda: normalize_metadata(entries, where="asset 'a'"))
    if error is not None:
        check_metadata_error(error, entries)
        return
    assert normalized is not None
    stored = json.loads(json.dumps(metadata_to_json(normalized)))  # as event_store writes it
    assert list(stored) == list(entries)
    for key, value in entries.items():
        assert same_json(expected_entry(value), stored[key]), key


def runs_db(home: Path) -> closing[sqlite3.Connection]:
    return closing(sqlite3.connect(f"file:{home / 'millrace.db'}?mode=ro", uri=True))


@settings(max_examples=40, deadline=None)
@given(metadata)
@example({"": HUGE_INT})  # the event batch fails: the run's history is lost, run stays STARTED
@example({"": b""})  # TypeError
@example({"": Deep(5000)})  # RecursionError
def test_output_metadata_round_trips_through_a_real_run(
    tmp_path_factory: pytest.TempPathFactory, entries: dict[str, Any]
) -> None:
    home = tmp_path_factory.mktemp("home")
    entries = unwrap(entries)

    # An explicit code_version: automatic versioning would hash the closure's value too.
    @asset(name="measured", code_version="1")
    def measured():
        return Output(1, metadata=entries)

    result, error = attempt(lambda: run_materialize([measured], home=home))
    with runs_db(home) as db:
        unfinished = db.execute("SELECT run_id FROM runs WHERE status = 'STARTED'").fetchall()
        events = db.execute(
            "SELECT payload FROM events WHERE type = 'ASSET_MATERIALIZED' AND asset_key = ?",
            ("measured",),
        ).fetchall()
        latest = db.execute(
            "SELECT metadata FROM latest_materializations WHERE asset_key = 'measured'"
        ).fetchall()
    assert unfinished == [], "a run was left STARTED"
    if error is not None:
        check_metadata_error(error, entries)
        assert events == [] and latest == []
        return
    assert result is not None and result.success
    (payload,) = [json.loads(p) for (p,) in events]
    stored = payload["metadata"]
    assert [json.loads(m) for (m,) in latest] == [stored]
    for key, value in entries.items():
        assert same_json(expected_entry(value), stored[key]), key


# -- log lines -------------------------------------------------------------------------------

MIB = 1 << 20


def at_most_a_mib(line: str) -> str:
    return line.encode()[:MIB].decode(errors="ignore")


log_lines = st.one_of(
    st.text(),  # NUL, newlines, any unicode but lone surrogates
    st.sampled_from(["", "\x00", "\n", "\r\n", "%s %d", "{}", "\u2028", "\x1b[31m", "\ufeff"]),
    st.builds(
        lambda piece, n: at_most_a_mib((piece * (n // len(piece) + 1))[:n]),
        st.text(min_size=1, max_size=16),
        st.integers(1, MIB),
    ),
)


@settings(max_examples=20, deadline=None)
@given(log_lines)
@example("\x00" * MIB)
@example("é" * (MIB // 2))
def test_log_lines_are_stored_as_logged(tmp_path_factory: pytest.TempPathFactory, line: str):
    home = tmp_path_factory.mktemp("home")

    @asset(name="talker", code_version="1")
    def talker(context):
        context.log.info(line)
        return 1

    result = run_materialize([talker], home=home)
    assert result.success
    with runs_db(home) as db:
        payloads = db.execute(
            "SELECT payload FROM events WHERE run_id = ? AND type = 'LOG' ORDER BY id",
            (result.run_id,),
        ).fetchall()
    assert [json.loads(p)["message"] for (p,) in payloads] == [line]


# -- the CLI ---------------------------------------------------------------------------------

CLI_PROJECT = """
    from millrace import Config, Definitions, asset


    class TrainConfig(Config):
        epochs: int = 5
        rate: float = 0.1
        name: str = "m"
        tags: tuple[str, ...] = ()


    @asset(group_name="raw", tags={"tier": "bronze"})
    def raw():
        return 1


    @asset(deps=[raw], key_prefix="ml", group_name="ml")
    def model(config: TrainConfig):
        return config.epochs


    defs = Definitions(assets=[raw, model])
"""


@pytest.fixture(scope="module")
def cli_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    write_source(root / "project" / "assets.py", CLI_PROJECT)
    (root / "cwd").mkdir()
    return root


def tree(root: Path, skip: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        found.update(os.path.relpath(os.path.join(dirpath, n), root) for n in dirnames + filenames)
    return found


# argv carries no NUL and no lone surrogate (neither can be encoded into an argument)
argv_text = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30
)
cli_selections = st.one_of(
    st.none(),
    argv_text,
    st.lists(
        st.sampled_from(
            [
                "raw",
                "ml/model",
                "*ml/model",
                "raw+",
                "group:raw",
                "group:ml",
                "tag:tier=bronze",
                "status:stale",
                "status:missing",
                "status:nope",
                "*",
                "**",
                "modle",
                "",
                "tag:",
            ]
        ),
        min_size=1,
        max_size=3,
    ).map(",".join),
)
cli_overrides = st.one_of(
    st.builds(
        "ml/model.{}={}".format,
        st.sampled_from(["epochs", "rate", "name", "tags", "nope", "epochs.x", ""]),
        st.one_of(
            st.sampled_from(["3", "0.5", "x", '["a"]', "1e999", "NaN", "", "{", "[1]"]),
            st.integers(900, 3000).map(lambda n: "[" * n),
            argv_text,
        ),
    ),
    argv_text.filter(lambda v: v != "--"),  # "--" is argparse's own end-of-options marker
)


def config_args(values: list[str]) -> list[str]:
    """``-c VALUE``, or ``-cVALUE`` for a value argparse would take for an option."""
    return [a for v in values for a in (["-c" + v] if v.startswith("-") else ["-c", v])]


@settings(max_examples=12, deadline=None)
@given(select=cli_selections, values=st.lists(cli_overrides, max_size=2))
@example(select=None, values=["ml/model.epochs=" + "[" * 1000])  # RecursionError traceback
def test_cli_materialize_never_shows_a_traceback_or_writes_outside_the_home(
    cli_root: Path, select: str | None, values: list[str]
) -> None:
    home = cli_root / "home"
    before = tree(cli_root, skip=home)
    args = [] if select is None else [f"--select={select}"]
    proc = run_cli(
        "materialize",
        cli_root / "project",
        *args,
        *config_args(values),
        cwd=cli_root / "cwd",
        home=home,
    )
    output = proc.stdout + proc.stderr
    assert "Traceback (most recent call last)" not in output, output[-3000:]
    assert proc.returncode in (0, 2), output[-3000:]
    if proc.returncode == 2:
        assert proc.stderr.startswith("error: "), proc.stderr
        lines = proc.stderr.split("\n")
        assert [line for line in lines if line.startswith("error:")] == [lines[0]], proc.stderr
    assert tree(cli_root, skip=home) == before
