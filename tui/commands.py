"""Every action of the app as a command, for the ``:`` line and the command palette alike.

``:materialize beta_mid+``, ``:select group:raw``, ``:runs``, ``:q``: one table of commands,
so a key, the palette and the command line can never disagree about what an action does.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from millrace.declarations.keys import AssetKey

if TYPE_CHECKING:
    from .app import MillraceApp


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    run: Callable[[MillraceApp, str], Awaitable[None]]
    takes: str = ""  # what the argument is, if any: "SELECTION", "ASSET"
    aliases: tuple[str, ...] = ()


async def _materialize(app: MillraceApp, selection: str) -> None:
    await app.materialize(selection or None, what="materialize")


async def _stale(app: MillraceApp, _: str) -> None:
    await app.materialize("status:stale,status:missing", what="stale and missing")


async def _check(app: MillraceApp, selection: str) -> None:
    await app.materialize(selection or None, checks_only=True, what="checks")


async def _select(app: MillraceApp, selection: str) -> None:
    from .screens.catalog import CatalogScreen

    catalog = next((s for s in app.screen_stack if isinstance(s, CatalogScreen)), None)
    if catalog is not None:
        while app.screen is not catalog:
            app.pop_screen()
        await catalog.select(selection)


async def _runs(app: MillraceApp, _: str) -> None:
    app.action_runs()


def _asset_key(app: MillraceApp, key: str, verb: str) -> AssetKey | None:
    """The asset a command names, or None after saying what is wrong with the name."""
    if not key:
        app.notify(f"{verb} which asset? e.g. :{verb} customer_features", severity="warning")
        return None
    try:
        asset_key = AssetKey.from_user_string(key)
    except ValueError as exc:
        app.notify(str(exc), severity="error")
        return None
    if asset_key not in app.runtime.code.graph:
        app.notify(f"No asset named '{key}'", severity="error")
        return None
    return asset_key


async def _open(app: MillraceApp, key: str) -> None:
    from .screens.asset import AssetScreen

    if (asset_key := _asset_key(app, key, "open")) is not None:
        await app.push_screen(AssetScreen(asset_key))


async def _lineage(app: MillraceApp, key: str) -> None:
    from .screens.lineage import LineageScreen

    if (asset_key := _asset_key(app, key, "lineage")) is not None:
        await app.push_screen(LineageScreen(asset_key))


async def _backfill(app: MillraceApp, key: str) -> None:
    """``:backfill ASSET``; with no name, the asset of the screen (or the catalog's
    highlighted one)."""
    from .screens.asset import AssetScreen
    from .screens.catalog import CatalogScreen

    screen = app.screen
    if not key and isinstance(screen, AssetScreen):
        app.ask_backfill(screen.key)
    elif not key and isinstance(screen, CatalogScreen) and (row := screen.highlighted()):
        app.ask_backfill(row.asset_key)
    elif (asset_key := _asset_key(app, key, "backfill")) is not None:
        app.ask_backfill(asset_key)


async def _backfills(app: MillraceApp, _: str) -> None:
    app.action_backfills()


async def _automation(app: MillraceApp, _: str) -> None:
    app.action_automation()


async def _cancel(app: MillraceApp, _: str) -> None:
    await app.action_cancel_run()


async def _quit(app: MillraceApp, _: str) -> None:
    await app.action_quit()


async def _help(app: MillraceApp, _: str) -> None:
    app.action_help()


COMMANDS: tuple[Command, ...] = (
    Command("materialize", "materialize a selection (all if none)", _materialize, "SELECTION",
            ("m",)),
    Command("stale", "materialize every stale and missing asset", _stale),
    Command("check", "run the checks of a selection, on stored data", _check, "SELECTION"),
    Command("select", "show only a selection in the catalog", _select, "SELECTION"),
    Command("open", "open an asset's details", _open, "ASSET"),
    Command("lineage", "draw an asset's lineage", _lineage, "ASSET"),
    Command("backfill", "backfill an asset's missing, failed and stale partitions (asks first)",
            _backfill, "ASSET"),
    Command("backfills", "list the backfills and how far they got", _backfills),
    Command("runs", "list the runs", _runs),
    Command("automation", "list the schedules and sensors: start, stop and tick them",
            _automation),
    Command("cancel", "cancel the runs in flight", _cancel, aliases=("x",)),
    Command("help", "the keys and the commands", _help, aliases=("?",)),
    Command("quit", "quit (asks first if a run is in flight)", _quit, aliases=("q",)),
)  # fmt: skip
_BY_NAME = {name: c for c in COMMANDS for name in (c.name, *c.aliases)}


async def run_command(app: MillraceApp, text: str) -> None:
    """Run one ``:`` line: a command name, then its argument."""
    try:
        words = shlex.split(text.strip())
    except ValueError as exc:
        app.notify(f"cannot read {text!r}: {exc}", severity="error")
        return
    if not words:
        return
    command = _BY_NAME.get(words[0])
    if command is None:
        known = ", ".join(c.name for c in COMMANDS)
        app.notify(f"no command '{words[0]}' (commands: {known})", severity="error")
        return
    await command.run(app, " ".join(words[1:]))
