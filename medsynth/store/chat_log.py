"""The chat tables, owned by one class: a session row per conversation and a turn row per
question, answer or event, written as each happens (see :class:`medsynth.chat.ChatSession`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from medsynth.store.db import insert_rows
from medsynth.store.runs import utc_now


class ChatLog:
    """Writes ``chat_sessions`` and ``chat_turns``; every method commits what it writes."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def open_session(self, model_spec: str, backend: str, model: str, run_id: int | None) -> int:
        """A new session row; its id."""
        now = utc_now()
        with self.db.conn:
            cursor = self.db.conn.execute(
                "INSERT INTO chat_sessions (model_spec, backend, model, images, kg_context, "
                "run_id, created_at, updated_at) VALUES (?, ?, ?, '[]', '[]', ?, ?, ?)",
                [model_spec, backend, model, run_id, now, now],
            )
        return int(cursor.lastrowid or 0)

    def add_turn(
        self,
        session_id: int,
        turn: dict[str, Any],
        *,
        images: Sequence[str],
        kg: Any,
    ) -> None:
        """Store one turn (``position``, ``role``, ``content``, ``think``, ``answer``,
        ``images``, ``call_id``, ``duration_s``) and the session's images and KG facts now."""
        now = utc_now()
        row = {
            "session_id": session_id,
            **{k: turn[k] for k in ("position", "role", "content", "think", "answer")},
            "images": json.dumps(turn["images"]),
            "call_id": turn["call_id"],
            "duration_s": turn["duration_s"],
            "created_at": now,
        }
        with self.db.conn:
            insert_rows(self.db.conn, "chat_turns", [row])
            self.db.conn.execute(
                "UPDATE chat_sessions SET images = ?, kg_context = ?, updated_at = ? WHERE id = ?",
                [json.dumps(list(images)), json.dumps(kg), now, session_id],
            )

    def set_transcript(self, session_id: int, path: str) -> None:
        """Remember where the session's transcript was saved (relative to the workspace)."""
        with self.db.conn:
            self.db.conn.execute(
                "UPDATE chat_sessions SET transcript_path = ?, updated_at = ? WHERE id = ?",
                [path, utc_now(), session_id],
            )
