"""A blind held-out set of labelled drafts for the quality gate (issue 13, section 2).

Written from scratch, on records of its own, by an author who did not read the detectors' code
nor the training corpus's drafts (its record captions sit among the helpers and were seen):
only the issue, the gate's data model (``Candidate``, ``Facts``, ``DETECTORS``), the
``[synth.checks]`` descriptions, the negation module's docstring and the helper API of
:mod:`tests.fakes.quality_corpus`. The labels were fixed before the gate was ever run on these
items and are never tuned to; three were corrected after the only run as labelling mistakes,
each saying so in its note. The set exists to estimate how the gate does on drafts it was not
tuned on, so there is deliberately no assertion test on it;
``tests/bench/bench_gate.py --heldout`` prints its numbers.

The labels state what a careful radiologist would keep: a good draft is one they would keep, a
defective one has the defect clearly. Some defects can only be seen with medical knowledge (a
fracture of the lateral malleolus *is* an ankle fracture); they stay labelled as they should be,
with a ``note``.

``heldout()`` builds the items once (``Item.split == "blind"``).
"""

from __future__ import annotations

from functools import cache, lru_cache

from medsynth.synth.gate import Candidate, Facts
from tests.fakes.quality_corpus import (
    PROMPTS,
    Item,
    _Builder,
    _expect,
    facts_for,
    long_path,
    wording,
)

# --- records ----------------------------------------------------------------------------------
# Captions in radiology style, English and Chinese, none of them shared with the training corpus.

RECORDS: dict[str, str] = {
    "aneurysm": "CT angiogram of the head: a 7 mm saccular intracranial aneurysm arising from the "
    "anterior communicating artery. There is no subarachnoid blood and no hydrocephalus.",
    "sigmoid": "Contrast-enhanced CT of the abdomen and pelvis: irregular circumferential wall "
    "thickening of the sigmoid colon over a 6 cm segment with pericolic fat stranding, "
    "suspicious for colon cancer. The liver is free of focal lesions and there is no bowel "
    "obstruction.",
    "spine": "Lateral radiograph of the lumbar spine in a 78-year-old woman: diffuse "
    "demineralisation with a wedge compression fracture of the L1 vertebral body and about 40% "
    "loss of anterior height, in keeping with osteoporosis. Alignment is preserved.",
    "ankle": "Right ankle radiographs, three views: a non-displaced oblique fracture of the "
    "lateral malleolus. The mortise is congruent and the soft tissues over the lateral side are "
    "swollen.",
    "breast": "Ultrasound of the left breast: at 2 o'clock, a 1.4 cm oval, circumscribed, "
    "hypoechoic mass parallel to the skin, most consistent with a breast fibroadenoma. No "
    "suspicious axillary lymph nodes.",
    "patella": "MRI of the left knee after a fall: a transverse fracture of the patella with 3 mm "
    "separation of the fragments and a large joint effusion. The cruciate ligaments are intact.",
    "pancreatic_cyst": "MRI of the abdomen with MRCP: a 2.1 cm unilocular pancreatic cyst in the "
    "tail of the pancreas without enhancing mural nodules. The main pancreatic duct and the "
    "common bile duct are not dilated.",
    "bladder": "CT urogram: a 2.8 cm papillary filling defect on the left lateral wall of the "
    "bladder, suspicious for bladder cancer. Both upper tracts are free of hydronephrosis.",
    "brain_normal": "MRI of the brain in a 29-year-old man with headache: the ventricles and sulci "
    "are normal for age. Absence of hydrocephalus, haemorrhage or mass effect. No evidence of "
    "meningioma or other extra-axial lesion.",
    "effusion": "Chest CT: a large right pleural effusion with compressive atelectasis of the "
    "adjacent right lower lobe. Pneumothorax is not identified.",
    "cholecystitis": "Abdominal ultrasound of a 45-year-old woman with right upper quadrant pain: "
    "a distended gallbladder with a 5 mm thickened wall, pericholecystic fluid and a stone "
    "impacted in the neck, findings of calculous cholecystitis. The common bile duct measures "
    "4 mm.",
    "spleen": "Contrast-enhanced CT after a motorcycle crash: a deep laceration through the "
    "spleen with perisplenic haematoma and free fluid in the pelvis, consistent with splenic "
    "rupture. The liver and both kidneys are intact.",
    "fibrosis": "High-resolution chest CT: subpleural reticulation and honeycombing predominating "
    "at both lung bases, with traction bronchiectasis, in a pattern of pulmonary fibrosis. No "
    "consolidation or pleural effusion.",
    "ovary": "Pelvic MRI: a 3.5 cm complex cystic lesion of the right ovary with a thin enhancing "
    "septum; an ovarian tumor cannot be excluded. The uterus and the left ovary are normal.",
    "goiter": "Neck ultrasound: both lobes of the thyroid are diffusely enlarged with a "
    "homogeneous echotexture and no discrete nodule, in keeping with simple goiter. Thyroid "
    "cancer is not suspected.",
    "nasal": "CT of the facial bones after an assault: a displaced fracture of the nasal bones "
    "with deviation to the left; the orbits and the zygomatic arches are intact.",
    "slake_lung": "Chest X-ray, coronal plane. Q: Which side of the lung is abnormal? A: Right. "
    "Q: What diseases are included in the picture? A: Pneumonia.",
    "zh_gastric": "上腹部增强CT：胃窦部胃壁不规则增厚，最厚处约1.8cm，增强扫描明显强化，"
    "考虑胃癌；肝内未见转移灶。",
    "zh_ureter": "泌尿系CT平扫：右侧输尿管上段见一高密度结石，直径约5mm，其上方右肾积水；"
    "左肾未见异常。",
    "zh_pneumothorax": "胸部正位片：左侧气胸，左肺压缩约30%，纵隔居中。",
    "zh_fatty": "腹部超声：肝脏体积增大，实质回声弥漫性增强，后方回声衰减，符合脂肪肝；"
    "胆囊未见结石。",
    "zh_infarct": "头颅MRI：左侧额叶见片状长T2信号，DWI呈高信号，考虑急性脑梗死；未见脑出血，"
    "脑室系统无扩张。",
    "zh_normal_abd": "腹部CT平扫：肝、胆、胰、脾及双肾形态大小未见异常，无腹水，"
    "双肾及输尿管走行区未见高密度影，可排除肾结石。",
    "zh_pleural": "胸部CT：右侧中等量胸腔积液，邻近右肺下叶部分膨胀不全；双肺未见明确结节。",
    "zh_hcc": "上腹部MRI增强：肝右叶见一约4.5cm肿块，动脉期明显强化，门脉期廓清，"
    "符合原发性肝癌；门静脉未见癌栓。",
}
# Diseases grounding matched (affirmed whatever the text says), as for a SLAKE record.
GROUNDED: dict[str, tuple[str, ...]] = {"slake_lung": ("Pneumonia",)}


@cache
def record_facts(record: str) -> Facts:
    """The evidence of one record of :data:`RECORDS`."""
    return facts_for(RECORDS[record], GROUNDED.get(record, ()))


class _Blind(_Builder):
    """The training corpus's builder, on this module's records."""

    def __init__(self) -> None:
        super().__init__()
        self.split = "blind"

    def _add(self, id: str, c: Candidate, record: str, expected: str, note: str) -> None:
        c.template_text = (
            tuple(w for name in PROMPTS[c.generator].split() for w in wording(name))
            if c.generator in PROMPTS
            else ()
        )
        facts = record_facts(record)
        self.items.append(Item(id, c, facts, _expect(expected), note, self.split))


# --- KG paths ---------------------------------------------------------------------------------

ANEURYSM_SYMPTOMS = long_path(
    "Intracranial Aneurysm",
    "symptom",
    "sudden severe headache, neck stiffness, vomiting",
    "Brain",
    "Nervous System",
)
ANEURYSM_CAUSE = long_path(
    "Intracranial Aneurysm",
    "cause",
    "hypertension, smoking, connective tissue disorders",
    "Brain",
    "Nervous System",
)
CHOLECYSTITIS_TREATMENT = long_path(
    "Calculous Cholecystitis",
    "treatment",
    "antibiotics, laparoscopic cholecystectomy",
    "Gallbladder",
    "Digestive System",
)
CHOLECYSTITIS_SYMPTOMS = long_path(
    "Calculous Cholecystitis",
    "symptom",
    "right upper quadrant pain, fever, nausea",
    "Gallbladder",
    "Digestive System",
)
FIBROSIS_SYMPTOMS = long_path(
    "Pulmonary Fibrosis", "symptom", "dry cough, progressive dyspnea", "Lung", "Respiratory System"
)
FIBROSIS_TREATMENT = long_path(
    "Pulmonary Fibrosis",
    "treatment",
    "antifibrotic drugs, oxygen therapy",
    "Lung",
    "Respiratory System",
)
OSTEOPOROSIS_PREVENTION = long_path(
    "Osteoporosis",
    "prevention",
    "calcium and vitamin D intake, weight-bearing exercise",
    "Skeleton",
    "Motor System",
)
FIBROADENOMA_POPULATION = long_path(
    "Breast Fibroadenoma", "population", "women aged 15 to 35", "Breast", "Reproductive System"
)
FIBROADENOMA_TREATMENT = long_path(
    "Breast Fibroadenoma",
    "treatment",
    "observation, excision if enlarging",
    "Breast",
    "Reproductive System",
)
SPLEEN_TREATMENT = long_path(
    "Splenic Rupture",
    "treatment",
    "bed rest and observation, splenic artery embolization, splenectomy",
    "Spleen",
    "Lymphatic System",
)
GOITER_CAUSE = long_path(
    "Simple Goiter", "cause", "iodine deficiency", "Thyroid", "Endocrine System"
)
BLADDER_SYMPTOMS = long_path(
    "Bladder Cancer",
    "symptom",
    "painless haematuria, frequent urination",
    "Bladder",
    "Urinary System",
)
ZH_FATTY_PREVENTION = long_path(
    "脂肪肝", "prevention", "控制体重，限制饮酒，规律运动", "肝脏", "消化系统"
)
ZH_HCC_CAUSE = long_path(
    "原发性肝癌", "cause", "乙型肝炎病毒感染，肝硬化，黄曲霉毒素", "肝脏", "消化系统"
)
ZH_GASTRIC_CAUSE = long_path("胃癌", "cause", "幽门螺杆菌感染，高盐饮食，吸烟", "胃", "消化系统")


# --- multihop ---------------------------------------------------------------------------------


def _multihop(b: _Blind) -> None:
    b.multihop(
        "blind-mh-aneurysm-symptom",
        "aneurysm",
        ANEURYSM_SYMPTOMS,
        "What symptom would most likely bring a patient with this condition to the emergency "
        "department?",
        "An intracranial aneurysm in the brain is often silent until it bleeds. When it "
        "ruptures it typically causes a sudden severe headache, often with neck stiffness and "
        "vomiting.",
    )
    b.multihop(
        "blind-mh-cholecystitis-treatment",
        "cholecystitis",
        CHOLECYSTITIS_TREATMENT,
        "How is the abnormality seen in this organ usually treated?",
        "Inflammation of the gallbladder caused by an obstructing stone is usually managed with "
        "antibiotics first. Definitive treatment is laparoscopic cholecystectomy, the removal of "
        "the gallbladder.",
    )
    b.multihop(
        "blind-mh-zh-fatty-prevention",
        "zh_fatty",
        ZH_FATTY_PREVENTION,
        "如何预防图中这种病变？",
        "这种病变是肝脏内脂肪过度堆积所致。预防上应控制体重、限制饮酒，并坚持规律运动。",
    )
    b.multihop(
        "blind-mh-fibrosis-symptoms",
        "fibrosis",
        FIBROSIS_SYMPTOMS,
        "What symptoms does a patient with this pattern usually report?",
        "Scarring of the lung tissue makes the lungs stiff. Patients usually report a dry cough "
        "and progressive dyspnea.",
    )
    b.multihop(
        "blind-mh-spine-prevention",
        "spine",
        OSTEOPOROSIS_PREVENTION,
        "How can the underlying condition behind this fracture be prevented?",
        "The collapsed vertebra reflects bone weakened by osteoporosis. Adequate calcium and "
        "vitamin D intake together with weight-bearing exercise helps to prevent it.",
    )
    b.multihop(
        "blind-mh-zh-hcc-cause",
        "zh_hcc",
        ZH_HCC_CAUSE,
        "图中这种病变常见的病因有哪些？",
        "这类肝脏恶性肿瘤多在慢性肝病的基础上发生。常见病因包括乙型肝炎病毒感染、肝硬化以及"
        "长期接触黄曲霉毒素。",
        note="乙型肝炎 and 肝硬化 name KG diseases, but both are in the path's facts",
    )
    b.multihop(
        "blind-mh-breast-population",
        "breast",
        FIBROADENOMA_POPULATION,
        "Who is most often affected by this kind of lesion?",
        "This benign, well-circumscribed breast lesion is most common in young women. It "
        "typically occurs between 15 and 35 years of age.",
        note="15 and 35 come from the path",
    )
    b.multihop(
        "blind-mh-spleen-treatment",
        "spleen",
        SPLEEN_TREATMENT,
        "How is this injury managed?",
        "A torn spleen in a stable patient can be managed with bed rest and close observation, "
        "or with splenic artery embolization. Splenectomy is needed when the bleeding continues.",
    )
    b.multihop(
        "blind-mh-bladder-symptoms",
        "bladder",
        BLADDER_SYMPTOMS,
        "What symptom most often leads to the discovery of this condition?",
        "Tumours of the bladder most often announce themselves with painless haematuria, blood "
        "in the urine without discomfort. Some patients also notice frequent urination. Because "
        "the bleeding can be intermittent, any episode in an adult deserves investigation.",
    )
    # defective
    b.multihop(
        "blind-mh-goiter-unused",
        "goiter",
        GOITER_CAUSE,
        "What usually causes this condition?",
        "It is a common finding that is often discovered incidentally. Most patients need no "
        "treatment beyond follow-up.",
        "path_unused",
    )
    b.multihop(
        "blind-mh-aneurysm-unused",
        "aneurysm",
        ANEURYSM_CAUSE,
        "What risk factors contribute to this condition?",
        "Several factors raise the risk, and family history matters as well. Screening is "
        "offered to relatives of affected patients.",
        "path_unused",
    )
    b.multihop(
        "blind-mh-zh-gastric-unused",
        "zh_gastric",
        ZH_GASTRIC_CAUSE,
        "这种病变的主要病因是什么？",
        "其病因尚不完全清楚，与多种因素有关。早期发现和规范治疗可以明显改善预后。",
        "path_unused",
    )
    b.multihop(
        "blind-mh-fibrosis-unused",
        "fibrosis",
        FIBROSIS_TREATMENT,
        "How is this condition usually managed?",
        "This is a chronic condition that tends to progress slowly. Regular follow-up with "
        "breathing tests is advised.",
        "path_unused",
    )
    b.multihop(
        "blind-mh-cholecystitis-unused",
        "cholecystitis",
        CHOLECYSTITIS_SYMPTOMS,
        "What symptoms would this patient typically have?",
        "Patients typically feel unwell and lose their appetite. Symptoms often start after a "
        "fatty meal.",
        "path_unused",
    )
    b.multihop(
        "blind-mh-breast-side",
        "breast",
        FIBROADENOMA_TREATMENT,
        "How is this lesion usually managed?",
        "The 1.4 cm mass in the right breast looks benign. Observation with follow-up "
        "ultrasound is usual, and excision is reserved for lesions that keep enlarging.",
        "unsupported",
        note="the record's mass is in the left breast",
    )
    b.multihop(
        "blind-mh-cholecystitis-numbers",
        "cholecystitis",
        CHOLECYSTITIS_SYMPTOMS,
        "What symptoms would this patient typically have?",
        "With a stone blocking the gallbladder neck, patients usually have right upper quadrant "
        "pain, fever and nausea. In this patient the fever reached 39.5 degrees and the white "
        "cell count was 18,000.",
        "unsupported",
        note="temperature and white cell count are invented",
    )
    b.multihop(
        "blind-mh-zh-fatty-spleen",
        "zh_fatty",
        ZH_FATTY_PREVENTION,
        "如何预防图中这种病变？",
        "这种病变由肝脏内脂肪过度堆积引起，本例脾脏也可见同样的改变。预防上应控制体重、限制饮酒。",
        "unsupported",
        note="the record says nothing about the spleen",
    )
    b.multihop(
        "blind-mh-fibrosis-repeat",
        "fibrosis",
        FIBROSIS_SYMPTOMS,
        "What symptoms does a patient with this pattern usually report?",
        "The condition causes a dry cough and progressive dyspnea. The condition causes a dry "
        "cough and progressive dyspnea. The lung becomes stiff.",
        "repetition",
    )
    b.multihop(
        "blind-mh-spleen-notation",
        "spleen",
        SPLEEN_TREATMENT,
        "How is this injury managed when bleeding continues?",
        "Splenic Rupture -[treatment]-> splenectomy. A torn spleen that keeps bleeding has to be "
        "removed.",
        "notation",
    )
    b.multihop(
        "blind-mh-zh-gastric-notation",
        "zh_gastric",
        ZH_GASTRIC_CAUSE,
        "这种病变的主要病因是什么？",
        "胃癌 -[cause]-> 幽门螺杆菌感染。这种病变与幽门螺杆菌感染、高盐饮食和吸烟有关。",
        "notation",
    )
    b.multihop(
        "blind-mh-spine-prompt",
        "spine",
        OSTEOPOROSIS_PREVENTION,
        "How can the underlying condition behind this fracture be prevented?",
        "Following the chain of facts from what is seen in the image, the collapsed vertebra "
        "reflects osteoporosis. Calcium and vitamin D intake with weight-bearing exercise helps "
        "to prevent it.",
        "prompt_copy",
    )
    b.multihop(
        "blind-mh-zh-hcc-cut",
        "zh_hcc",
        ZH_HCC_CAUSE,
        "图中这种病变常见的病因有哪些？",
        "这类肝脏恶性肿瘤常在慢性肝病基础上发生，常见病因包括乙型肝炎病毒感染、肝硬",
        "truncation",
    )
    b.multihop(
        "blind-mh-aneurysm-cut",
        "aneurysm",
        ANEURYSM_SYMPTOMS,
        "What symptom would most likely bring a patient with this condition to the emergency "
        "department?",
        "A ruptured intracranial aneurysm classically presents with a sudden severe headache. "
        "Other symptoms include neck stiffness and",
        "truncation",
    )


# --- hard negatives ---------------------------------------------------------------------------


def _hardneg(b: _Blind) -> None:
    b.hardneg("blind-hn-aneurysm-meningioma", "aneurysm", "Meningioma", n=0)
    b.hardneg(
        "blind-hn-aneurysm-hydrocephalus",
        "aneurysm",
        "Hydrocephalus",
        n=1,
        note='"no hydrocephalus"',
    )
    b.hardneg(
        "blind-hn-brain-meningioma",
        "brain_normal",
        "Meningioma",
        n=2,
        note='"No evidence of meningioma"',
    )
    b.hardneg(
        "blind-hn-brain-hydrocephalus",
        "brain_normal",
        "Hydrocephalus",
        n=3,
        note='"Absence of hydrocephalus"',
    )
    b.hardneg(
        "blind-hn-effusion-pneumothorax",
        "effusion",
        "Pneumothorax",
        n=3,
        note='"Pneumothorax is not identified" (a negation after the finding)',
    )
    b.hardneg(
        "blind-hn-bladder-hydronephrosis",
        "bladder",
        "Hydronephrosis",
        n=0,
        note='"free of hydronephrosis"',
    )
    b.hardneg(
        "blind-hn-goiter-cancer",
        "goiter",
        "Thyroid Cancer",
        n=1,
        note='"Thyroid cancer is not suspected"',
    )
    b.hardneg(
        "blind-hn-fibrosis-effusion",
        "fibrosis",
        "Pleural Effusion",
        n=2,
        note='"No consolidation or pleural effusion"',
    )
    b.hardneg("blind-hn-zh-infarct-bleed", "zh_infarct", "脑出血", n=3, note="未见脑出血")
    b.hardneg("blind-hn-zh-abd-stone", "zh_normal_abd", "肾结石", n=0, note="可排除肾结石")
    b.hardneg(
        "blind-hn-zh-fatty-gallstone",
        "zh_fatty",
        "胆结石",
        n=1,
        note="胆囊未见结石: no gallstone",
    )
    b.hardneg(
        "blind-hn-nasal-orbital",
        "nasal",
        "Orbital Fracture",
        n=2,
        note="the nasal bones are broken, the orbits intact",
    )
    b.hardneg(
        "blind-hn-cholecystitis-gb-cancer",
        "cholecystitis",
        "Gallbladder Cancer",
        n=3,
        note="cholecystitis is affirmed, gallbladder cancer is not named",
    )
    # defective
    b.hardneg("blind-hn-effusion-effusion", "effusion", "Pleural Effusion", "label", n=0)
    b.hardneg(
        "blind-hn-cholecystitis",
        "cholecystitis",
        "Cholecystitis",
        "label",
        n=1,
        note="calculous cholecystitis is a cholecystitis",
    )
    b.hardneg(
        "blind-hn-sigmoid-colon-cancer",
        "sigmoid",
        "Colon Cancer",
        "label",
        n=2,
        note='"suspicious for colon cancer": a suspected disease is no hard negative',
    )
    b.hardneg(
        "blind-hn-zh-ureter-hydronephrosis",
        "zh_ureter",
        "Hydronephrosis",
        "label",
        n=3,
        note="右肾积水 in a Chinese caption, the English name asked",
    )
    b.hardneg(
        "blind-hn-zh-gastric-cancer",
        "zh_gastric",
        "胃癌",
        "label",
        n=0,
        note="考虑胃癌: the caption's diagnosis",
    )
    b.hardneg("blind-hn-zh-pneumothorax", "zh_pneumothorax", "气胸", "label", n=1)
    b.hardneg(
        "blind-hn-ankle-fracture",
        "ankle",
        "Ankle Fracture",
        "label",
        n=2,
        note="a fracture of the lateral malleolus is an ankle fracture (needs anatomy)",
    )
    b.hardneg("blind-hn-spine-osteoporosis", "spine", "Osteoporosis", "label", n=3)
    b.hardneg(
        "blind-hn-spine-spinal-fracture",
        "spine",
        "Spinal Fracture",
        "label",
        n=0,
        note="an L1 compression fracture is a spinal fracture (needs anatomy)",
    )
    b.hardneg(
        "blind-hn-ovary-tumor",
        "ovary",
        "Ovarian Tumor",
        "label",
        n=0,
        note='"an ovarian tumor cannot be excluded": No is not a safe label',
    )
    b.hardneg(
        "blind-hn-patella-fracture",
        "patella",
        "Patella Fracture",
        "label",
        n=1,
        note='"fracture of the patella": the same disease, words reordered',
    )
    b.hardneg(
        "blind-hn-slake-pneumonia",
        "slake_lung",
        "Pneumonia",
        "label",
        n=2,
        note="the record's own QA row answers Pneumonia",
    )


# --- key answers ------------------------------------------------------------------------------


def _keyanswer(b: _Blind) -> None:
    b.keyanswer(
        "blind-ka-aneurysm-artery",
        "aneurysm",
        "Where does the aneurysm arise?",
        "The aneurysm arises from the anterior communicating artery.",
        "anterior communicating artery",
    )
    b.keyanswer(
        "blind-ka-effusion-pneumothorax-no",
        "effusion",
        "Is there a pneumothorax?",
        "No, a pneumothorax is not identified; the main finding is a large right pleural effusion.",
        "no",
    )
    b.keyanswer(
        "blind-ka-effusion-side-no",
        "effusion",
        "Is the pleural effusion on the left side?",
        "No, the effusion is on the right side.",
        "no",
        note="a location question: 'no' is about the side, the effusion itself is affirmed",
    )
    b.keyanswer(
        "blind-ka-spine-height",
        "spine",
        "How much anterior height has the L1 vertebral body lost?",
        "The L1 vertebral body has lost about 40% of its anterior height.",
        "about 40%",
    )
    b.keyanswer(
        "blind-ka-breast-side",
        "breast",
        "Which breast contains the mass?",
        "The mass is in the left breast, at the 2 o'clock position.",
        "left breast",
    )
    b.keyanswer(
        "blind-ka-bladder-size",
        "bladder",
        "How big is the bladder lesion?",
        "It measures 2.8 cm and sits on the left lateral wall.",
        "2.8 cm",
    )
    b.keyanswer(
        "blind-ka-cholecystitis-wall",
        "cholecystitis",
        "Is the gallbladder wall thickened?",
        "Yes, the wall is thickened to 5 mm, with fluid around the gallbladder.",
        "yes",
    )
    b.keyanswer(
        "blind-ka-fibrosis-where",
        "fibrosis",
        "Where is the honeycombing most marked?",
        "It predominates in the subpleural regions of both lung bases.",
        "both lung bases",
    )
    b.keyanswer(
        "blind-ka-slake-side-no",
        "slake_lung",
        "Is the abnormality in the left lung?",
        "No, the abnormality is in the right lung.",
        "no",
        note="a side question about a grounded pneumonia",
    )
    b.keyanswer(
        "blind-ka-zh-pneumothorax-yes",
        "zh_pneumothorax",
        "图中可见气胸吗？",
        "是的，左侧可见气胸，左肺压缩约30%。",
        "是的",
    )
    b.keyanswer(
        "blind-ka-zh-infarct-bleed-no",
        "zh_infarct",
        "是否存在脑出血？",
        "不存在，图中未见脑出血，主要表现为左侧额叶急性脑梗死。",
        "不存在",
    )
    b.keyanswer(
        "blind-ka-zh-hcc-size",
        "zh_hcc",
        "肝右叶肿块大约多大？",
        "肿块位于肝右叶，大小约4.5cm。",
        "约4.5cm",
    )
    b.keyanswer(
        "blind-ka-zh-pneumothorax-side",
        "zh_pneumothorax",
        "气胸位于右侧吗？",
        "不是，气胸位于左侧。",
        "不是",
        note="a side question: 不是 is about the side, the pneumothorax is affirmed",
    )
    # defective
    b.keyanswer(
        "blind-ka-bladder-wall",
        "bladder",
        "Which wall of the bladder carries the lesion?",
        "The papillary lesion sits on the left lateral wall of the bladder.",
        "filling defect",
        "key_answer_absent",
    )
    b.keyanswer(
        "blind-ka-spleen-organ",
        "spleen",
        "Which organ is injured?",
        "The spleen is lacerated, with blood around it and in the pelvis.",
        "perisplenic haematoma",
        "key_answer_absent",
    )
    b.keyanswer(
        "blind-ka-zh-ureter-side",
        "zh_ureter",
        "结石位于哪一侧输尿管？",
        "结石位于右侧输尿管上段，直径约5mm。",
        "右肾积水",
        "key_answer_absent",
    )
    b.keyanswer(
        "blind-ka-aneurysm-size",
        "aneurysm",
        "How large is the aneurysm?",
        "The saccular aneurysm measures 7 mm.",
        "anterior communicating artery",
        "key_answer_absent",
    )
    b.keyanswer(
        "blind-ka-cholecystitis-diagnosis",
        "cholecystitis",
        "What is the diagnosis?",
        "The findings are those of calculous cholecystitis.",
        "pericholecystic fluid",
        "key_answer_absent",
    )
    b.keyanswer(
        "blind-ka-effusion-no",
        "effusion",
        "Is a pleural effusion present?",
        "Yes, there is a large right pleural effusion.",
        "no",
        "key_answer_absent label",
        note="'no' is not in its answer and denies an affirmed effusion",
    )
    b.keyanswer(
        "blind-ka-brain-hydrocephalus-yes",
        "brain_normal",
        "Does the scan show hydrocephalus?",
        "Yes, hydrocephalus is present.",
        "yes",
        "label",
        note="the record states the absence of hydrocephalus",
    )
    b.keyanswer(
        "blind-ka-aneurysm-no",
        "aneurysm",
        "Is there an intracranial aneurysm?",
        "No intracranial aneurysm is seen.",
        "no",
        "label",
    )
    b.keyanswer(
        "blind-ka-zh-abd-stone-yes",
        "zh_normal_abd",
        "图中有肾结石吗？",
        "有，可见肾结石。",
        "有",
        "label",
        note="可排除肾结石",
    )
    b.keyanswer(
        "blind-ka-zh-pleural-no",
        "zh_pleural",
        "是否有胸腔积液？",
        "没有，未见胸腔积液。",
        "没有",
        "label",
        note="右侧中等量胸腔积液",
    )


# --- describe ---------------------------------------------------------------------------------


def _describe(b: _Blind) -> None:
    b.describe(
        "blind-d-effusion",
        "effusion",
        "Axial CT image of the chest. A large pleural effusion fills the dependent part of the "
        "right hemithorax, and the adjacent right lower lobe is compressed and airless, "
        "consistent with compressive atelectasis. No pneumothorax is identified.",
        n=0,
    )
    b.describe(
        "blind-d-aneurysm",
        "aneurysm",
        "This is a CT angiogram of the head with contrast filling the intracranial arteries. A "
        "small saccular outpouching, about 7 mm across, arises from the anterior communicating "
        "artery, consistent with an intracranial aneurysm. There is no subarachnoid blood and no "
        "hydrocephalus.",
        n=1,
    )
    b.describe(
        "blind-d-spine",
        "spine",
        "Lateral radiograph of the lumbar spine of a 78-year-old woman. The bones are diffusely "
        "demineralised, and the L1 vertebral body is wedge-shaped with roughly 40% loss of its "
        "anterior height, a compression fracture. Alignment is preserved. The appearance fits "
        "osteoporosis.",
        n=2,
    )
    b.describe(
        "blind-d-spleen",
        "spleen",
        "Contrast-enhanced axial CT of the upper abdomen. A deep laceration runs through the "
        "spleen, which is surrounded by haematoma, and free fluid extends into the pelvis. The "
        "liver and both kidneys appear intact. Together these findings indicate splenic "
        "rupture.",
        n=3,
    )
    b.describe(
        "blind-d-patella",
        "patella",
        "Sagittal MRI of the left knee. The patella is split by a transverse fracture line, and "
        "the two fragments are separated by about 3 mm. There is a large joint effusion, while "
        "the cruciate ligaments are intact.",
        n=4,
    )
    b.describe(
        "blind-d-goiter",
        "goiter",
        "Transverse ultrasound of the neck. Both thyroid lobes are diffusely enlarged with a "
        "homogeneous echotexture and no discrete nodule, in keeping with a simple goiter.",
        n=5,
    )
    b.describe(
        "blind-d-brain-normal",
        "brain_normal",
        "Axial MRI of the brain in a 29-year-old man. The ventricles and sulci are normal for "
        "age, with no haemorrhage or mass effect. There is no hydrocephalus and no meningioma "
        "or other extra-axial lesion.",
        n=6,
    )
    b.describe(
        "blind-d-zh-pleural",
        "zh_pleural",
        "胸部CT横断位图像。右侧胸腔内见中等量积液，邻近右肺下叶部分膨胀不全。双肺未见明确结节。",
        n=7,
    )
    b.describe(
        "blind-d-zh-hcc",
        "zh_hcc",
        "上腹部MRI增强扫描横断位。肝右叶见一约4.5cm的肿块，动脉期明显强化，门脉期对比剂廓清，"
        "符合原发性肝癌的典型表现；门静脉内未见癌栓。",
        n=8,
    )
    b.describe(
        "blind-d-zh-infarct",
        "zh_infarct",
        "头颅MRI横断位DWI图像。左侧额叶见片状高信号，T2序列亦呈高信号，考虑急性脑梗死；"
        "未见脑出血，脑室系统无扩张。",
        n=9,
    )
    # defective
    b.describe(
        "blind-d-fibrosis-loop",
        "fibrosis",
        "High-resolution CT of the chest shows subpleural reticulation at both lung bases with "
        "honeycombing and honeycombing and honeycombing and honeycombing and honeycombing, in a "
        "pattern of pulmonary fibrosis.",
        "repetition",
    )
    b.describe(
        "blind-d-zh-fatty-repeat",
        "zh_fatty",
        "腹部超声图像。肝脏体积增大，实质回声弥漫性增强。肝脏体积增大，实质回声弥漫性增强。"
        "符合脂肪肝。",
        "repetition",
        n=1,
    )
    b.describe(
        "blind-d-breast-prompt",
        "breast",
        "As a medical imaging expert who looks at the image directly, never as someone who only "
        "read a caption: this is a breast ultrasound showing a 1.4 cm oval, circumscribed, "
        "hypoechoic mass in the left breast, parallel to the skin, most consistent with a "
        "fibroadenoma.",
        "prompt_copy",
        n=2,
    )
    b.describe(
        "blind-d-patella-prompt",
        "patella",
        "Modality, body region, orientation, the structures visible and any abnormal findings: "
        "sagittal MRI of the left knee with a transverse fracture of the patella, fragments "
        "3 mm apart, and a large joint effusion.",
        "prompt_copy",
        n=3,
    )
    b.describe(
        "blind-d-cholecystitis-json",
        "cholecystitis",
        '{"description": "Ultrasound of the gallbladder showing a thickened 5 mm wall, '
        "pericholecystic fluid and a stone impacted in the neck, consistent with calculous "
        'cholecystitis."}',
        "notation",
        n=4,
    )
    b.describe(
        "blind-d-sigmoid-cut",
        "sigmoid",
        "Axial contrast-enhanced CT of the pelvis. The sigmoid colon shows irregular "
        "circumferential wall thickening over a 6 cm segment with stranding of the pericolic "
        "fat, suspicious for colon cancer. The liver is free of focal les",
        "truncation",
        n=5,
    )
    b.describe(
        "blind-d-zh-gastric-cut",
        "zh_gastric",
        "上腹部增强CT横断位。胃窦部胃壁不规则增厚，最厚处约1.8cm，增强扫描",
        "truncation",
        n=6,
    )
    b.describe(
        "blind-d-ankle-side",
        "ankle",
        "Frontal radiograph of the left ankle showing an oblique, non-displaced fracture of the "
        "lateral malleolus with soft-tissue swelling over the lateral side.",
        "unsupported",
        n=7,
        note="the record is the right ankle",
    )
    b.describe(
        "blind-d-pancreas-age-size",
        "pancreatic_cyst",
        "Coronal MRCP image of a 62-year-old man. A 4.5 cm multilocular cyst occupies the tail "
        "of the pancreas, without enhancing mural nodules, and the ducts are not dilated.",
        "unsupported",
        n=8,
        note="age invented; the cyst measures 2.1 cm",
    )
    b.describe(
        "blind-d-zh-ureter-bladder",
        "zh_ureter",
        "泌尿系CT平扫。右侧输尿管上段见一直径约5mm的高密度结石，右肾积水，同时膀胱内可见多发结石。",
        "unsupported",
        n=9,
        note="bladder stones are invented",
    )
    b.describe(
        "blind-d-fibrosis-effusion",
        "fibrosis",
        "HRCT image of the chest with subpleural reticulation and honeycombing at both lung "
        "bases and traction bronchiectasis, in a pattern of pulmonary fibrosis, together with a "
        "small right pleural effusion.",
        "unsupported",
        n=0,
        note="the record negates pleural effusion; 'right' is not in it",
    )
    b.describe(
        "blind-d-effusion-hepatic",
        "effusion",
        "Axial chest CT. A large right pleural effusion compresses the adjacent right lower "
        "lobe. The visualised upper abdomen shows a 2 cm hypodense hepatic lesion.",
        "unsupported",
        n=1,
        note="a liver lesion (organ by adjective, and a size) that the record does not have",
    )


# --- instruct ---------------------------------------------------------------------------------


def _instruct(b: _Blind) -> None:
    b.instruct(
        "blind-i-bladder-patient",
        "bladder",
        "My scan mentions something in my bladder. What did they find?",
        "The CT shows a 2.8 cm growth on the left side wall of your bladder. Its appearance is "
        "suspicious for bladder cancer, so your urologist will probably want to look at it "
        "directly and take a sample. Reassuringly, there is no sign of blockage "
        "(hydronephrosis) in the upper urinary tracts.",
    )
    b.instruct(
        "blind-i-breast-student",
        "breast",
        "Which ultrasound features make this breast mass look benign?",
        "The mass is oval, circumscribed and hypoechoic, and it lies parallel to the skin. "
        "Together those features favour a fibroadenoma over a malignant lesion, and no "
        "suspicious axillary lymph nodes are seen.",
    )
    b.instruct(
        "blind-i-spine-clinician",
        "spine",
        "Is the L1 fracture in this 78-year-old woman more likely osteoporotic or traumatic?",
        "Osteoporotic is more likely: the bones are diffusely demineralised, and a wedge "
        "fracture of L1 with about 40% loss of anterior height in a 78-year-old woman is the "
        "typical insufficiency fracture. Alignment is preserved.",
    )
    b.instruct(
        "blind-i-aneurysm-location-yes",
        "aneurysm",
        "Is the aneurysm on the anterior communicating artery?",
        "Yes. The 7 mm saccular aneurysm arises from the anterior communicating artery.",
    )
    b.instruct(
        "blind-i-ovary-worried",
        "ovary",
        "Should I be worried about the lesion on my right ovary?",
        "The MRI shows a 3.5 cm cystic lesion with a thin enhancing septum. With that pattern an "
        "ovarian tumor cannot be ruled out, so your doctor will probably recommend further "
        "evaluation. Your uterus and left ovary look normal.",
    )
    b.instruct(
        "blind-i-nasal-short",
        "nasal",
        "Which facial bone is broken?",
        "The nasal bones, displaced to the left.",
    )
    b.instruct(
        "blind-i-sigmoid-liver",
        "sigmoid",
        "Has the tumour spread to the liver?",
        "No. The liver is free of focal lesions on this CT, so there is no sign of hepatic "
        "spread from the sigmoid lesion.",
        note="'hepatic' is the liver by adjective",
    )
    b.instruct(
        "blind-i-slake-disease",
        "slake_lung",
        "What disease is shown?",
        "Pneumonia, in the right lung.",
    )
    b.instruct(
        "blind-i-zh-pneumothorax",
        "zh_pneumothorax",
        "这张胸片的主要异常是什么？",
        "主要异常是左侧气胸，左肺被压缩约30%，纵隔仍居中。",
    )
    b.instruct(
        "blind-i-zh-gastric",
        "zh_gastric",
        "胃窦部的病变有什么特点？",
        "胃窦部胃壁不规则增厚，最厚处约1.8cm，增强后明显强化，考虑胃癌。肝内未见转移灶。",
    )
    # defective
    b.instruct(
        "blind-i-spleen-repeat",
        "spleen",
        "What happened to the spleen?",
        "The spleen is torn. There is blood around the spleen. The spleen is torn. There is free "
        "fluid in the pelvis.",
        "repetition",
    )
    b.instruct(
        "blind-i-zh-hcc-loop",
        "zh_hcc",
        "肝脏肿块的强化方式如何？",
        "动脉期明显强化，门脉期廓清，门脉期廓清，门脉期廓清，门脉期廓清，符合原发性肝癌。",
        "repetition",
    )
    b.instruct(
        "blind-i-effusion-prompt",
        "effusion",
        "What would a radiologist say about this chest CT?",
        "Accurate and based on what is visible and the text: a large right pleural effusion "
        "compresses the right lower lobe, and no pneumothorax is identified.",
        "prompt_copy",
    )
    b.instruct(
        "blind-i-sigmoid-notation",
        "sigmoid",
        "How do the colon findings relate to the liver?",
        "The sigmoid lesion is suspicious for colon cancer (Colon Cancer -[location]-> Colon), "
        "but the liver is free of focal lesions.",
        "notation",
    )
    b.instruct(
        "blind-i-zh-fatty-json",
        "zh_fatty",
        "超声提示什么？",
        '{"answer": "肝脏体积增大，回声弥漫性增强，符合脂肪肝。"}',
        "notation",
    )
    b.instruct(
        "blind-i-zh-pleural-cut",
        "zh_pleural",
        "右侧胸腔有什么异常？",
        "右侧胸腔见中等量积液，邻近右肺下叶",
        "truncation",
    )
    b.instruct(
        "blind-i-goiter-sizes",
        "goiter",
        "How large is the thyroid?",
        "The thyroid is enlarged, with the right lobe measuring 6.2 cm and the left lobe 5.8 cm.",
        "unsupported",
        note="lobe sizes invented",
    )
    b.instruct(
        "blind-i-cholecystitis-cirrhosis",
        "cholecystitis",
        "What explains the patient's pain?",
        "The gallbladder is distended with a thickened wall and a stone impacted in its neck, "
        "consistent with calculous cholecystitis. Cirrhosis of the liver is also present.",
        "unsupported",
        note="cirrhosis and the liver are invented",
    )
    b.instruct(
        "blind-i-zh-infarct-side",
        "zh_infarct",
        "病灶位于哪里？",
        "病灶位于右侧额叶，DWI呈高信号，考虑急性脑梗死。",
        "unsupported",
        note="the lesion is in the left frontal lobe",
    )
    b.instruct(
        "blind-i-patella-ligament",
        "patella",
        "Are there other injuries in the knee?",
        "Besides the patellar fracture and the large joint effusion, the anterior cruciate "
        "ligament is torn.",
        "unsupported",
        note="the record says the cruciate ligaments are intact (a finding, not a name)",
    )


# --- reasoning --------------------------------------------------------------------------------


def _reasoning(b: _Blind) -> None:
    b.reasoning(
        "blind-r-effusion-yes",
        "effusion",
        "Is there a pleural effusion?",
        "Yes",
        [
            "Look at the dependent part of the right hemithorax on the axial CT, around the "
            "right lower lobe.",
            "A large crescent of fluid density fills the dependent right pleural space, and the "
            "adjacent lung is compressed and airless.",
            "A pleural effusion is fluid in the pleural space; when large it can cause dyspnea "
            "and pleuritic chest pain.",
            "The dependent fluid collection in the right pleural space is a pleural effusion, so "
            "the answer is yes.",
        ],
        [("Pleural Effusion", "symptom", "dyspnea, pleuritic chest pain")],
        note="'the adjacent lung' is the right lower lobe",
    )
    b.reasoning(
        "blind-r-zh-infarct-bleed-no",
        "zh_infarct",
        "图中是否有脑出血？",
        "否",
        [
            "观察左侧额叶病灶及其周围脑实质。",
            "左侧额叶见片状长T2信号，DWI呈高信号；未见出血信号。",
            "脑出血常表现为头痛、呕吐和意识障碍，影像上可见急性出血信号；DWI高信号提示急性缺血。",
            "病灶为急性脑梗死表现，未见出血，故答案为否。",
        ],
        [("脑出血", "symptom", "头痛，呕吐，意识障碍")],
    )
    b.reasoning(
        "blind-r-spine-level",
        "spine",
        "Which vertebral body is fractured?",
        "L1",
        [
            "Start at the thoracolumbar junction on the lateral view and check each lumbar "
            "vertebral body in turn.",
            "The L1 body is wedge-shaped, with about 40% loss of anterior height; the other "
            "bodies keep their height and alignment is preserved.",
            "Osteoporosis weakens trabecular bone, and a vertebral compression fracture is its "
            "typical complication.",
            "The wedge-shaped L1 body is the compressed, fractured vertebra, so the answer is L1.",
        ],
        [("Osteoporosis", "complication", "vertebral compression fracture")],
    )
    b.reasoning(
        "blind-r-aneurysm-artery",
        "aneurysm",
        "Which artery does the aneurysm arise from?",
        "Anterior communicating artery",
        [
            "Look at the circle of Willis at the base of the brain, in the midline between the "
            "two anterior cerebral arteries.",
            "A 7 mm rounded saccular outpouching projects from the short vessel that joins the "
            "two anterior cerebral arteries.",
            "An intracranial aneurysm is a focal dilatation of an artery of the brain, most "
            "often at the branch points of the circle of Willis.",
            "The outpouching arises from the vessel connecting the anterior cerebral arteries, "
            "which is the anterior communicating artery.",
        ],
        [("Intracranial Aneurysm", "location", "Brain")],
    )
    b.reasoning(
        "blind-r-zh-pneumothorax-side",
        "zh_pneumothorax",
        "气胸位于哪一侧？",
        "左侧",
        [
            "观察双侧胸腔外带及肺尖部。",
            "左侧胸腔外带见无肺纹理的透亮区，左肺被压缩约30%，纵隔居中。",
            "气胸是气体进入胸膜腔，位于肺与胸壁之间，属于呼吸系统疾病。",
            "透亮区位于左侧胸腔，因此气胸位于左侧。",
        ],
        [("气胸", "location", "肺"), ("肺", "belong to", "呼吸系统")],
    )
    b.reasoning(
        "blind-r-goiter-enlarged",
        "goiter",
        "Is the thyroid enlarged?",
        "Yes",
        [
            "Examine both lobes of the thyroid on the transverse neck ultrasound.",
            "Both lobes are diffusely enlarged with a homogeneous echotexture and no discrete "
            "nodule.",
            "A simple goiter is a diffuse enlargement of the thyroid without nodules, often "
            "caused by iodine deficiency.",
            "Both lobes are diffusely enlarged, as in a simple goiter, so the thyroid is "
            "enlarged: yes.",
        ],
        [("Simple Goiter", "cause", "iodine deficiency"), ("Simple Goiter", "location", "Thyroid")],
    )
    b.reasoning(
        "blind-r-zh-hcc-diagnosis",
        "zh_hcc",
        "肝脏病变最可能的诊断是什么？",
        "原发性肝癌",
        [
            "观察肝右叶。",
            "肝右叶见一约4.5cm肿块，动脉期明显强化，门脉期廓清，门静脉内未见充盈缺损。",
            "原发性肝癌好发于肝硬化背景，典型表现为动脉期强化、门脉期廓清。",
            "肿块呈“快进快出”的强化方式，符合原发性肝癌。",
        ],
        [("原发性肝癌", "cause", "肝硬化"), ("原发性肝癌", "location", "肝脏")],
        note="肝硬化 is only named as knowledge, from the facts",
    )
    b.reasoning(
        "blind-r-cholecystitis-yes",
        "cholecystitis",
        "Is cholecystitis present?",
        "Yes",
        [
            "Focus on the gallbladder in the right upper quadrant, including its neck.",
            "The gallbladder is distended, its wall is thickened to 5 mm, there is fluid around "
            "it, and a stone sits impacted in the neck.",
            "Calculous cholecystitis is inflammation of the gallbladder caused by an obstructing "
            "stone and presents with right upper quadrant pain and fever.",
            "A distended, thick-walled gallbladder with pericholecystic fluid and an impacted "
            "stone means calculous cholecystitis: yes.",
        ],
        [("Calculous Cholecystitis", "symptom", "right upper quadrant pain, fever")],
    )
    b.reasoning(
        "blind-r-ovary-excluded-no",
        "ovary",
        "Can an ovarian tumor be excluded?",
        "No",
        [
            "Look at the right adnexa on the pelvic MRI.",
            "A 3.5 cm complex cystic lesion of the right ovary has a thin enhancing septum.",
            "Enhancing septa in a complex ovarian cyst raise the possibility of an ovarian tumor.",
            "Because the septum enhances, a tumor cannot be excluded, so the answer is no.",
        ],
        [("Ovarian Tumor", "location", "Ovary")],
        note="'No' answers 'can it be excluded', it does not deny the tumor",
    )
    # defective
    b.reasoning(
        "blind-r-fibrosis-duplicate",
        "fibrosis",
        "Where is the fibrosis most pronounced?",
        "Both lung bases",
        [
            "Look at the subpleural regions of both lung bases.",
            "Subpleural reticulation and honeycombing predominate at both lung bases, with "
            "traction bronchiectasis.",
            "Pulmonary fibrosis is scarring of the lung interstitium.",
            "Subpleural reticulation and honeycombing predominate at both lung bases, with "
            "traction bronchiectasis.",
        ],
        [("Pulmonary Fibrosis", "location", "Lung")],
        "stages repetition",
        note="the conclusion repeats the visual analysis word for word. Corrected after the "
        "only run (was 'stages'): the same sentence occurs twice, which is repetition by "
        "definition ([synth.checks] repeated_sentences)",
    )
    b.reasoning(
        "blind-r-spine-empty",
        "spine",
        "Is the alignment of the lumbar spine preserved?",
        "Yes",
        [
            "Look at the posterior margins of the lumbar vertebral bodies on the lateral view.",
            "",
            "Osteoporotic compression fractures usually spare the posterior wall and keep "
            "alignment.",
            "The posterior margins line up, so alignment is preserved: yes.",
        ],
        [("Osteoporosis", "complication", "vertebral compression fracture")],
        "stages",
    )
    b.reasoning(
        "blind-r-zh-gastric-empty",
        "zh_gastric",
        "胃壁最厚处约多少？",
        "约1.8cm",
        [
            "观察胃窦部胃壁。",
            "胃窦部胃壁不规则增厚，最厚处约1.8cm，增强后明显强化。",
            "",
            "测量胃窦部最厚处，约1.8cm。",
        ],
        [("胃癌", "location", "胃")],
        "stages",
    )
    b.reasoning(
        "blind-r-zh-pneumothorax-duplicate",
        "zh_pneumothorax",
        "是否存在气胸？",
        "是",
        [
            "观察左侧胸腔。",
            "左侧胸腔外带见无肺纹理透亮区，左肺压缩约30%。",
            "左侧胸腔外带见无肺纹理透亮区，左肺压缩约30%，提示气胸。",
            "左侧胸腔外带见无肺纹理透亮区，左肺压缩约30%，提示气胸。",
        ],
        [("气胸", "location", "肺")],
        "stages repetition",
        note="knowledge and conclusion are the same text. Corrected after the only run (was "
        "'stages'): the same sentence occurs twice, which is repetition by definition",
    )
    b.reasoning(
        "blind-r-goiter-blank",
        "goiter",
        "Is there a discrete thyroid nodule?",
        "No",
        [
            "Examine both lobes of the thyroid on the transverse neck ultrasound.",
            "Both lobes are diffusely enlarged and homogeneous, without a discrete nodule.",
            "A simple goiter enlarges the thyroid diffusely, without nodules.",
            "   ",
        ],
        [("Simple Goiter", "location", "Thyroid")],
        "stages",
    )
    b.reasoning(
        "blind-r-aneurysm-prompt",
        "aneurysm",
        "Is there an intracranial aneurysm?",
        "Yes",
        [
            "Look at the circle of Willis at the base of the brain.",
            "A 7 mm saccular outpouching arises from the anterior communicating artery.",
            "The medical facts that matter here, taken from the facts given: an intracranial "
            "aneurysm is a focal dilatation of an artery of the brain.",
            "The saccular outpouching is an intracranial aneurysm, so the answer is yes.",
        ],
        [("Intracranial Aneurysm", "location", "Brain")],
        "prompt_copy",
    )
    b.reasoning(
        "blind-r-spine-prompt",
        "spine",
        "Is there a vertebral fracture?",
        "Yes",
        [
            "Look at the lumbar vertebral bodies on the lateral view.",
            "The L1 body is wedge-shaped with about 40% loss of anterior height.",
            "Osteoporosis weakens bone, and a vertebral compression fracture is its typical "
            "complication.",
            "How the observations and the facts lead to the answer: the wedge-shaped L1 body is "
            "a compression fracture, so yes.",
        ],
        [("Osteoporosis", "complication", "vertebral compression fracture")],
        "prompt_copy",
    )
    b.reasoning(
        "blind-r-effusion-pneumothorax-yes",
        "effusion",
        "Is there a pneumothorax?",
        "Yes",
        [
            "Look at the apices and the lateral pleural margins of both hemithoraces.",
            "A large right pleural effusion is present, and a visceral pleural line without "
            "lung markings beyond it is seen at the right apex.",
            "A pneumothorax is air in the pleural space, seen as a pleural line without lung "
            "markings beyond it.",
            "The pleural line at the right apex indicates a pneumothorax, so the answer is yes.",
        ],
        [("Pneumothorax", "location", "Lung")],
        "label unsupported",
        note="'Pneumothorax is not identified'. Corrected after the only run (was 'label'): the "
        "stages assert a pneumothorax the record negates, an unsupported finding, labelled so "
        "in blind-d-fibrosis-effusion too",
    )
    b.reasoning(
        "blind-r-zh-abd-stone-yes",
        "zh_normal_abd",
        "图中是否有肾结石？",
        "是",
        [
            "观察双肾。",
            "双肾形态大小未见异常。",
            "肾结石在CT平扫上表现为肾内高密度影。",
            "结合所见，答案为是。",
        ],
        [("肾结石", "location", "肾")],
        "label",
        note="可排除肾结石",
    )
    b.reasoning(
        "blind-r-breast-invented",
        "breast",
        "What is the most likely diagnosis of the breast mass?",
        "Fibroadenoma",
        [
            "Look at the 2 o'clock position of the right breast.",
            "An oval, circumscribed, hypoechoic 2.4 cm mass lies parallel to the skin.",
            "Breast fibroadenoma is a benign tumour of young women.",
            "A circumscribed oval mass parallel to the skin in a 25-year-old woman is most "
            "consistent with a fibroadenoma.",
        ],
        [("Breast Fibroadenoma", "population", "young women")],
        "unsupported",
        note="right breast, 2.4 cm and 25 years are all invented",
    )
    b.reasoning(
        "blind-r-spleen-notation",
        "spleen",
        "Which organ is injured?",
        "Spleen",
        [
            "Look at the left upper quadrant of the abdomen.",
            "A deep laceration runs through the spleen, with haematoma around it.",
            "Splenic Rupture -[location]-> Spleen -[belong to]-> Lymphatic System.",
            "The lacerated organ is the spleen.",
        ],
        [("Splenic Rupture", "location", "Spleen"), ("Spleen", "belong to", "Lymphatic System")],
        "notation",
    )
    b.reasoning(
        "blind-r-ovary-cut",
        "ovary",
        "Can an ovarian tumor be excluded?",
        "No",
        [
            "Look at the right adnexa on the pelvic MRI.",
            "A 3.5 cm complex cystic lesion of the right ovary has a thin enhancing septum.",
            "Enhancing septa in a complex ovarian cyst raise the possibility of an ovarian tumor.",
            "Because the septum enhances, a tumor cannot be excluded and further work-up is "
            "needed, for example with",
        ],
        [("Ovarian Tumor", "location", "Ovary")],
        "truncation",
    )
    b.reasoning(
        "blind-r-zh-fatty-loop",
        "zh_fatty",
        "肝脏回声如何？",
        "弥漫性增强",
        [
            "观察肝脏实质。",
            "肝实质回声弥漫性增强，回声增强，回声增强，回声增强，回声增强，后方回声衰减。",
            "脂肪肝时肝细胞内脂肪堆积，超声上表现为回声增强。",
            "肝实质回声弥漫性增强，符合脂肪肝。",
        ],
        [("脂肪肝", "location", "肝脏")],
        "repetition",
    )


@lru_cache(maxsize=1)
def heldout() -> tuple[Item, ...]:
    """Every blind held-out draft (built once)."""
    b = _Blind()
    for part in (_multihop, _hardneg, _keyanswer, _describe, _instruct, _reasoning):
        part(b)
    ids = [item.id for item in b.items]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate held-out ids: {sorted(duplicates)}")
    return tuple(b.items)
