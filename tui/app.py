"""The Millrace terminal UI: a Textual app over the Runtime, and nothing else.

Screens read through the Runtime's async queries in workers and follow its event stream
through ``App.events``, a signal published at most ``REFRESH_HZ`` times a second with the
events since the last one: a 10,000-event run redraws 20 times a second, not 10,000. An
empty batch means the history changed in another process (``millrace ui``): read it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, ClassVar

from millrace.declarations.keys import AssetKey
from millrace.events import (
    CodeError,
    CodeRecovered,
    Event,
    ReloadApplied,
    RunFinished,
    RunStarted,
    StepFailed,
    StepSkipped,
    StepSucceeded,
    StepUpToDate,
    Watching,
)
from millrace.runtime.backfill import BackfillSpec
from millrace.runtime.dev import DevLoop
from millrace.runtime.runs import RunHandle
from millrace.runtime.runtime import Runtime
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal

from .keys import described, key_text

REFRESH_HZ = 20
# ``b``: the partitions a backfill from the app runs (missing takes in failed ones too).
BACKFILL = BackfillSpec(missing=True, stale=True)
_NOT_IN_PALETTE = {"command_line", "command_palette"}  # a palette entry to open the palette


class MillraceApp(App[None]):
    """``MillraceApp(runtime)`` over a started Runtime; with ``dev``, the dev loop runs inside
    (reload on save, re-run what changed); ``readonly`` looks at a home another process
    writes."""

    CSS_PATH = "millrace.tcss"
    TITLE = "Millrace"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", tooltip="quit; a run in flight asks first"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="every key and command"),
        Binding("colon", "command_line", "Command", key_display=":", tooltip="type a command"),
        Binding("r", "runs", "Runs", tooltip="the runs, newest first"),
        Binding("x", "cancel_run", "Cancel run", tooltip="cancel the runs in flight"),
        Binding(
            "B",
            "backfills",
            "Backfills",
            key_display="B",
            show=False,  # the runs screen shows it; the footers elsewhere are full
            tooltip="the backfills and how far they got",
        ),
        Binding(
            "A",
            "automation",
            "Automation",
            key_display="A",
            show=False,
            tooltip="the schedules and sensors: start, stop and tick them",
        ),
    ]

    def __init__(
        self, runtime: Runtime, *, dev: DevLoop | None = None, readonly: bool = False
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.dev = dev
        self.readonly = readonly
        self.events: Signal[list[Event]] = Signal(self, "events")
        self.last_reload: ReloadApplied | None = None
        self.code_error: CodeError | None = runtime.code_error
        self.progress: dict[str, list[int]] = {}  # run id -> [steps done, steps in all]
        self.watching = False  # the dev loop's watch is armed: a save from now on reloads
        self._pending: list[Event] = []

    async def on_mount(self) -> None:
        from .screens.catalog import CatalogScreen

        self.set_interval(1 / REFRESH_HZ, self._publish)
        self.run_worker(self._follow(), group="events", exclusive=True)
        if self.dev is not None:
            self.run_worker(self.dev.run(), group="dev", exclusive=True)
        if self.readonly:
            self.run_worker(self._follow_history(), group="history", exclusive=True)
        await self.push_screen(CatalogScreen())

    async def _follow(self) -> None:
        async with self.runtime.subscribe() as stream:
            async for event in stream:
                if isinstance(event, ReloadApplied):
                    self.last_reload = event
                elif isinstance(event, CodeError):
                    self.code_error = event
                elif isinstance(event, CodeRecovered):
                    self.code_error = None
                elif isinstance(event, Watching):
                    self.watching = True
                self._count(event)
                self._pending.append(event)

    async def _follow_history(self) -> None:
        """Another process writes the home: each change of its files is a refresh."""
        import watchfiles

        home = self.runtime.home
        if home.is_dir():
            async for _ in watchfiles.awatch(home, step=100, debounce=1000):
                self.events.publish([])

    def _count(self, event: Event) -> None:
        """Steps done of each run in flight, for the progress line."""
        if isinstance(event, RunStarted):
            self.progress[event.run_id] = [0, len(event.selection)]
        elif isinstance(event, RunFinished):
            self.progress.pop(event.run_id, None)
        elif isinstance(event, StepSucceeded | StepSkipped | StepUpToDate) or (
            isinstance(event, StepFailed) and not event.will_retry
        ):
            tally = self.progress.get(event.run_id)
            if tally is not None:
                tally[0] += 1

    def _publish(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.events.publish(batch)

    # -- runs ------------------------------------------------------------------------------

    def active_runs(self) -> list[RunHandle]:
        return self.runtime.active_runs()

    def why_not_run(self) -> str | None:
        """Why nothing can be materialized from this app, if so (lazygit's rule: a key that
        does nothing says why)."""
        if self.readonly:
            return "read-only: this app looks at a home another process writes"
        return None

    async def materialize(
        self,
        selection: Any,
        *,
        checks_only: bool = False,
        partition_key: str | None = None,
        what: str = "",
    ) -> RunHandle | None:
        """Plan and start a run; a plan that fails (nothing matches, bad config) is said."""
        if (why := self.why_not_run()) is not None:
            self.notify(why, severity="warning")
            return None
        try:
            plan = await self.runtime.resolve_plan(
                selection, partition_key, checks_only=checks_only
            )
            handle = self.runtime.submit(plan=plan, tags={"millrace/origin": "tui"})
        except Exception as exc:  # MillraceError or a user's config error: shown, not raised
            self.notify(str(exc), title="cannot run", severity="error")
            return None
        self.notify(f"{what or 'run'} {handle.run_id[:8]}: {len(plan)} steps")
        return handle

    async def observe(self, key: AssetKey) -> None:
        """Observe an observable source asset in a run of its own, in the background."""
        if (why := self.why_not_run()) is not None:
            self.notify(why, severity="warning")
            return
        self.run_worker(self._observe(key), group="observe", exit_on_error=False)

    async def _observe(self, key: AssetKey) -> None:
        from millrace.observation import observe_in

        name = key.to_user_string()
        try:
            result = await observe_in(self.runtime, [key], tags={"millrace/origin": "tui"})
        except Exception as exc:  # not observable, or its resources failed: shown, not raised
            self.notify(str(exc), title="cannot observe", severity="error")
            return
        observed = result.get_asset_observation_events()
        if result.success and len(observed) == 1:
            self.notify(f"observed {name}: data version {observed[0].data_version}")
        elif result.success:
            self.notify(f"observed {name}: {len(observed):,} partitions")
        else:
            self.notify(f"observing {name} failed (run {result.run_id[:8]})", severity="error")

    # -- backfills --------------------------------------------------------------------------

    def why_not_backfill(self, key: AssetKey) -> str | None:
        """Why ``b`` cannot backfill this asset, if so (what it has to backfill is known
        once its partitions are read: see ``ask_backfill``)."""
        if (why := self.why_not_run()) is not None:
            return why
        name = key.to_user_string()
        node = self.runtime.code.graph.nodes.get(key)
        if node is None:
            return f"backfill: {name} is no longer in the code"
        if not node.is_executable:
            return f"backfill: {name} is external (produced outside Millrace)"
        if node.partitions_def is None:
            return f"backfill: {name} is not partitioned (m materializes it)"
        for handle in self.active_runs():
            if key in handle.plan.keys:
                return (
                    f"backfill: run {handle.run_id[:8]} in flight materializes {name}: "
                    "wait for it, or x cancels it"
                )
        return None

    def ask_backfill(self, key: AssetKey) -> None:
        """Backfill the asset's missing (and failed) and stale partitions, after a question
        that says how many; a key that cannot says why."""
        if (why := self.why_not_backfill(key)) is not None:
            self.notify(why, severity="warning")
            return
        self.run_worker(self._ask_backfill(key), group="backfill", exclusive=True)

    async def _ask_backfill(self, key: AssetKey) -> None:
        name = key.to_user_string()
        statuses = (await self.runtime.partition_status(key)).get(key)
        if statuses is None:
            self.notify(f"backfill: {name} is not partitioned", severity="warning")
            return
        counts, total = statuses.summary(), len(statuses.keys)
        wanted = [s for s in ("missing", "failed", "stale") if s in BACKFILL.by_status]
        count = sum(counts[s] for s in wanted)
        if not count:
            running = counts["running"]
            also = f" ({running:,} running)" if running else ""
            self.notify(
                f"backfill: none of {name}'s {total:,} partitions is missing, failed or stale"
                + also,
                severity="warning",
            )
            return
        detail = ", ".join(f"{counts[s]:,} {s}" for s in wanted if counts[s])
        question = f"backfill {name}: {count:,} of {total:,} partitions ({detail})?"

        self._confirm_backfill(key, BACKFILL, question)

    def ask_backfill_range(self, key: AssetKey, first: str, last: str, count: int) -> None:
        """Materialize the partitions from ``first`` to ``last`` (a cell of the strip) as one
        backfill, after a question."""
        if (why := self.why_not_backfill(key)) is not None:
            self.notify(why, severity="warning")
            return
        question = f"materialize {key.to_user_string()} {first}..{last}: {count:,} partitions?"
        self._confirm_backfill(key, BackfillSpec(first, last), question)

    def _confirm_backfill(self, key: AssetKey, spec: BackfillSpec, question: str) -> None:
        from .screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._start_backfill(key, spec), group="backfill-start")

        self.push_screen(ConfirmScreen(question), answered)

    async def _start_backfill(self, key: AssetKey, spec: BackfillSpec) -> None:
        if (why := self.why_not_backfill(key)) is not None:  # a run began while asking
            self.notify(why, severity="warning")
            return
        try:
            backfill_id, handle = await self.runtime.backfill(
                [key], spec, tags={"millrace/origin": "tui"}
            )
        except Exception as exc:  # MillraceError or a user's config error: shown, not raised
            self.notify(str(exc), title="cannot backfill", severity="error")
            return
        count = len(handle.plan.writes)
        self.notify(f"backfill {backfill_id}: {count:,} partitions of {key.to_user_string()}")

    async def action_cancel_run(self) -> None:
        runs = self.active_runs()
        if not runs:
            self.notify("no run is in flight", severity="warning")
            return
        for handle in runs:
            await self.runtime.cancel(handle.run_id)
        self.notify(f"canceled {len(runs)} run{'s' * (len(runs) > 1)}")

    # -- navigation ------------------------------------------------------------------------

    def action_runs(self) -> None:
        from .screens.runs import RunsScreen

        self.push_screen(RunsScreen())

    def action_backfills(self) -> None:
        from .screens.backfills import BackfillsScreen

        self.push_screen(BackfillsScreen())

    def action_automation(self) -> None:
        from .screens.automation import AutomationScreen

        self.push_screen(AutomationScreen())

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers every key of the screen it was opened on, then every ``:``
        command, then Textual's own (theme, keys, screenshot)."""
        seen: set[str] = set()
        # the focused widget up to the app: a key nearer the focus is the one that acts
        for node in (screen.focused or screen).ancestors_with_self:
            if not type(node).__module__.startswith(__package__ or "millrace.tui"):
                continue
            for binding in described(type(node)):
                if binding.action in _NOT_IN_PALETTE or binding.description in seen:
                    continue
                seen.add(binding.description)
                yield SystemCommand(
                    binding.description,
                    f"key {key_text(binding)}: {binding.tooltip}".rstrip(": "),
                    partial(self.run_action, binding.action, node),
                )
        from .commands import COMMANDS
        from .widgets.command_line import CommandLine

        for command in COMMANDS:
            line = f"{command.name} {command.takes}".strip()
            callback: Callable[[], object] = (
                partial(screen.query_one(CommandLine).open, f"{command.name} ")
                if command.takes  # the argument is typed on the : line, the name already there
                else partial(command.run, self, "")
            )
            yield SystemCommand(f":{line}", command.help, callback)
        for system in super().get_system_commands(screen):
            if system.title != "Quit":  # q is already here, and asks first
                yield system

    def action_command_line(self) -> None:
        from .widgets.command_line import CommandLine

        self.screen.query_one(CommandLine).open()

    async def action_quit(self) -> None:
        """Quit (q, ctrl+q, the palette); a run in flight asks first, and is then canceled
        (recorded as canceled)."""
        runs = self.active_runs()
        if not runs:
            self.exit()
            return
        from .screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._cancel_and_exit(runs))

        self.push_screen(ConfirmScreen(f"{len(runs)} run(s) in flight: cancel and quit?"), answered)

    async def _cancel_and_exit(self, runs: Iterable[RunHandle]) -> None:
        await asyncio.gather(*(self.runtime.cancel(h.run_id) for h in runs))
        self.exit()
