"""The app over the dev loop: a real file edit shows in the reload line; a broken save is a
banner with its file and line until a good save clears it."""

from __future__ import annotations

from pathlib import Path

from millrace.tui.widgets.reload_bar import ReloadBar
from tui_harness import running_app, until, write_project


def bar(app) -> ReloadBar:
    return app.screen.query_one(ReloadBar)


def shown(app) -> str:
    return str(bar(app).render())


async def test_a_save_shows_its_reload_and_a_broken_one_a_banner_until_fixed(
    tmp_path: Path, home: Path
) -> None:
    project = write_project(tmp_path)
    code = project / "assets.py"
    async with running_app(project, home, dev=True) as (app, pilot):
        await until(pilot, lambda: app.watching, "the watch armed")

        code.write_text(code.read_text().replace('pl.col("x") * 2', 'pl.col("x") * 3'))
        await until(
            pilot,
            lambda: shown(app) == "reloaded: 1 changed (beta_mid: code), 0 added, 0 removed",
            "the reload line",
        )

        text = code.read_text()
        code.write_text(text.replace("return beta_mid.height", "return beta_mid.height +"))
        line = 1 + code.read_text().splitlines().index("    return beta_mid.height +")
        await until(pilot, lambda: bar(app).has_class("error"), "the banner")
        assert f"assets.py:{line}: invalid syntax" in shown(app)
        assert "the last good code keeps serving" in shown(app)

        code.write_text(text)
        await until(pilot, lambda: not bar(app).has_class("error"), "the banner cleared")
        assert shown(app).startswith("reloaded: ")
