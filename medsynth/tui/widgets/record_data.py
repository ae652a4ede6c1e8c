"""How the Ingest & Ground screen describes a record's matches (the data comes from
:mod:`medsynth.ground.queries`)."""

from __future__ import annotations

from medsynth.ground.queries import RecordView


def describe_matches(view: RecordView, top: int = 5) -> str:
    """Plain text: each kind's mention, stage, entity, and its best candidates with scores."""
    lines: list[str] = []
    for m in view.matches:
        target = f" -> {m['entity']}" if m["entity"] else ""
        lines.append(f"{m['kind']}: {m['mention']!r} {m['stage']}{target}")
        if m.get("refusal"):
            lines.append(f"  refused: {m['refusal']}")
        for c in m["candidates"][:top]:
            if not isinstance(c, dict):
                continue
            verified = {True: " verified", False: " rejected"}.get(c.get("verified") is True, "")
            verified = verified if isinstance(c.get("verified"), bool) else ""
            image = c.get("image_score")
            image_text = f" image {image:.3f}" if isinstance(image, int | float) else ""
            lines.append(
                f"  {c.get('name', '?')}: score {c.get('score', 0):.3f} "
                f"(text {c.get('text_score', 0):.3f}{image_text}){verified}"
            )
    return "\n".join(lines) if lines else "not grounded yet"
