"""Hard-negative retrieval on real SLAKE images: for 50 training images, the m = 2 KG diseases
the ``hardneg`` generator picks (nearest entity images under the configured image encoder, the
image's own diseases excluded) and whether they share the image's body region (SLAKE
``location``). A disease's region comes from its KG ``location`` organs; a random pick is the
baseline. No model calls: grounding comes from SLAKE's own detection labels.

``.venv/bin/python tests/bench/bench_hardneg_slake.py [--images 50] [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from medsynth.config import SynthConfig
from medsynth.ingest import ingest
from medsynth.kg.lookup import ExactMatcher
from medsynth.kg.service import import_kg, link_entity_images
from medsynth.synth.service import synthesize
from medsynth.workspace import Workspace
from tests.fakes.synth import ground_record

SLAKE = Path(__file__).resolve().parents[3] / "shared" / "data" / "slake"
REGIONS = {
    "chest": (
        "lung",
        "heart",
        "trachea",
        "bronchus",
        "esophagus",
        "mediastinum",
        "breast",
        "chest",
        "pleura",
        "rib",
        "thorax",
    ),
    "abdomen": (
        "liver",
        "kidney",
        "spleen",
        "pancreas",
        "stomach",
        "colon",
        "intestine",
        "duodenum",
        "gallbladder",
        "adrenal",
        "abdomen",
        "bowel",
        "rectum",
        "appendix",
    ),
    "pelvis": ("bladder", "prostate", "uterus", "ovary", "pelvic", "femoral head", "pelvis"),
    "head": (
        "brain",
        "eye",
        "ear",
        "nose",
        "temporal",
        "frontal",
        "cerebr",
        "skull",
        "head",
        "parietal",
        "occipital",
        "face",
    ),
    "neck": ("neck", "thyroid", "larynx", "spinal cord", "cervical"),
}


def region_of(text: str) -> str | None:
    """Body region named by a SLAKE location or an organ name."""
    low = text.lower().replace("_", " ")
    for region, words in REGIONS.items():
        if any(w in low for w in words):
            return region
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        import_kg(ws, SLAKE / "KG", "slake")
        link_entity_images(ws, SLAKE / "imgs", "slake-detection")
        ingest(ws, SLAKE, "slake", split="train")
        matcher = ExactMatcher(ws.db)
        chosen = []
        for record_id, meta in ws.db.execute("SELECT id, meta FROM records ORDER BY id"):
            meta = json.loads(meta)
            labels = [b["label"] for b in meta["boxes"]]
            disease = next((x for x in labels if matcher.match(x, "disease")), "none")
            organ = next((x for x in labels if matcher.match(x, "organ")), "none")
            chosen.append((record_id, disease, organ, meta["location"]))
        random.Random(7).shuffle(chosen)
        chosen = sorted(chosen[: args.images])
        for record_id, disease, organ, _ in chosen:
            ground_record(ws, record_id, disease, organ)
        organs: dict[str, set[str]] = {}
        for head, tail in ws.db.execute(
            "SELECT head, tail FROM triples WHERE relation = 'location' AND language = 'en'"
        ):
            ref = matcher.match(head, "disease")
            organs.setdefault(ref.name if ref else head, set()).add(tail)
        rows = []
        for mode in ("similar", "random"):
            synthesize(
                ws, ["hardneg"], options=SynthConfig(negatives=2, negatives_mode=mode), models={}
            )
        for record_id, disease, _organ, location in chosen:
            region = region_of(location)
            for mode in ("similar", "random"):
                picks = [
                    json.loads(m)
                    for (m,) in ws.db.execute(
                        "SELECT meta FROM samples WHERE record_id = ? AND generator = 'hardneg' "
                        "AND task_key LIKE ?",
                        [record_id, f"%-{mode}:%"],
                    )
                ]
                for pick in picks:
                    regions = {region_of(o) for o in organs.get(pick["negative"], set())} - {None}
                    rows.append(
                        {
                            "record": record_id,
                            "location": location,
                            "own_disease": disease,
                            "mode": mode,
                            "negative": pick["negative"],
                            "similarity": pick.get("image_similarity"),
                            "negative_regions": sorted(regions),
                            "same_region": region in regions if regions else None,
                        }
                    )
        encoder = next((r["similarity"] for r in rows), None)
        print(
            f"SLAKE hard negatives: {len(chosen)} images, image encoder "
            f"{ws.config.models.image_encoder.backend} ({'WEAK' if encoder is not None else ''})"
        )
        for mode in ("similar", "random"):
            picked = [r for r in rows if r["mode"] == mode]
            known = [r for r in picked if r["same_region"] is not None]
            same = sum(r["same_region"] for r in known)
            print(
                f"  {mode:7}: {len(picked)} negatives, same body region {same}/{len(known)} "
                f"({100 * same / max(1, len(known)):.1f} %), "
                f"{len(picked) - len(known)} with no KG location; own disease picked: "
                f"{sum(r['negative'] == r['own_disease'] for r in picked)}"
            )
            print("    most picked:", Counter(r["negative"] for r in picked).most_common(5))
        for r in [r for r in rows if r["mode"] == "similar"][:10]:
            print(
                f"    record {r['record']} ({r['location']}, own {r['own_disease']}): "
                f"{r['negative']} sim {r['similarity']} regions {r['negative_regions']} "
                f"same {r['same_region']}"
            )
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
