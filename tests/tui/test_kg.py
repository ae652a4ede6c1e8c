"""The KG browser: search by name and by alias, an entity's triples and paths, image cycling."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, Static

from medsynth.kg.paths import paths_for
from medsynth.tui.app import MedSynthApp
from medsynth.tui.screens.kg import KGScreen
from medsynth.tui.widgets.image_view import ImageView
from tests.tui.conftest import SIZE


def cells(table: DataTable[object]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def search(pilot: Pilot[object], text: str) -> list[list[str]]:
    """Type ``text`` into the (cleared) search box; the result rows."""
    screen = pilot.app.screen
    box = screen.query_one("#kg-search", Input)
    box.focus()
    box.value = ""
    await pilot.press(*text)
    await pilot.pause()
    return cells(screen.query_one("#kg-results", DataTable))


async def open_kg(pilot: Pilot[object]) -> KGScreen:
    await pilot.press("f3")
    await pilot.pause()
    assert isinstance(pilot.app.screen, KGScreen)
    return pilot.app.screen


async def test_search_by_name_and_alias(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_kg(pilot)
        everything = cells(screen.query_one("#kg-results", DataTable))
        assert len(everything) == app.ws.db.table("entities").count  # 61 < the limit
        rows = await search(pilot, "LUNG canc")
        assert [r[0] for r in rows] == ["Lung Cancer"]
        lung_cancer = app.ws.db.execute(
            "SELECT id, type FROM entities WHERE name = 'Lung Cancer'"
        ).fetchone()
        triples = app.ws.db.execute(
            "SELECT count(*) FROM triples WHERE head_id = ?", [lung_cancer[0]]
        ).fetchone()[0]
        images = app.ws.db.execute(
            "SELECT count(*) FROM entity_images WHERE entity_id = ?", [lung_cancer[0]]
        ).fetchone()[0]
        assert rows[0] == ["Lung Cancer", lung_cancer[1], str(triples), str(images)]
        # an alias (any case) finds its entity; the exact alias ranks first
        alias, owner = app.ws.db.execute(
            "SELECT a.alias, e.name FROM aliases a JOIN entities e ON e.id = a.entity_id "
            "WHERE a.alias = 'TB'"
        ).fetchone()
        rows = await search(pilot, alias.lower())
        assert rows[0][0] == owner == "Pulmonary Tuberculosis"
        rows = await search(pilot, "pulmonary carcinoma")
        assert [r[0] for r in rows] == ["Lung Cancer"]
        assert "Lung Cancer" in str(screen.query_one("#kg-entity", Static).render())
        rows = await search(pilot, "no such thing")
        assert rows == []
        assert "no entity matches" in str(screen.query_one("#kg-count", Label).render())


async def test_selected_entity_shows_triples_and_paths(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_kg(pilot)
        db = app.ws.db
        for name in ("Respiratory System", "Lung", "Lung Cancer"):
            await search(pilot, name)
            results = screen.query_one("#kg-results", DataTable)
            results.focus()
            row = next(i for i, r in enumerate(cells(results)) if r[0] == name)
            results.move_cursor(row=row)
            await pilot.pause()
            entity_id = db.execute("SELECT id FROM entities WHERE name = ?", [name]).fetchone()[0]
            expected = db.execute(
                "SELECT e.name, t.relation, t.tail FROM triples t JOIN entities e "
                "ON e.id = t.head_id WHERE t.head_id = ? ORDER BY t.id",
                [entity_id],
            ).fetchall()
            expected += db.execute(
                "SELECT e.name, t.relation, t.tail FROM triples t JOIN entities e "
                "ON e.id = t.head_id WHERE t.tail_id = ? AND t.head_id != ? ORDER BY t.id",
                [entity_id, entity_id],
            ).fetchall()
            shown = cells(screen.query_one("#kg-triples", DataTable))
            assert [tuple(r) for r in shown] == [tuple(r) for r in expected], name
            paths = paths_for(db, entity_id, language="en")
            assert paths, name
            shown_paths = cells(screen.query_one("#kg-paths", DataTable))
            assert shown_paths == [[p.kind, p.relation, p.text()] for p in paths], name
        # the full text of the highlighted path (cells are cut to their width)
        table = screen.query_one("#kg-paths", DataTable)
        table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert paths[1].text() in str(screen.query_one("#kg-row-text", Static).render())


async def test_entity_images_cycle(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_kg(pilot)
        await search(pilot, "Lung Cancer")
        db = app.ws.db
        files = [
            Path(root) / path
            for root, path in db.execute(
                "SELECT i.root, i.path FROM entity_images i JOIN entities e ON e.id = i.entity_id "
                "WHERE e.name = 'Lung Cancer' ORDER BY i.id"
            )
        ]
        assert len(files) >= 2
        view = screen.query_one("#kg-image", ImageView)
        assert view.path == files[0].resolve()
        screen.query_one("#kg-results", DataTable).focus()
        seen = []
        for _ in files:
            await pilot.press("right_square_bracket")
            await pilot.pause()
            seen.append(view.path)
        assert seen == [f.resolve() for f in files[1:]] + [files[0].resolve()]  # wraps around
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert view.path == files[-1].resolve()
        title = str(screen.query_one("#kg-image-title", Label).render())
        assert f"{len(files)}/{len(files)}" in title
        caption = str(view.query_one(".image-caption", Static).render())
        assert files[-1].name in caption and "cannot show" not in caption
