"""Automatic code versions: user code written to real files, imported, edited and re-imported.

Each test's code lives in a package of its own (``proj_<random>``), so module names never
collide across tests, and the same names are re-imported after an edit, as a reload would.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import write_source
from millrace import AssetsDefinition, AssetSpec, MetadataValue, asset
from millrace.declarations.checks import AssetCheckKey, AssetChecksDefinition
from millrace.versions.code import CodeVersion, code_version_of, code_versions


class Project:
    """A package of user modules under ``root``, imported fresh after every edit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.package = f"proj_{uuid.uuid4().hex[:12]}"
        write_source(root / self.package / "__init__.py", "")

    def write(self, module: str, source: str) -> Path:
        return write_source(self.root / self.package / f"{module}.py", source)

    def load(self, module: str) -> ModuleType:
        self.forget()
        importlib.invalidate_caches()
        return importlib.import_module(f"{self.package}.{module}")

    def forget(self) -> None:
        for name in [n for n in sys.modules if n.split(".")[0] == self.package]:
            del sys.modules[name]

    def versions(self, module: str) -> dict[str, CodeVersion]:
        """The version of every asset and check in ``module``, by key, just after importing it."""
        loaded = self.load(module)
        nodes = [
            v
            for v in vars(loaded).values()
            if isinstance(v, AssetsDefinition | AssetChecksDefinition)
        ]
        found = code_versions(nodes, root=self.root)
        return {key.to_user_string(): version for key, version in found.items()}

    def values(self, module: str) -> dict[str, str]:
        return {key: version.value for key, version in self.versions(module).items()}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.syspath_prepend(str(tmp_path))
    # A rewritten file of the same size within the same second must never load a stale .pyc.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    made = Project(tmp_path)
    yield made
    made.forget()


def test_explicit_code_version_is_taken_as_given(project: Project) -> None:
    source = """
        from millrace import asset

        @asset(code_version="v7")
        def pinned():
            return {body}

        @asset
        def automatic():
            return 1
    """
    project.write("assets", source.format(body=1))
    first = project.versions("assets")
    assert first["pinned"] == CodeVersion("v7", "explicit")
    assert first["automatic"].origin == "source"
    assert len(first["automatic"].value) == 16
    int(first["automatic"].value, 16)

    project.write("assets", source.format(body=2))
    assert project.versions("assets")["pinned"] == CodeVersion("v7", "explicit")


BASE = '''
    from millrace import asset

    def helper(x):
        return x + 1

    @asset
    def total(numbers):
        """Sum of the numbers."""
        def double(v):
            """Twice v."""
            return v * 2
        return sum(double(helper(n)) for n in numbers)
'''

SAME = {
    "comments": '''
        # the helper
        from millrace import asset

        def helper(x):  # one more
            return x + 1  # always

        @asset
        def total(numbers):
            """Sum of the numbers."""
            # doubled
            def double(v):
                """Twice v."""
                return v * 2
            return sum(double(helper(n)) for n in numbers)
    ''',
    "blank lines": '''

        from millrace import asset


        def helper(x):

            return x + 1



        @asset

        def total(numbers):
            """Sum of the numbers."""

            def double(v):
                """Twice v."""

                return v * 2

            return sum(double(helper(n)) for n in numbers)
    ''',
    "reformatted": """
        from millrace import (
            asset,
        )
        def helper( x ):
            return (x
                    + 1)
        @asset
        def total(
            numbers,
        ):
            '''Sum of the numbers.'''
            def double(v): return v*2
            return sum(
                double(helper(n))
                for n in numbers
            )
    """,
    "docstrings": '''
        from millrace import asset

        def helper(x):
            """Now documented."""
            return x + 1

        @asset
        def total(numbers):
            """The sum of the numbers, each doubled.

            Longer, on several lines.
            """
            def double(v):
                return v * 2
            return sum(double(helper(n)) for n in numbers)
    ''',
}

CHANGED = {
    "asset body": BASE.replace("v * 2", "v * 3"),
    "helper body": BASE.replace("x + 1", "x + 2"),
    "renamed parameter": BASE.replace("numbers", "values"),
}


@pytest.mark.parametrize("variant", sorted(SAME))
def test_layout_comments_and_docstrings_keep_the_version(project: Project, variant: str) -> None:
    project.write("assets", BASE)
    before = project.values("assets")
    project.write("assets", SAME[variant])
    assert project.values("assets") == before


@pytest.mark.parametrize("variant", sorted(CHANGED))
def test_code_edits_change_the_version(project: Project, variant: str) -> None:
    project.write("assets", BASE)
    before = project.values("assets")
    project.write("assets", CHANGED[variant])
    assert project.values("assets")["total"] != before["total"]


HELPERS = """
    def clean(text):
        return text.strip()

    def exclaim(text):
        return text + "!"

    def shout(text):
        return exclaim(clean(text).upper())
"""

OTHER = """
    def unrelated():
        return 42
"""

USERS = """
    from millrace import asset

    from . import text
    from .other import unrelated
    from .text import shout

    @asset
    def direct():
        return text.clean(" a ")

    @asset
    def transitive():
        return shout(" b ")

    @asset
    def untouched():
        return unrelated()
"""


@pytest.mark.parametrize(
    ("module", "old", "new", "changed"),
    [
        ("text", "text.strip()", "text.strip(' ')", {"direct", "transitive"}),
        ("text", ".upper()", ".lower()", {"transitive"}),
        ("text", '"!"', '"?"', {"transitive"}),
        ("other", "42", "43", {"untouched"}),
    ],
)
def test_a_helper_edit_changes_exactly_the_assets_that_reach_it(
    project: Project, module: str, old: str, new: str, changed: set[str]
) -> None:
    project.write("text", HELPERS)
    project.write("other", OTHER)
    project.write("assets", USERS)
    before = project.values("assets")
    source = {"text": HELPERS, "other": OTHER}[module]
    assert old in source
    project.write(module, source.replace(old, new))
    after = project.values("assets")
    assert {k for k in before if before[k] != after[k]} == changed


def test_a_project_class_is_versioned_by_its_source_and_what_its_methods_call(
    project: Project,
) -> None:
    project.write("text", HELPERS)
    project.write("settings", "LIMIT = 10\n")
    source = '''
        from millrace import asset

        from . import settings
        from .text import clean

        class Cleaner:
            """Cleans."""
            suffix = "!"
            limit = settings.LIMIT

            def run(self, value):
                return clean(value)[: self.limit] + self.suffix

        @asset
        def cleaned():
            return Cleaner().run(" x ")
    '''
    project.write("assets", source)
    before = project.values("assets")["cleaned"]
    project.write("assets", source.replace('"""Cleans."""', '"""Cleans text."""'))
    assert project.values("assets")["cleaned"] == before
    project.write("assets", source.replace('suffix = "!"', 'suffix = "?"'))
    assert project.values("assets")["cleaned"] != before
    project.write("assets", source)
    project.write("settings", "LIMIT = 20\n")
    assert project.values("assets")["cleaned"] != before
    project.write("settings", "LIMIT = 10\n")
    project.write("text", HELPERS.replace("text.strip()", "text.strip(' ')"))
    assert project.values("assets")["cleaned"] != before


CONSTANT_USERS = """
    from datetime import date, timedelta
    from decimal import Decimal
    from enum import Enum

    from millrace import asset

    from . import settings

    class Color(Enum):
        RED = 1
        BLUE = 2

    VALUE = {value}

    def read():
        return VALUE

    def limited(x):
        return min(x, settings.LIMIT)

    @asset
    def reads_value():
        return read()

    @asset
    def capped():
        return limited(100)

    @asset
    def plain():
        return 1
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("10", "11"),
        ("1.5", "2.5"),
        ("'a'", "'b'"),
        ("b'a'", "b'b'"),
        ("None", "False"),
        ("1", "True"),
        ("date(2024, 1, 1)", "date(2024, 1, 2)"),
        ("timedelta(hours=1)", "timedelta(hours=2)"),
        ("Decimal('1.0')", "Decimal('1.5')"),
        ("Color.RED", "Color.BLUE"),
        ("(1, 2)", "(1, 3)"),
        ("[1, 2]", "[2, 1]"),
        ("{'a': 1}", "{'a': 2}"),
        ("{1, 2}", "{1, 3}"),
        ("frozenset({'x'})", "frozenset({'y'})"),
    ],
)
def test_a_constant_a_helper_reads_changes_only_its_users(
    project: Project, old: str, new: str
) -> None:
    project.write("settings", "LIMIT = 10\n")
    project.write("assets", CONSTANT_USERS.format(value=old))
    before = project.values("assets")
    assert project.values("assets") == before
    project.write("assets", CONSTANT_USERS.format(value=new))
    after = project.values("assets")
    assert {k for k in before if before[k] != after[k]} == {"reads_value"}


def test_a_constant_in_another_module_changes_only_its_users(project: Project) -> None:
    project.write("settings", "LIMIT = 10\n")
    project.write("assets", CONSTANT_USERS.format(value=1))
    before = project.values("assets")
    project.write("settings", "LIMIT = 20\n")
    after = project.values("assets")
    assert {k for k in before if before[k] != after[k]} == {"capped"}


def test_an_object_is_hashed_by_its_repr_unless_the_repr_holds_an_address(
    project: Project,
) -> None:
    source = """
        from dataclasses import dataclass

        from millrace import asset

        @dataclass(frozen=True)
        class Window:
            days: int

        WINDOW = Window({days})
        SENTINEL = object()

        @asset
        def windowed():
            return WINDOW.days

        @asset
        def guarded():
            return SENTINEL
    """
    project.write("assets", source.format(days=7))
    before = project.values("assets")
    # A new object() has a new address on every import; the version must not follow it.
    assert project.values("assets") == before
    project.write("assets", source.format(days=8))
    after = project.values("assets")
    assert after["windowed"] != before["windowed"]
    assert after["guarded"] == before["guarded"]


SEEDED = """
    from millrace import asset

    WORDS = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"}

    @asset
    def words():
        return sorted(WORDS)

    namespace = {"asset": asset}
    exec(
        compile(
            "@asset\\ndef membership(x):\\n"
            "    return x in {'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec'}\\n",
            "<stdin>",
            "exec",
        ),
        namespace,
    )
    membership = namespace["membership"]
"""

SEEDED_MAIN = """
    import sys
    from pathlib import Path

    from millrace.versions.code import code_version_of

    sys.path.insert(0, sys.argv[1])
    module = __import__(sys.argv[2] + ".assets", fromlist=["x"])
    for node in (module.words, module.membership):
        print(code_version_of(node, root=Path(sys.argv[1])).value)
"""


def test_sets_are_hashed_the_same_whatever_the_hash_seed(project: Project) -> None:
    project.write("assets", SEEDED)
    script = project.root / "print_versions.py"
    script.write_text(textwrap.dedent(SEEDED_MAIN))
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(
            [sys.executable, str(script), str(project.root), project.package],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert len(outputs.pop().split()) == 2


FACTORY = """
    from millrace import asset

    def scaled_by(factor):
        @asset(name="scaled")
        def scaled(x):
            return x * factor
        return scaled

    double = scaled_by(2)
    triple = scaled_by(3)
    double_again = scaled_by(2)
"""


def test_factory_made_assets_differ_by_their_closure_values(project: Project) -> None:
    project.write("factory", FACTORY)
    module = project.load("factory")
    version = {
        name: code_version_of(getattr(module, name), root=project.root)
        for name in ("double", "triple", "double_again")
    }
    assert version["double"].origin == "source"
    assert version["double"] != version["triple"]
    assert version["double"] == version["double_again"]


DECORATED = """
    from millrace import AssetIn, RetryPolicy, asset

    @asset({args})
    def target(x):
        return x
"""

DECORATOR_ARGS = (
    'ins={"x": AssetIn("up", metadata={"m": 1})}, metadata={"rows": 1}, group_name="g", '
    'description="d", tags={"t": "1"}, owners=["team:data"], kinds={"polars"}'
)


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        ('AssetIn("up"', 'AssetIn("upstream"', True),
        ('{"m": 1}', '{"m": 2}', True),
        ('{"rows": 1}', '{"rows": 2}', True),
        ('kinds={"polars"}', 'kinds={"polars"}, io_manager_key="other"', True),
        ('kinds={"polars"}', 'kinds={"polars"}, deps=["side"]', True),
        ('kinds={"polars"}', 'kinds={"polars"}, retry_policy=RetryPolicy(max_retries=3)', True),
        ('kinds={"polars"}', 'kinds={"polars"}, required_resource_keys={"db"}', True),
        ('kinds={"polars"}', 'kinds={"polars"}, key_prefix="raw"', True),
        ('group_name="g"', 'group_name="h"', False),
        ('description="d"', 'description="e"', False),
        ('tags={"t": "1"}', 'tags={"t": "2"}', False),
        ('owners=["team:data"]', 'owners=["team:ml"]', False),
        ('kinds={"polars"}', 'kinds={"pandas"}, compute_kind="sql"', False),
    ],
)
def test_decorator_arguments_that_shape_the_result_change_the_version(
    project: Project, old: str, new: str, changes: bool
) -> None:
    assert old in DECORATOR_ARGS
    project.write("assets", DECORATED.format(args=DECORATOR_ARGS))
    (before,) = project.values("assets").values()
    project.write("assets", DECORATED.format(args=DECORATOR_ARGS.replace(old, new)))
    (after,) = project.values("assets").values()
    assert (after != before) is changes


def test_a_definition_kept_between_calls_is_described_again_once_an_argument_is_replaced(
    project: Project,
) -> None:
    # Describing the decorator arguments is kept on the node between calls: a replaced
    # argument (not the same object) must not reuse it.
    project.write("assets", DECORATED.format(args=DECORATOR_ARGS))
    module = project.load("assets")
    node = module.target
    first = code_version_of(node, root=project.root)
    assert code_version_of(node, root=project.root) == first
    node.io_manager_key = "other"
    other = code_version_of(node, root=project.root)
    assert other != first
    node.io_manager_key = "io_manager"
    assert code_version_of(node, root=project.root) == first
    node.metadata = {**node.metadata, "rows": MetadataValue.int(2)}
    assert code_version_of(node, root=project.root) not in (first, other)


def test_the_config_class_is_versioned_by_its_source(project: Project) -> None:
    source = '''
        from millrace import Config, asset

        class Params(Config):
            """Knobs."""
            n: int = {n}

        @asset
        def tuned(config: Params):
            return config.n
    '''
    project.write("assets", source.format(n=1))
    before = project.values("assets")["tuned"]
    project.write("assets", source.format(n=1).replace("Knobs.", "The knobs."))
    assert project.values("assets")["tuned"] == before
    project.write("assets", source.format(n=2))
    assert project.values("assets")["tuned"] != before


LIBRARY_USER = """
    from millrace import asset
    from {module} import {name} as combine

    @asset
    def combined():
        return combine

    @asset
    def alone():
        return 1
"""


def test_libraries_are_identified_by_name_and_version(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("assets", LIBRARY_USER.format(module="polars", name="concat"))
    before = project.values("assets")

    real_version = importlib.metadata.version
    with monkeypatch.context() as patch:
        patch.setattr(
            importlib.metadata,
            "version",
            lambda name: "999.0" if name == "polars" else real_version(name),
        )
        upgraded = project.values("assets")
    assert upgraded["combined"] != before["combined"]
    assert upgraded["alone"] == before["alone"]
    assert project.values("assets") == before

    # The function's source is unchanged; only what the imported name is bound to differs.
    project.write("assets", LIBRARY_USER.format(module="pyarrow", name="concat_tables"))
    assert project.values("assets")["combined"] != before["combined"]
    project.write("assets", LIBRARY_USER.format(module="math", name="floor"))
    floor = project.values("assets")["combined"]
    project.write("assets", LIBRARY_USER.format(module="math", name="ceil"))
    assert project.values("assets")["combined"] != floor


def test_lambdas_side_by_side_on_one_line_are_told_apart(project: Project) -> None:
    source = """
        from millrace import asset

        total, count = (lambda s: sum(s)), (lambda s: len(s))

        @asset
        def summed():
            return total([1, 2])
    """
    project.write("assets", source)
    before = project.versions("assets")["summed"]
    assert before.origin == "source"
    project.write("assets", source.replace("len(s)", "len(s) + 0"))
    assert project.versions("assets")["summed"] == before
    project.write("assets", source.replace("sum(s)", "sum(s) + 0"))
    assert project.versions("assets")["summed"] != before


def test_a_virtualenv_inside_the_project_still_holds_libraries(project: Project) -> None:
    import polars

    project.write("assets", LIBRARY_USER.format(module="polars", name="concat"))
    module = project.load("assets")
    site_packages = Path(polars.__file__).resolve().parents[1]
    expected = code_version_of(module.combined, root=project.root)
    # A root above site-packages, as with a project's own .venv: polars is still identified
    # by name and version (the asset's own file, outside that root, is hashed as before).
    assert code_version_of(module.combined, root=site_packages.parent) == expected
    assert code_version_of(module.combined, root=None) == expected


def _defined_by_exec(body: str, doc: str = "Doc.") -> AssetsDefinition:
    namespace: dict[str, object] = {"asset": asset}
    source = f'@asset\ndef raw():\n    """{doc}"""\n    return {body}\n'
    exec(compile(source, "<stdin>", "exec"), namespace)
    defined = namespace["raw"]
    assert isinstance(defined, AssetsDefinition)
    return defined


def test_code_without_readable_source_is_versioned_from_its_bytecode() -> None:
    first = code_version_of(_defined_by_exec("[1, 2]"), root=None)
    assert first.origin == "bytecode"
    assert first.note == "source of raw (<stdin>) cannot be read: versioned from its bytecode"
    assert code_version_of(_defined_by_exec("[1, 2]"), root=None) == first
    assert code_version_of(_defined_by_exec("[1, 2]", doc="Other."), root=None) == first
    assert code_version_of(_defined_by_exec("[1, 3]"), root=None).value != first.value


def test_a_deleted_file_falls_back_to_bytecode(project: Project) -> None:
    source = "from millrace import asset\n\n@asset\ndef gone():\n    return 1\n"
    path = project.write("assets", source)
    module = project.load("assets")
    from_source = code_version_of(module.gone, root=project.root)
    path.unlink()
    from_bytecode = code_version_of(module.gone, root=project.root)
    assert from_source.origin == "source"
    assert from_bytecode.origin == "bytecode"
    assert from_bytecode.note is not None and str(path) in from_bytecode.note


def test_sources_given_by_the_loader_win_over_the_file_on_disk(project: Project) -> None:
    original = "from millrace import asset\n\n@asset\ndef kept():\n    return 1\n"
    path = project.write("assets", original)
    module = project.load("assets")
    before = code_version_of(module.kept, root=project.root)
    # Edited on disk after the import: the running code is still the original.
    path.write_text(original.replace("return 1", "return 2"))
    stale = code_version_of(module.kept, root=project.root)
    given = code_version_of(module.kept, root=project.root, sources={str(path): original})
    assert stale != before
    assert given == before


CHECKED = """
    from millrace import AssetCheckResult, asset, asset_check

    @asset
    def orders():
        return [1, 2]

    @asset_check(asset=orders, blocking={blocking}, description="{description}")
    def not_empty(orders):
        return AssetCheckResult(passed=len(orders) > {minimum})
"""


def test_checks_get_versions_too(project: Project) -> None:
    def check_version(blocking: bool = False, description: str = "d", minimum: int = 0) -> str:
        project.write(
            "assets",
            CHECKED.format(blocking=blocking, description=description, minimum=minimum),
        )
        module = project.load("assets")
        found = code_versions([module.orders, module.not_empty], root=project.root)
        version = found[AssetCheckKey(module.orders.key, "not_empty")]
        assert version.origin == "source"
        return version.value

    before = check_version()
    assert check_version(description="other") == before
    assert check_version(minimum=1) != before
    assert check_version(blocking=True) != before


RECURSIVE = """
    from millrace import asset

    def is_even(n):
        return True if n == 0 else is_odd(n - 1)

    def is_odd(n):
        return False if n == 0 else is_even(n - 1)

    @asset
    def even():
        return is_even(10)

    @asset
    def odd():
        return is_odd(10)
"""


def test_mutually_recursive_helpers_terminate_and_are_hashed_whole(project: Project) -> None:
    project.write("assets", RECURSIVE)
    module = project.load("assets")
    forward = code_versions([module.even, module.odd], root=project.root)
    backward = code_versions([module.odd, module.even], root=project.root)
    assert forward == backward
    assert code_version_of(module.even, root=project.root) == forward[module.even.key]
    # is_odd is reached from `even` only through the cycle.
    project.write("assets", RECURSIVE.replace("False if n == 0 else", "n != 0 and"))
    after = project.values("assets")
    assert after["even"] != forward[module.even.key].value


def test_external_assets_have_no_code_version(project: Project) -> None:
    project.write("assets", "from millrace import asset\n\n@asset\ndef inner():\n    return 1\n")
    module = project.load("assets")
    nodes: list[Any] = [AssetSpec("outside"), module.inner]
    found = code_versions(nodes, root=project.root)
    assert list(found) == [module.inner.key]


def test_a_thousand_assets_in_one_file(project: Project) -> None:
    lines = ["from millrace import asset", "", "def helper(i):", "    return i * 2", ""]
    for i in range(1000):
        lines += ["@asset", f"def asset_{i}():", f"    return helper({i})", ""]
    project.write("many", "\n".join(lines))
    found = project.versions("many")
    assert len(found) == 1000
    assert {v.origin for v in found.values()} == {"source"}
    assert len({v.value for v in found.values()}) == 1000


HUGE_AND_DEEP = """
    from millrace import asset

    HUGE = 10 ** {digits} + {bump}  # too long for repr
    DEEP = [1]
    for _ in range(3000):  # deeper than Python walks a value recursively
        DEEP = [DEEP]

    @asset
    def uses_huge() -> int:
        return HUGE % 7

    @asset
    def uses_deep() -> int:
        return len(DEEP)
"""


def test_values_too_long_or_too_deep_to_walk_still_version(project: Project) -> None:
    project.write("assets", HUGE_AND_DEEP.format(digits=5000, bump=0))
    before = project.versions("assets")
    project.write("assets", HUGE_AND_DEEP.format(digits=5000, bump=1))
    after = project.versions("assets")

    assert before["uses_huge"] != after["uses_huge"]  # the int itself is hashed, in hex
    assert before["uses_deep"] == after["uses_deep"]  # stable, though only its type is known


# Parsed files, function trees and the globals a code object reads are kept across calls, keyed
# by the file's text and the code object; what names are bound to is read afresh every call.

MUTABLE_GLOBALS = """
    from dataclasses import dataclass

    from millrace import asset

    from . import settings

    @dataclass
    class Options:
        scale: int

    CHOICES = [1, 2]
    OPTIONS = Options(scale=1)

    @asset
    def chooses():
        return max(CHOICES)

    @asset
    def scaled():
        return OPTIONS.scale * 2

    @asset
    def capped():
        return min(100, settings.LIMIT)
"""


def test_globals_changed_at_runtime_change_the_version_without_a_reimport(
    project: Project,
) -> None:
    project.write("settings", "LIMIT = 10\n")
    project.write("assets", MUTABLE_GLOBALS)
    module = project.load("assets")
    nodes = [module.chooses, module.capped, module.scaled]

    def values() -> dict[str, str]:
        found = code_versions(nodes, root=project.root)
        return {key.to_user_string(): version.value for key, version in found.items()}

    before = values()
    module.CHOICES.append(3)  # mutated in place: the same list object
    appended = values()
    module.settings.LIMIT = 20  # rebound in the other module, which is not re-imported
    rebound = values()
    module.OPTIONS.scale = 2  # an attribute of a shared object
    scaled = values()
    assert scaled["scaled"] != rebound["scaled"]
    assert {k for k in scaled if scaled[k] != rebound[k]} == {"scaled"}
    assert appended["chooses"] != before["chooses"]
    assert appended["capped"] == before["capped"]
    assert rebound["capped"] != appended["capped"]
    assert rebound["chooses"] == appended["chooses"]


def test_factory_made_functions_differ_by_closure_across_calls(project: Project) -> None:
    # One code object, versioned in separate calls: its cached tree and globals are shared,
    # its closure value is not.
    project.write("factory", FACTORY)
    module = project.load("factory")
    double = code_version_of(module.double, root=project.root)
    triple = code_version_of(module.triple, root=project.root)
    assert double != triple
    assert code_version_of(module.double_again, root=project.root) == double


SAME_TEXT = """
    from millrace import asset

    LIMIT = {limit}

    @asset(name="{name}")
    def capped():
        return min(100, LIMIT)
"""


def test_identical_code_in_two_files_reads_each_files_globals(project: Project) -> None:
    # Equal code objects (code compares by value, not by file) share what they read, not the
    # values those names are bound to.
    project.write("first", SAME_TEXT.format(limit=10, name="first"))
    project.write("second", SAME_TEXT.format(limit=20, name="second"))
    first = project.values("first")["first"]
    assert project.values("second")["second"] != first
    project.write("second", SAME_TEXT.format(limit=10, name="second"))
    assert project.values("second")["second"] != first  # still another module's function
    assert project.values("first")["first"] == first


def test_an_edit_undone_gives_the_first_version_back(project: Project) -> None:
    project.write("settings", "LIMIT = 10\n")
    project.write("assets", CONSTANT_USERS.format(value=1))
    first = project.values("assets")
    project.write("assets", CONSTANT_USERS.format(value=2).replace("min(x,", "max(x,"))
    edited = project.values("assets")
    project.write("assets", CONSTANT_USERS.format(value=1))
    assert edited["capped"] != first["capped"]
    assert project.values("assets") == first


SHARED_ARGUMENTS = """
    from millrace import RetryPolicy, StaticPartitionsDefinition, asset

    from . import helpers

    PARTS = StaticPartitionsDefinition(["a", "b"])
    RETRY = RetryPolicy(max_retries=2)

    def make(name, helper):
        @asset(name=name, partitions_def=PARTS, retry_policy=RETRY)
        def made():
            return helper(1)
        return made

    one = make("one", helpers.inc)
    two = make("two", helpers.dec)
    three = make("three", helpers.inc)

    @asset(partitions_def=PARTS, retry_policy=RETRY)
    def direct():
        return helpers.dec(2)
"""

HELPERS_OF_SHARED = """
    def inc(x):
        return x + 1

    def dec(x):
        return x - 1
"""


def test_versions_computed_together_equal_versions_computed_one_by_one(
    project: Project,
) -> None:
    # Objects shared by many assets are described once per call: what they lead to must still
    # reach each asset that uses them, and only those.
    project.write("helpers", HELPERS_OF_SHARED)
    project.write("assets", SHARED_ARGUMENTS)
    module = project.load("assets")
    nodes = [module.one, module.two, module.three, module.direct]
    together = {
        key.to_user_string(): v for key, v in code_versions(nodes, root=project.root).items()
    }
    alone = {n.key.to_user_string(): code_version_of(n, root=project.root) for n in nodes}
    assert together == alone
    assert len({together["one"], together["two"], together["direct"]}) == 3
    project.write("helpers", HELPERS_OF_SHARED.replace("x - 1", "x - 2"))
    after = project.values("assets")
    changed = {k for k, v in together.items() if after[k] != v.value}
    assert changed == {"two", "direct"}
