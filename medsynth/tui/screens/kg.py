"""KG browser: search entities by name or alias, see an entity's triples, KG paths and images."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import DataTable, Input, Label, Static

from medsynth.kg.queries import SEARCH_LIMIT, EntityView, entity_view, search_entities
from medsynth.tui.screens.base import MedScreen
from medsynth.tui.widgets.image_view import ImageView


class KGScreen(MedScreen):
    """Entity search (names and aliases), then the selected entity's triples, paths, images."""

    MODE = "kg"
    TITLE = "KG"
    CSS_PATH = "kg.tcss"
    HELP = """Browse the knowledge graph. Type in the search box (`/`): entity names and aliases
match case-insensitively, as a substring or in normalised form (exact matches first, at most
200). Move through the results with the arrow keys: the right side shows the entity's triples
(as head, then as tail), its short and long KG paths (the reasoning chains synthesis uses:
organ -belong to-> system, disease -location-> organ -belong to-> system, attributes joined to
them) in the KG's default language, and its entity images (`]` next, `[` previous)."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "search"),
        Binding("right_square_bracket", "next_image", "next image"),
        Binding("left_square_bracket", "prev_image", "prev image"),
        Binding("t", "focus_table('#kg-triples')", "triples"),
        Binding("p", "focus_table('#kg-paths')", "paths"),
        Binding("e", "focus_table('#kg-results')", "entities"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entity: EntityView | None = None
        self.image_index = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="kg-main"):
            with Vertical(id="kg-left"):
                yield Input(placeholder="search names and aliases  ( / )", id="kg-search")
                yield Label("", id="kg-count")
                yield DataTable(id="kg-results", cursor_type="row", zebra_stripes=True)
            with Vertical(id="kg-right"):
                yield Static("no entity selected", id="kg-entity")
                with Horizontal(id="kg-top"):
                    with Vertical(id="kg-triples-box"):
                        yield Label("Triples", classes="section", id="kg-triples-title")
                        yield DataTable(id="kg-triples", cursor_type="row", zebra_stripes=True)
                    with Vertical(id="kg-image-box"):
                        yield Label("Images", classes="section", id="kg-image-title")
                        yield ImageView(id="kg-image")
                yield Label("KG paths", classes="section", id="kg-paths-title")
                yield DataTable(id="kg-paths", cursor_type="row", zebra_stripes=True)
                yield Static("", id="kg-row-text")

    def on_mount(self) -> None:
        results = self.query_one("#kg-results", DataTable)
        for label, width in (("name", 21), ("type", 7), ("triples", 7), ("images", 6)):
            results.add_column(label, width=width)
        triples = self.query_one("#kg-triples", DataTable)
        for label, width in (("head", 16), ("relation", 12), ("tail", 120)):
            triples.add_column(label, width=width)
        paths = self.query_one("#kg-paths", DataTable)
        for label, width in (("kind", 5), ("relation", 12), ("path", 240)):
            paths.add_column(label, width=width)
        self.search("")
        self.query_one("#kg-search", Input).focus()

    def on_screen_resume(self) -> None:
        self.search(self.query_one("#kg-search", Input).value)  # the KG may have changed

    @on(Input.Changed, "#kg-search")
    def _changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#kg-search")
    def _submitted(self) -> None:
        self.query_one("#kg-results", DataTable).focus()

    def search(self, text: str) -> None:
        """Fill the results with the entities matching ``text`` (all, up to the limit, if empty)."""
        rows = search_entities(self.ws.db, text)
        table = self.query_one("#kg-results", DataTable)
        table.clear()
        for r in rows:
            table.add_row(Text(r.name), r.type, str(r.triples), str(r.images), key=str(r.id))
        more = f" (first {SEARCH_LIMIT})" if len(rows) >= SEARCH_LIMIT else ""
        self.query_one("#kg-count", Label).update(
            f"{len(rows)} entities{more}" if rows else f"no entity matches {text.strip()!r}"
        )
        self.entity = None  # shown again even when the first hit did not change
        if rows:
            table.move_cursor(row=0)
            self.show_entity(rows[0].id)
        else:
            self.show_entity(None)

    @on(DataTable.RowHighlighted, "#kg-results")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_entity(int(event.row_key.value))

    @on(DataTable.RowHighlighted, "#kg-triples")
    @on(DataTable.RowHighlighted, "#kg-paths")
    def _row_text(self, event: DataTable.RowHighlighted) -> None:
        """The whole of the highlighted triple or path (table cells are cut to their width)."""
        cells = [str(c) for c in event.data_table.get_row_at(event.cursor_row)]
        if event.data_table.id == "kg-triples":
            text = f"{cells[0]} -[{cells[1]}]-> {cells[2]}"
        else:
            text = f"{cells[0]} path: {cells[2]}"
        self.query_one("#kg-row-text", Static).update(Text(text))

    def show_entity(self, entity_id: int | None) -> None:
        """Show one entity's triples, paths and first image (None clears)."""
        if self.entity is not None and self.entity.id == entity_id:
            return
        language = self.ws.config.kg.default_language
        view = (
            entity_view(self.ws.db, self.ws.root, entity_id, language)
            if entity_id is not None
            else None
        )
        self.entity, self.image_index = view, 0
        triples = self.query_one("#kg-triples", DataTable)
        paths = self.query_one("#kg-paths", DataTable)
        triples.clear()
        paths.clear()
        self.query_one("#kg-row-text", Static).update("")
        header = self.query_one("#kg-entity", Static)
        if view is None:
            header.update("no entity selected")
            self.query_one("#kg-triples-title", Label).update("Triples")
            self.query_one("#kg-paths-title", Label).update("KG paths")
            self._show_image()
            return
        aliases = f"  aliases: {escape(', '.join(view.aliases))}" if view.aliases else ""
        header.update(f"[b]{escape(view.name)}[/b]  ({view.type}, id {view.id}){aliases}")
        for triple in view.triples:
            triples.add_row(*(Text(cell) for cell in triple))
        for path in view.paths:
            paths.add_row(*(Text(cell) for cell in path))
        shorts = sum(1 for p in view.paths if p[0] == "short")
        self.query_one("#kg-triples-title", Label).update(f"Triples ({len(view.triples)})")
        self.query_one("#kg-paths-title", Label).update(
            f"KG paths ({language}): {shorts} short, {len(view.paths) - shorts} long"
        )
        self._show_image()

    def _show_image(self) -> None:
        image = self.query_one("#kg-image", ImageView)
        title = self.query_one("#kg-image-title", Label)
        if self.entity is None or not self.entity.images:
            title.update("Images")
            image.show(None, "no entity images" if self.entity else "")
            return
        count = len(self.entity.images)
        title.update(f"Image {self.image_index + 1}/{count}  ( [ ] )")
        image.show(self.entity.images[self.image_index], self.entity.name)

    def action_next_image(self) -> None:
        self._cycle(1)

    def action_prev_image(self) -> None:
        self._cycle(-1)

    def _cycle(self, step: int) -> None:
        if self.entity is None or len(self.entity.images) < 2:
            self.notify("this entity has no other image", severity="information", timeout=2)
            return
        self.image_index = (self.image_index + step) % len(self.entity.images)
        self._show_image()

    def action_focus_search(self) -> None:
        self.query_one("#kg-search", Input).focus()

    def action_focus_table(self, selector: str) -> None:
        self.query_one(selector, DataTable).focus()
