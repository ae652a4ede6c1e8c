"""A labelled corpus of drafts for the quality gate (issue 13), written by the project.

Each :class:`Item` is one draft as :func:`medsynth.synth.gate.inspect` sees it (a ``Candidate``),
the evidence of its record (``Facts``: the context, what it affirms or negates, the KG's disease
and organ names) and the detectors that SHOULD fire on it (empty: a good draft). The labels state
the truth a clinician would accept, not what the gate happens to do today: a case the gate gets
wrong stays labelled as it should be, with a ``note`` saying why, so the benchmark shows where
the detectors fall short.

The drafts cover all six generators, English and Chinese, about half of them good. The good ones
include hard cases (a negated disease correctly answered "No", "no change in the nodule", sides
and numbers that the caption does state, Chinese punctuation, Crohn’s with a curly apostrophe);
the bad ones cover every defect class of the issue. The KG vocabulary is SLAKE's disease and
organ names (English = Chinese, from its ``KG/*-en-zh.json``, written out so that the corpus needs
no data files) plus a few common findings of the demo KG.

``corpus()`` builds the items once; :func:`evaluate` runs the gate over them and
:func:`tally`, :func:`false_reject_rate` and :func:`errors` score the result (used by
``tests/unit/test_gate_corpus.py`` and ``tests/bench/bench_gate.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib.resources import files

from medsynth.config import ChecksConfig
from medsynth.synth.gate import DETECTORS, Candidate, Facts, detector_of, inspect
from medsynth.synth.hardneg import ANSWER, TEMPLATES
from medsynth.synth.negation import Polarity, polarity
from medsynth.synth.pubmedvision import ALIGN_SINGLE
from medsynth.text import has_cjk

# --- the KG vocabulary ----------------------------------------------------------------------

_SLAKE_DISEASES = """
Alveolar Proteinosis=肺泡蛋白质沉积症; Pertussis=百日咳;
Asthmatoid Bronchitis=喘息样支气管炎; Lobar Pneumonia=大叶性肺炎;
Pulmonary Actinomycosis=肺放线菌病; Radiation Pneumonia=放射性肺炎;
Pulmonary Candidiasis=肺念珠菌病; Pulmonary Bullae=肺大疱; Emphysema=肺气肿;
Pulmonary Abscess=肺脓肿; Pulmonary Embolism=肺栓塞; Pneumonia=肺炎; Pulmonary Edema=肺水肿;
Lung Cancer=肺癌; Respiratory Failure=呼吸衰竭;
Acute Respiratory Distress Syndrome=急性呼吸窘迫综合征; Tracheal Neoplasms=气管肿瘤;
Tracheal And Bronchial Stenosis=气管、支气管狭窄; Osahs=鼾症; Silicosis=矽肺; Asthma=哮喘;
Bacterial Pneumonia=细菌性肺炎; Chlamydia Pneumonia=衣原体肺炎;
Mycoplasma Pneumonia=支原体肺炎; Bronchiectasia=支气管扩张; Single Ventricle=单心室;
Single Atrium=单心房; Arteriosclerosis=动脉硬化; Aneurysm=动脉瘤;
Mitral Insufficiency=二尖瓣关闭不全; Mitral Stenosis=二尖瓣狭窄;
Hypertrophic Obstructive Cardiomyopathy=肥厚型梗阻性心肌病;
Hypertrophic Cardiomyopathy=肥厚型心肌病; Pulmonary Arteriovenous Fistula=肺动静脉瘘;
Coronary Heart Disease=冠心病; Tricuspid Stenosis=三尖瓣狭窄;
Tricuspid Insufficiency=三尖瓣关闭不全; Atrial Fibrillation=三房心; Hemangioma=血管瘤;
Angina Pectoris=心绞痛; Miocardial Infarction=心肌梗死; Pericardial Cyst=心包囊肿;
Pericardial Neoplasms=心包肿瘤; Left Ventricular Dysplasia=左心发育不良;
Aortic Aneurysm=主动脉瘤; Amiba Hepatic Abscess=阿米巴肝脓肿; Constipation=便秘;
Volvulus=肠扭转; Cholelithiasis=胆石症; Cholangiocarcinoma=胆管癌;
Colorectal Carcinoid=大肠类癌; Colorectal Cancer=大肠癌; Hepatic Fibrosis=肝纤维化;
Hepatic Abscess=肝脓肿; Hepatic Adenoma=肝腺瘤; Hepatic Cyst=肝囊肿;
Hepatic Hemangioma=肝血管瘤; Colon Cancer=结肠癌; Alcoholic Liver Disease=酒精性肝病;
Calculous Cholecystitis=结石性胆囊炎; Colon Injury=结肠损伤; Splenic Rupture=脾破裂;
Esophageal Cancer=食管癌; Leiomyoma Of Esophagus=食管平滑肌瘤; Gastric Cancer=胃癌;
Gastrocardiac Syndrome=胃心综合征; Gastric Injury=胃损伤; Gastroptosis=胃下垂;
Gastric Leiomyosarcoma=胃平滑肌肉瘤; Stomach Trouble=胃病;
Benign Tumors Of Stomach=胃良性肿瘤; Mesenteric Injury Of Small Intestine=小肠系膜损伤;
Gastropathy Of Drugs=药物性胃病; Drug-Induced Liver Disease=药物性肝病;
Primary Liver Cancer=原发性肝癌; Fatty Liver=脂肪肝; Polycystic Kidney=多囊肾;
Bladder Cancer=膀胱癌; Ureteral Injury=输尿管损伤; Renal Injury=肾脏损伤; Renal Cyst=肾囊肿;
Renal Cell Carcinoma=肾细胞癌; Arao=肾动脉闭塞;
Fibrous Cavernositis Of Penis=阴茎纤维性海绵体炎; Alzheimer Disease=阿尔茨海默病;
Transient Ischemic Attack=短暂性脑缺血发作; Spinal Cord Vasculopathy=脊髓血管病;
Cerebral Hemorrhage=脑出血; Cerebral Thrombosis=脑血栓;
Cerebral Arteriosclerosis=脑动脉硬化症; Brain Abscess=脑脓肿;
Cerebral Palsy Syndrome=脑性瘫痪综合征; Parkinson'S Disease=帕金森病;
Radiation Injury Of Nervous System=神经系统的放射性损伤; Motor Neuron Disease=运动神经元疾病;
Neurilemoma Of Pharynx=咽部神经鞘膜瘤; Simple Goiter=单纯性甲状腺肿; Osteoporosis=骨质疏松;
Thyroid Adenoma=甲状腺腺瘤; Gigantism And Acromegaly=巨人症及肢端肥大症;
Tracheobronchial Foreign Body=气管支气管异物; Hyperplasia Of Mammary Glands=乳腺增生;
Mammary Cancer=乳腺癌; Pineal Tumors=松果体瘤; Surgical Lymphangioma=外科淋巴管瘤;
Thymoma=胸腺瘤; Diseases Of Hypothaiamus=下丘脑疾病; Insulinoma=胰岛素瘤;
Multiple Myeloma=多发性骨髓瘤; Malignant Lymphoma=恶性淋巴瘤; Myelofibrosis=骨髓纤维化;
Hodgkin Lymphoma=霍奇金淋巴瘤; Congestive Splenomegaly=充血性脾肿大;
Ankylosing Spondylitis=强直性脊柱炎; Breast Fibroma=乳房纤维瘤; Sternal Fracture=胸骨骨折;
Primary Cardiac Tumors=原发性心脏肿瘤; Lateral Ventricular Tumors=侧脑室肿瘤;
Tumors Of The Fourth Ventricle=第四脑室肿瘤; Multiple Intracranial Hematoma=多发性颅内血肿;
Third Ventricular Tumors=第三脑室肿瘤; Cervical Canal Stenosis=颈椎管狭窄症;
Spina Bifida=脊柱裂; Osteomyelitis Of Skull=颅骨骨髓炎; Intracranial Aneurysm=颅内动脉瘤;
Cerebral Hernia=脑疝; Intraventricular Hemorrhage=脑室内出血;
Cerebrospinal Fluid Leakage=脑脊液漏; Hydrocephalus=脑积水; Meningioma=脑膜瘤; Apoplexy=中风;
Gallbladder Cancer=胆囊癌; Gallstone=胆结石; Pancreatic Cancer=胰腺癌;
Pancreatic Cyst=胰腺囊肿; Pancreatic Abscess=胰腺脓肿; Prostatic Cancer=前列腺癌;
Renal Cortical Abscess=肾皮质脓肿; Perirenal Abscess=肾周脓肿; Renal Pelvic Carcinoma=肾盂癌;
Renal Carcinoma=肾癌; Colonic Lipoma=结肠脂肪瘤; Rectal Cancer=直肠癌;
Patella Fracture=髌骨骨折; Patellomalacia=髌骨软化症; Fracture Of Nasal Bone=鼻骨骨折;
Fracture=骨折; Dislocation Of Joint=关节脱位; Calcaneal Fracture=跟骨骨折;
Humeral Shaft Fracture=肱骨干骨折; Pelvic Fracture=骨盆骨折; Jaw Fracture=颌骨骨折;
Syringomyelia=脊髓空洞症; Spinal Cord Tumors=脊髓肿瘤; Poliomyelitis=脊髓灰质炎;
Temporal Bone Fracture=颞骨骨折; Temporomandibular Dislocation=颞下颌关节脱位;
Temporomandibular Ankylosis=颞下颌关节强直; Zygomatic Fracture=颧骨骨折;
Clavicle Fracture=锁骨骨折; Orbital Fracture=眼眶骨折;
Metatarsal And Phalangeal Fractures=跖骨、趾骨骨折; Nasal Hemangioma=鼻血管瘤;
Breast Fibroadenoma=乳房纤维腺瘤; Nasopharyngeal Carcinoma=鼻咽癌;
Nasopharyngeal Sarcoma=鼻咽肉瘤; Angiofibroma Of Nasopharynx=鼻咽血管纤维瘤;
Cervical Carcinoma=宫颈癌; Testicular Neoplasms=睾丸肿瘤; Laryngeal Cancer=喉癌;
Thyroid Cancer=甲状腺癌; Oophoroma=卵巢癌; Lymphangioma=淋巴管瘤; Tongue Cancer=舌癌;
Small Intestinal Tumor=小肠肿瘤; Penile Cancer=阴茎癌; Vaginal Malignant Tumors=阴道恶性肿瘤;
Endometrial Cancer=子宫内膜癌; Middle Ear Cancer=中耳癌;
Retinopathy Of Prematurity=早产儿视网膜病变; Bullous Keratopathy=大泡性角膜病变;
Myopic Eye=近视眼; Keratopathy=角膜病; Stromal Keratitis=基质性角膜炎; Glaucoma=青光眼;
Retinal Detachment=视网膜脱离; Hyperopia=远视眼; Pharyngeal Vascular Malformation=咽血管畸形;
Heart Disease=心脏病; Coronavirus Infections=冠状病毒感染; Myelomyelitis=脊髓炎;
Thyroid Nodules=甲状腺结节; Intestinal Cancer=肠癌; Gastritis=胃炎; Gallstones=胆囊结石;
Pharyngitis=咽炎; Uterine Malignancy=子宫恶性肿瘤; Oral Hemangioma=口腔血管瘤;
Cholangioma=胆管肿瘤; Gastrointestinal Cancer=胃肠道癌; Lipoma Of Breast=乳腺脂肪瘤;
Renal Aneurysm=肾动脉瘤; Ductoma Of Breast=乳腺导管瘤; Testicular Cancer=睾丸癌;
Liver Cancer=肝癌; Thyroid Microcarcinoma=甲状腺微小癌; Gastric Perforation=胃穿孔;
Splenomegaly=脾大; Thymic Cyst=胸腺囊肿; Renal Abscess=肾脓肿; Breast Cyst=乳腺囊肿;
Gastric Malignant Lymphoma=胃恶性淋巴瘤; Pulmonary Fibrosis=肺纤维化; Brain Edema=脑水肿;
Renal Neoplasms=肾肿瘤; Testicular Cyst=睾丸囊肿; Bone Cancer=骨癌;
Small Intestinal Hemangioma=小肠血管瘤; Small Intestinal Lipoma=小肠脂肪瘤;
Memory Impairment=记忆障碍; Cerebellar Atrophy=小脑萎缩; Breast Mass=乳房肿块;
Lipoma Of Large Intestine=大肠脂肪瘤; Tumor Of Biliary Tract=胆道肿瘤;
Comminuted Fracture=粉碎性骨折; Biliary Tract Cancer=胆道癌; Nasal Neoplasms=鼻肿瘤;
Liver Rupture=肝破裂; Tonsil Cancer=扁桃体癌; Lymphocarcinoma=淋巴癌;
Temporal Lobe Epilepsy=颞叶癫痫; Fissure=骨裂; Laryngeal Fibroma=喉纤维瘤;
Pulmonary Arteriovenous Aneurysm=肺动静脉瘤; Alcoholic Cirrhosis=酒精性肝硬化; Epilepsy=癫痫;
Spinal Fracture=脊柱骨折; Lymphoma=淋巴瘤; Mouth Cancer=口腔癌; Hepatic Aneurysm=肝动脉瘤;
Liver Tumors=肝肿瘤; Invasive Carcinoma Of Cervix=宫颈浸润癌; Adrenal Tumors=肾上腺肿瘤;
Bladder Squamous Cell Carcinoma=膀胱鳞状细胞癌; Ankle Fracture=踝关节骨折;
Renal Atrophy=肾萎缩; Brain Cancer=脑癌; Seminal Vesicle Malignancy=精囊恶性肿瘤;
Benign Brain Tumour=良性脑瘤; Nasal Carcinoma=鼻腔癌; Nasal Cyst=鼻腔囊肿;
Thyroid Neoplasms=甲状腺肿瘤; Pulmonary Nodules=肺结节; Uterine Cyst=子宫囊肿;
Brain Cyst=脑囊肿; Encephalitis=脑炎; Small Intestinal Fibroma=小肠纤维瘤;
Thyroid Cyst=甲状腺囊肿; Cyst Of Bladder=膀胱囊肿; Cyst Of Gallbladder=胆囊囊肿;
Alveolar Carcinoma=肺泡癌; Liver Stones=肝结石; Scrotal Cancer=阴囊癌;
Laryngeal Carcinoma=咽喉癌; Phalangeal Fracture=指骨骨折;
Esophageal Stromal Tumors=食管间质瘤; Intestinal Neoplasms=肠道肿瘤;
Pineal Cell Tumor=松果体细胞瘤; Breast Nodules=乳腺结节; Bronchiogenic Cyst=支气管源性囊肿;
Cerebral Venous Aneurysm=大脑大静脉瘤; Mesenteric Aneurysm=肠系膜动脉瘤;
Esophageal Sarcoma=食管肉瘤; Ovarian Tumor=卵巢肿瘤; Pulmonary Failure=肺功能衰竭;
Hepatitis=肝炎; Brainstem Tumors=脑干肿瘤; Bladder Neoplasms=膀胱肿瘤;
Splenic Aneurysm=脾动脉瘤; Splenic Cyst=脾囊肿; Glioma=脑胶质瘤; Prostate Cyst=前列腺囊肿;
Mesenteric Cyst=肠系膜囊肿; Gastric Neurofibroma=胃神经纤维瘤; Gastric Ulcer=胃溃疡;
Fibrosarcoma Of Breast=乳腺纤维肉瘤;
Congenital Diseases Of Nervous System=神经系统先天性疾病;
Pancreatic Polypeptide Tumors=胰多肽瘤; Duodenal Ulcer=十二指肠溃疡;
Adenocarcinoma Of Duodenum=十二指肠腺癌; Esophageal Carcinoid=食管类癌;
Esophageal Cyst=食管囊肿; Ureteral Neoplasms=输尿管肿瘤; Brain Atrophy=脑萎缩;
Diabetic Retinopathy=糖尿病性视网膜病变; Cholecystitis=胆囊炎
"""
_SLAKE_ORGANS = """
Skeleton=骨架; Motor System=运动系统; Joint=关节; Ligament=韧带; Spine=脊柱;
Oral Cavity=口腔; Digestive System=消化系统; Tooth=牙齿; Tongue=舌; Salivary Gland=唾腺;
Parotid Gland=腮腺; Mandibular Gland=下颌腺; Sublingual Gland=舌下腺; Pharynx=咽;
Esophagus=食道; Stomach=胃; Small Intestine=小肠; Duodenum=十二指肠; Jejunum=空肠;
Ileum=回肠; Large Intestine=大肠; Liver=肝脏; Gallbladder=胆囊; Mesentery=肠系膜;
Pancreas=胰脏; Nasal Cavity=鼻腔; Respiratory System=呼吸系统; Throat=喉; Trachea=气管;
Bronchial Tube=支气管; Lung=肺; Diaphragm=横膈膜; Kidney=肾; Urinary System=泌尿系统;
Ureter=输尿管; Bladder=膀胱; Urethra=尿道; Ovary=卵巢; Reproductive System=生殖系统;
Fallopian Tube=输卵管; Uterus=子宫; Vagina=阴道; Clitoris=阴蒂; Placenta=胎盘; Testis=睾丸;
Epididymis=附睾; Vas Deferens=输精管; Seminal Vesicle=精囊; Prostate=前列腺; Penis=阴茎;
Scrotum=阴囊; Breast=乳腺; Pituitary Gland=脑下垂体; Endocrine System=内分泌系统;
Pineal Gland=松果体; Thyroid=甲状腺; Parathyroid=副甲状腺; Thymus=胸腺; Adrenal Gland=肾上腺;
Islets=胰岛; Gonad=性腺; Heart=心脏; Circulatory System=循环系统; Artery=动脉; Vein=静脉;
Capillary=微血管; Lymph Vessel=淋巴管; Lymphatic System=淋巴系统; Lymph Node=淋巴结;
Bone Marrow=骨髓; Spleen=脾脏; Gut-Associated Lymphoid Tissue=肠相关淋巴组织; Lymph=淋巴;
Tonsils=扁桃腺; Brain=大脑; Nervous System=神经系统; Cerebral Hemisphere=大脑半球;
Diencephalon=间脑; Brainstem=脑干; Midbrain=中脑; Pons=桥脑; Medulla Oblongata=延髓;
Cerebellum=小脑; Spinal Cord=脊髓; Ventricle=脑室; Choroid Plexus=脉络丛;
Cranial Nerve=脑神经; Spinal Nerve=脊神经; Ganglion=神经节; Eye=眼; Sense Organ=感觉器官;
Ear=耳; Nose=鼻; Corneal=角膜; Iris=虹膜; Ciliary Body=睫状体; Lens=晶状体; Retina=视网膜;
Earlobe=耳垂; Tympanic Membrane=鼓膜; Middle Ear=中耳; Ossicle=听小骨; Inner Ear=内耳;
Cochlea=耳蜗; Vestibule Of Ear=耳前庭; Semicircular Canal=半规管;
Olfactory Epithelium=嗅上皮细胞
"""
# Findings of the demo KG and the issue that SLAKE's KG lacks, and a few of SLAKE's aliases:
# every name of one entity, English first.
_EXTRA_DISEASES = (
    ("Kidney Stone", "肾结石", "Renal Calculus"),
    ("Pleural Effusion", "胸腔积液"),
    ("Pneumothorax", "气胸"),
    ("Cardiomegaly", "心脏增大"),
    ("Hydronephrosis", "肾积水"),
    ("Pulmonary Tuberculosis", "肺结核"),
    ("Cirrhosis", "肝硬化"),
    ("Rib Fracture", "肋骨骨折"),
    ("Crohn's Disease", "克罗恩病"),
    ("Atelectasis", "肺不张"),
)
_ALIASES = {
    "Hepatic Cyst": ("Liver Cyst",),
    "Renal Cyst": ("Kidney Cyst",),
    "Lung Cancer": ("Bronchial Lung Cancer",),
    "Cholelithiasis": ("Gallstone",),
    "Cerebral Hemorrhage": ("Cerebral Haemorrhage", "脑溢血"),
    "Renal Cell Carcinoma": ("Renal Adenocarcinoma",),
}


def _pairs(table: str) -> list[tuple[str, str]]:
    """``English=中文`` entries of a vocabulary table."""
    entries = (e.strip() for e in table.replace("\n", " ").split(";"))
    return [tuple(e.split("=", 1)) for e in entries if e]  # type: ignore[misc]


def _groups() -> tuple[tuple[str, ...], ...]:
    """Every disease entity as the tuple of its names (name, Chinese name, aliases)."""
    groups = [(en, zh, *_ALIASES.get(en, ())) for en, zh in _pairs(_SLAKE_DISEASES)]
    return tuple(groups) + _EXTRA_DISEASES


DISEASE_GROUPS = _groups()
DISEASES: tuple[str, ...] = tuple(dict.fromkeys(n for g in DISEASE_GROUPS for n in g))
ORGANS: tuple[str, ...] = tuple(dict.fromkeys(n for p in _pairs(_SLAKE_ORGANS) for n in p))
_RANK = {"affirmed": 3, "uncertain": 2, "negated": 1}


def facts_for(context: str, grounded: Sequence[str] = ()) -> Facts:
    """The record's evidence as the pipeline builds it (``medsynth.synth.facts``): every KG
    disease the context names, with its polarity; grounded diseases affirmed; the names of one
    entity sharing the strongest polarity any of them has."""
    found: dict[str, Polarity] = dict(polarity(context, DISEASES))
    for name in grounded:
        found[name] = "affirmed"
    for group in DISEASE_GROUPS:
        seen = [found[n] for n in group if n in found]
        if seen:
            best = max(seen, key=_RANK.__getitem__)
            found.update(dict.fromkeys(group, best))
    return Facts(context=context, polarity=found, kg_diseases=DISEASES, kg_organs=ORGANS)


# --- the prompts' fixed wording ---------------------------------------------------------------

_JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)


@lru_cache(maxsize=16)
def wording(prompt: str) -> tuple[str, ...]:
    """The fixed text of prompt ``prompt``, chunk by chunk, as the gate receives it."""
    try:
        from medsynth.prompts import fixed_wording
    except ImportError:  # an older tree: strip the Jinja tags here
        text = (files("medsynth.prompts") / f"{prompt}.jinja").read_text(encoding="utf-8")
        return tuple(c.strip() for c in _JINJA.split(text) if c.strip())
    return tuple(fixed_wording(prompt))


PROMPTS = {
    "multihop": "synth_multihop",
    "describe": "synth_pubmedvision",
    "instruct": "synth_pubmedvision",
    "reasoning": "synth_reasoning_loc synth_reasoning_vis synth_reasoning_kno synth_reasoning",
    "keyanswer": "synth_keyanswer",
}


# --- items ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One labelled draft: what the gate sees and which detectors should fire."""

    id: str
    candidate: Candidate
    facts: Facts
    expected: frozenset[str]
    note: str = ""  # why the label is what it is, for the cases that are not obvious
    split: str = "tuned"  # "held-out": written after the gate was tuned on the "tuned" items

    @property
    def good(self) -> bool:
        """A draft that should be kept."""
        return not self.expected

    @property
    def language(self) -> str:
        """``zh`` when the generated text (or label) is Chinese, else ``en``."""
        c = self.candidate
        text = " ".join([c.question, c.prose(), c.key_answer, c.label])
        return "zh" if has_cjk(text) else "en"


Triple = tuple[str, str, str]


def path_of(triples: Sequence[Triple]) -> tuple[str, list[str]]:
    """A KG path as ``KGPath.text()`` renders it, and its entities in order."""
    parts: list[str] = []
    current = None
    entities: list[str] = []
    for head, relation, tail in triples:
        if current == head:
            parts[-1] += f" -[{relation}]-> {tail}"
        else:
            parts.append(f"{head} -[{relation}]-> {tail}")
        current = tail
        entities += [n for n in (head, tail) if n not in entities]
    return " ; ".join(parts), entities


def long_path(disease: str, relation: str, value: str, organ: str, system: str) -> list[Triple]:
    """A MedKInstruct long path: one attribute of a disease joined to its location chain."""
    return [
        (disease, relation, value),
        (disease, "location", organ),
        (organ, "belong to", system),
    ]


def _expect(expected: str) -> frozenset[str]:
    names = frozenset(expected.split())
    unknown = names - set(DETECTORS)
    if unknown:
        raise ValueError(f"unknown detectors {sorted(unknown)}")
    return names


class _Builder:
    """Collects items; one method per generator, each shaped like that generator's drafts."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.split = "tuned"

    def _add(self, id: str, c: Candidate, record: str, expected: str, note: str) -> None:
        c.template_text = (
            tuple(w for name in PROMPTS[c.generator].split() for w in wording(name))
            if c.generator in PROMPTS
            else ()
        )
        facts = record_facts(record)
        self.items.append(Item(id, c, facts, _expect(expected), note, self.split))

    def multihop(
        self,
        id: str,
        record: str,
        path: Sequence[Triple],
        question: str,
        answer: str,
        expected: str = "",
        note: str = "",
    ) -> None:
        """A knowledge question and its answer from one KG path."""
        text, entities = path_of(path)
        c = Candidate(
            "multihop", question=question, answer=answer, path_text=text, path_entities=entities
        )
        self._add(id, c, record, expected, note)

    def describe(
        self, id: str, record: str, answer: str, expected: str = "", note: str = "", n: int = 0
    ) -> None:
        """Alignment VQA: a fixed "describe this image" question and the generated description."""
        c = Candidate("describe", question=ALIGN_SINGLE[n % len(ALIGN_SINGLE)], answer=answer)
        self._add(id, c, record, expected, note)

    def instruct(
        self, id: str, record: str, question: str, answer: str, expected: str = "", note: str = ""
    ) -> None:
        """Instruction VQA: a generated question and answer under a role-play scenario."""
        self._add(
            id, Candidate("instruct", question=question, answer=answer), record, expected, note
        )

    def reasoning(
        self,
        id: str,
        record: str,
        question: str,
        label: str,
        stages: Sequence[str],
        facts: Sequence[Triple] = (),
        expected: str = "",
        note: str = "",
    ) -> None:
        """A four-stage trajectory to a dataset question's answer, given KG facts."""
        names = ("localization", "visual_analysis", "knowledge", "conclusion")
        lines = [f"{h} -[{r}]-> {t}" for h, r, t in facts]
        entities = list(dict.fromkeys(n for h, _, t in facts for n in (h, t)))
        c = Candidate(
            "reasoning",
            question=question,
            label=label,
            stages=dict(zip(names, stages, strict=True)),
            path_text="\n".join(lines),
            path_entities=entities,
            trusted=question,
        )
        self._add(id, c, record, expected, note)

    def keyanswer(
        self,
        id: str,
        record: str,
        question: str,
        parent: str,
        key: str,
        expected: str = "",
        note: str = "",
    ) -> None:
        """A key answer condensed from a parent answer."""
        c = Candidate(
            "keyanswer", question=question, key_answer=key, parent_answer=parent, label=key
        )
        self._add(id, c, record, expected, note)

    def hardneg(
        self, id: str, record: str, disease: str, expected: str = "", note: str = "", n: int = 0
    ) -> None:
        """A hard negative: a fixed template about a look-alike disease, answered "No."."""
        question = TEMPLATES[n % len(TEMPLATES)].format(disease=disease)
        c = Candidate("hardneg", question=question, answer=ANSWER, label=ANSWER, subject=disease)
        self._add(id, c, record, expected, note)


# --- records ----------------------------------------------------------------------------------
# Captions in radiology style (English and Chinese) and two SLAKE-style contexts built from a
# record's own question rows. Several drafts of different generators share one record, as in a
# real run.

RECORDS: dict[str, str] = {
    "pneumonia": "Chest X-ray, PA view: patchy consolidation with air bronchograms in the right "
    "lower lung zone, consistent with pneumonia. No pleural effusion. The heart size is normal.",
    "stone": "Non-contrast CT of the abdomen: an 8 mm dense calculus in the left kidney, "
    "consistent with a kidney stone, without hydronephrosis.",
    "liver_cyst": "Axial contrast-enhanced CT of the abdomen: a 3.2 cm simple hepatic cyst in the "
    "right lobe of the liver, with no enhancement after contrast. The spleen is normal.",
    "emphysema": "Frontal chest radiograph: hyperinflated lungs with flattened hemidiaphragms, "
    "consistent with emphysema, without pneumothorax or pleural effusion.",
    "nodule": "Follow-up chest CT: no change in the 6 mm pulmonary nodule in the left upper lobe "
    "compared with the prior study.",
    "mass": "Chest CT: a 4.5 cm spiculated mass in the right upper lobe, suspicious for lung "
    "cancer, with enlarged mediastinal lymph nodes.",
    "embolism": "CT pulmonary angiogram: a filling defect in the right lower lobe pulmonary "
    "artery, consistent with pulmonary embolism. The lungs are otherwise clear.",
    "bleed": "Non-contrast head CT of a 67-year-old man: an acute cerebral hemorrhage in the left "
    "basal ganglia with surrounding brain edema. No hydrocephalus.",
    "meningioma": "Contrast-enhanced MRI of the brain: a well-circumscribed, homogeneously "
    "enhancing extra-axial mass along the right frontal convexity with a dural tail, most "
    "consistent with a meningioma.",
    "gallstones": "Right upper quadrant ultrasound: multiple echogenic gallstones with posterior "
    "acoustic shadowing in the gallbladder. The gallbladder wall is not thickened and there is "
    "no cholecystitis.",
    "fatty": "Abdominal CT: diffusely low attenuation of the liver compared with the spleen, in "
    "keeping with fatty liver. No focal liver lesion.",
    "rcc": "Contrast-enhanced CT: a 5.1 cm heterogeneously enhancing mass in the upper pole of "
    "the right kidney, suspected renal cell carcinoma. The left kidney is normal.",
    "edema": "Chest X-ray of a 62-year-old woman with cough: bilateral interstitial opacities "
    "and Kerley B lines, in keeping with pulmonary edema. The cardiac silhouette is enlarged.",
    "crohn": "MR enterography: wall thickening and mucosal hyperenhancement of the terminal "
    "ileum over a 15 cm segment, in keeping with active Crohn’s disease.",
    "clavicle": "Chest radiograph after a fall: a displaced fracture of the left clavicle. The "
    "lungs are clear and there is no pneumothorax.",
    "spleen": "Abdominal CT: the spleen measures 16 cm in length, in keeping with splenomegaly. "
    "The liver is normal in size.",
    "hydrocephalus": "Non-contrast head CT: the lateral and third ventricles are dilated with "
    "periventricular low density, consistent with hydrocephalus.",
    "pneumothorax": "Chest X-ray: a large right pneumothorax with partial collapse of the right "
    "lung; the trachea is midline.",
    "aorta": "CT angiogram: a fusiform aneurysm of the infrarenal abdominal aorta measuring "
    "5.4 cm, with mural thrombus.",
    "persisting": "Follow-up chest X-ray: the right lower lobe pneumonia seen last week has not "
    "resolved.",
    "normal": "Frontal chest radiograph: clear lungs and a normal heart size; no pneumonia, no "
    "pneumothorax and no pleural effusion.",
    "thyroid": "Neck ultrasound: a 1.8 cm hypoechoic nodule in the right lobe of the thyroid "
    "with microcalcifications; thyroid cancer cannot be excluded.",
    "metastases": "Contrast-enhanced CT of the abdomen in a patient with known colon cancer: "
    "several hepatic metastases, the largest 2.5 cm in segment 7.",
    "proteinosis": "Chest CT: bilateral ground-glass opacities with smooth interlobular septal "
    "thickening in a crazy-paving pattern, consistent with alveolar proteinosis.",
    "slake_liver": "Abdominal CT, transverse plane. Q: Which organ is abnormal? A: Liver. "
    "Q: What diseases are included in the picture? A: Liver Cancer.",
    "zh_pneumonia": "胸部X线片：右肺下叶见斑片状实变影，符合肺炎表现；未见胸腔积液，心影大小正常。",
    "zh_lung_cancer": "胸部CT：右肺上叶见一分叶状肿块，边缘毛刺，符合肺癌；纵隔淋巴结肿大。",
    "zh_liver_cyst": "腹部CT：肝右叶见一类圆形低密度灶，边界清楚，增强扫描未见强化，为肝囊肿。"
    "脾脏未见异常。",
    "zh_stone": "腹部CT平扫：左肾见一高密度结石影，大小约6mm，诊断为肾结石，未见肾积水。",
    "zh_bleed": "头颅CT：左侧基底节区见团片状高密度影，符合脑出血，周围伴脑水肿；脑室未见扩张。",
    "zh_normal": "胸部正位片：双肺纹理清晰，未见肺炎，未见胸腔积液，心影不大。",
    "zh_gallstones": "腹部超声：胆囊内见多个强回声团，后方伴声影，符合胆囊结石；胆囊壁不厚。",
    "zh_emphysema": "胸部CT：双肺透亮度增高，可见多发肺大疱，符合肺气肿。",
    "zh_slake_liver": "腹部MRI，横断面。问：图中病人是否有肝癌？答：是的。",
    # held out: the records of the drafts written after the gate was tuned on the ones above
    "atelectasis": "Portable chest X-ray: left lower lobe atelectasis behind the heart and a "
    "small left pleural effusion. No pneumothorax.",
    "renal_cyst": "Renal ultrasound: a 2.4 cm anechoic cyst in the upper pole of the right "
    "kidney with posterior acoustic enhancement, in keeping with a simple renal cyst. The left "
    "kidney is unremarkable.",
    "pancreas": "Contrast-enhanced CT: a 3 cm hypodense mass in the head of the pancreas with "
    "upstream dilatation of the pancreatic duct, suspicious for pancreatic cancer. No liver "
    "metastases.",
    "glioma": "MRI of the brain, FLAIR: an infiltrative, non-enhancing lesion in the left "
    "temporal lobe, most likely a low-grade glioma. No midline shift.",
    "ribs": "Chest CT: acute fractures of the right 5th and 6th ribs with a small right "
    "pneumothorax.",
    "tuberculosis": "Chest radiograph of a 34-year-old man: a cavitating lesion in the right "
    "upper lobe with surrounding nodules, consistent with pulmonary tuberculosis.",
    "hemangioma": "MRI of the liver: a 4 cm lesion in segment 6 with peripheral nodular "
    "enhancement and progressive fill-in, typical of a hepatic hemangioma.",
    "cardiomegaly": "Chest X-ray: the heart is enlarged with a cardiothoracic ratio of 0.6, "
    "consistent with cardiomegaly. The lungs are clear.",
    "zh_tuberculosis": "胸部CT：右肺上叶见空洞性病变，周围见卫星灶，考虑肺结核。",
    "zh_renal_cyst": "超声：右肾上极见一无回声区，大小约2.4cm，边界清晰，符合肾囊肿；"
    "左肾未见异常。",
    "zh_ribs": "胸部CT：右侧第5、6肋骨骨折，伴少量气胸。",
    "zh_brain_atrophy": "头颅MRI：双侧脑沟增宽，脑室扩大，符合脑萎缩。",
}
# Diseases grounding matched (affirmed whatever the text says).
GROUNDED: dict[str, tuple[str, ...]] = {
    "slake_liver": ("Liver Cancer",),
    "zh_slake_liver": ("Liver Cancer",),
}


@cache
def record_facts(record: str) -> Facts:
    """The evidence of one record of :data:`RECORDS`."""
    return facts_for(RECORDS[record], GROUNDED.get(record, ()))


# KG paths used by several drafts (SLAKE's triples, English and Chinese).
PNEUMONIA_SYMPTOMS = long_path(
    "Pneumonia",
    "symptom",
    "cough foamy mucus sputum, dyspnea, cough, chest pain",
    "Lung",
    "Respiratory System",
)
PNEUMONIA_LOCATION = [
    ("Pneumonia", "location", "Lung"),
    ("Lung", "belong to", "Respiratory System"),
]
CYST_CAUSE = long_path("Hepatic Cyst", "cause", "most are congenital", "Liver", "Digestive System")
EMPHYSEMA_CAUSE = long_path(
    "Emphysema", "cause", "smoking, infection, air pollution", "Lung", "Respiratory System"
)
LUNG_CANCER_TREATMENT = long_path(
    "Lung Cancer",
    "treatment",
    "pharmacotherapy, surgical therapy, radiotherapy, chemotherapy, targeted drug therapy",
    "Lung",
    "Respiratory System",
)
EMBOLISM_SYMPTOMS = long_path(
    "Pulmonary Embolism",
    "symptom",
    "fatigue, pallor, cold sweat, dyspnea, chest pain, cough",
    "Lung",
    "Respiratory System",
)
BLEED_CAUSE = long_path(
    "Cerebral Hemorrhage",
    "cause",
    "hypertension with arteriolosclerosis, microaneurysm or microaneurysm rupture",
    "Brain",
    "Nervous System",
)
MENINGIOMA_SYMPTOMS = long_path(
    "Meningioma",
    "symptom",
    "hydrocephalus, frontal mass, increased intracranial pressure",
    "Brain",
    "Nervous System",
)
GALLSTONE_SYMPTOMS = long_path(
    "Gallstones",
    "symptom",
    "upper abdominal pain, nausea, vomiting",
    "Gallbladder",
    "Digestive System",
)
FATTY_PREVENTION = long_path(
    "Fatty Liver",
    "prevention",
    "reasonable diet, abstinence from alcohol, proper exercise",
    "Liver",
    "Digestive System",
)
SPLEEN_CAUSE = long_path(
    "Splenomegaly",
    "cause",
    "viral infection, bacterial infection, parasitic infection, hepatitis",
    "Spleen",
    "Lymphatic System",
)
HEART_SYSTEM = [("Heart", "belong to", "Circulatory System")]
KIDNEY_FUNCTION = [
    ("Kidney", "function", "discharge waste, adjust water and osmotic pressure balance"),
    ("Kidney", "belong to", "Urinary System"),
]
LIVER_FUNCTION = [
    ("Liver", "function", "biotransformation, detoxification"),
    ("Liver", "belong to", "Digestive System"),
]
THYROID_CAUSE = long_path(
    "Thyroid Cancer",
    "cause",
    "not clear, possibly genetically related",
    "Thyroid",
    "Endocrine System",
)
AORTA_CAUSE = long_path(
    "Aortic Aneurysm",
    "cause",
    "atherosclerosis, cystic necrosis in the middle layer of blood vessels, syphilis infection, "
    "bacterial infection, rheumatic aortitis, trauma",
    "Artery",
    "Circulatory System",
)
RCC_POPULATION = long_path(
    "Renal Cell Carcinoma", "susceptible population", "male aged 40-55", "Kidney", "Urinary System"
)
PROTEINOSIS_CAUSE = long_path(
    "Alveolar Proteinosis",
    "cause",
    "decreased immune function, genetic factors, alcohol abuse, microbial infection",
    "Lung",
    "Respiratory System",
)
ZH_PNEUMONIA_SYMPTOMS = long_path(
    "肺炎", "symptom", "咳泡沫黏液痰，呼吸困难，咳嗽，胸痛", "肺", "呼吸系统"
)
ZH_CYST_CAUSE = long_path("肝囊肿", "cause", "多为先天性", "肝脏", "消化系统")
ZH_LUNG_CANCER_TREATMENT = long_path(
    "肺癌", "treatment", "药物治疗，手术治疗，放射治疗，化疗，靶向药物治疗", "肺", "呼吸系统"
)
ZH_GALLSTONE_SYMPTOMS = long_path("胆囊结石", "symptom", "上腹疼痛，恶心，呕吐", "胆囊", "消化系统")
ZH_BLEED_CAUSE = long_path(
    "脑出血", "cause", "高血压合并小动脉硬化，微动脉瘤或者微血管瘤破裂", "大脑", "神经系统"
)
ZH_EMPHYSEMA_CAUSE = long_path("肺气肿", "cause", "吸烟，感染，大气污染", "肺", "呼吸系统")

# --- the drafts -------------------------------------------------------------------------------


def _multihop(b: _Builder) -> None:
    """Multihop QA: good answers use their path and the record; bad ones break one rule."""
    b.multihop(
        "multihop-en-pneumonia-symptoms",
        "pneumonia",
        PNEUMONIA_SYMPTOMS,
        "What symptoms would a patient with this finding typically report?",
        "Patients with this lung infection usually have a cough, often with foamy mucus sputum, "
        "along with dyspnea and chest pain. These complaints follow from inflammation of the "
        "affected lung.",
    )
    b.multihop(
        "multihop-en-cyst-cause",
        "liver_cyst",
        CYST_CAUSE,
        "How does this lesion usually arise?",
        "Most lesions of this kind are congenital. It sits in the liver, an organ of the "
        "digestive system, and is usually found by chance.",
    )
    b.multihop(
        "multihop-en-emphysema-cause",
        "emphysema",
        EMPHYSEMA_CAUSE,
        "What causes the change seen in these lungs?",
        "The usual causes are smoking, infection and air pollution. Over the years they damage "
        "the air spaces, which leaves the lungs hyperinflated as seen here.",
    )
    b.multihop(
        "multihop-en-mass-treatment",
        "mass",
        LUNG_CANCER_TREATMENT,
        "How can this abnormality be treated?",
        "Treatment options include surgery, radiotherapy, chemotherapy and targeted drug "
        "therapy. The choice depends on the stage of the tumour in the lung.",
    )
    b.multihop(
        "multihop-en-embolism-symptoms",
        "embolism",
        EMBOLISM_SYMPTOMS,
        "What symptoms can this finding cause?",
        "It can cause dyspnea, chest pain and cough, sometimes with fatigue, pallor and a cold "
        "sweat. They arise because the blocked artery cannot carry blood through the lung.",
    )
    b.multihop(
        "multihop-en-bleed-cause",
        "bleed",
        BLEED_CAUSE,
        "Why does this kind of bleeding usually occur?",
        "It is usually caused by hypertension with arteriolosclerosis, or by the rupture of a "
        "microaneurysm. Both weaken small vessels deep in the brain, such as those of the basal "
        "ganglia.",
    )
    b.multihop(
        "multihop-en-meningioma-symptoms",
        "meningioma",
        MENINGIOMA_SYMPTOMS,
        "What problems can this mass cause as it grows?",
        "As it grows it can raise the intracranial pressure and lead to hydrocephalus. Because "
        "it lies over the frontal lobe, it acts as a frontal mass.",
    )
    b.multihop(
        "multihop-en-gallstone-symptoms",
        "gallstones",
        GALLSTONE_SYMPTOMS,
        "What symptoms do these stones typically cause?",
        "They often cause upper abdominal pain, nausea and vomiting, especially after fatty "
        "meals. The stones lie in the gallbladder, which is part of the digestive system.",
    )
    b.multihop(
        "multihop-en-fatty-prevention",
        "fatty",
        FATTY_PREVENTION,
        "How can this condition of the liver be prevented?",
        "A reasonable diet, abstinence from alcohol and proper exercise help to prevent it. "
        "These measures reduce the fat stored in liver cells.",
    )
    b.multihop(
        "multihop-en-heart-system",
        "pneumonia",
        HEART_SYSTEM,
        "What organ system does the structure in the middle of the chest belong to?",
        "The heart belongs to the circulatory system. It pumps blood through the body.",
    )
    b.multihop(
        "multihop-en-kidney-function",
        "stone",
        KIDNEY_FUNCTION,
        "What is the function of the organ that holds the calculus?",
        "The kidney discharges waste and adjusts the balance of water and osmotic pressure. It "
        "is part of the urinary system.",
    )
    b.multihop(
        "multihop-en-rcc-population",
        "rcc",
        RCC_POPULATION,
        "Which patients are most often affected by this kind of tumour?",
        "It is most common in male patients aged 40-55. The tumour arises in the kidney, part "
        "of the urinary system.",
        note="good: the sex and the ages come from the KG path, not from the record",
    )
    b.multihop(
        "multihop-en-aorta-cause",
        "aorta",
        AORTA_CAUSE,
        "What most often causes this kind of vessel dilation?",
        "Atherosclerosis is the most common cause, with trauma and infections such as syphilis "
        "as rarer ones. It affects the aorta, the main artery of the circulatory system.",
    )
    b.multihop(
        "multihop-en-proteinosis-paraphrase",
        "proteinosis",
        PROTEINOSIS_CAUSE,
        "What can lead to this condition?",
        "Weakened immunity, inherited factors, heavy drinking and microbial infections can all "
        "lead to it. The material then fills the air spaces and gives the crazy-paving pattern "
        "seen here.",
        note="good: paraphrases the path's causes (immune function, genetic factors, alcohol "
        "abuse, microbial infection) instead of copying them",
    )
    # bad
    b.multihop(
        "multihop-en-path-arrow",
        "liver_cyst",
        LIVER_FUNCTION,
        "What does the organ that contains this lesion do?",
        "Liver -[function]-> biotransformation, detoxification. The liver therefore clears "
        "toxins from the blood.",
        "notation",
    )
    b.multihop(
        "multihop-en-triple",
        "pneumonia",
        PNEUMONIA_SYMPTOMS,
        "What symptoms does this infection cause?",
        "The key fact is Pneumonia#symptom#cough, dyspnea and chest pain. The infection sits in "
        "the lung.",
        "notation",
    )
    b.multihop(
        "multihop-en-json-answer",
        "gallstones",
        GALLSTONE_SYMPTOMS,
        "What symptoms do these stones typically cause?",
        '{"answer": "They cause upper abdominal pain, nausea and vomiting."}',
        "notation",
        note="the whole answer is a JSON object: notation, but complete (not truncated)",
    )
    b.multihop(
        "multihop-en-copies-rules",
        "emphysema",
        EMPHYSEMA_CAUSE,
        "What causes the change seen in these lungs?",
        "Smoking, infection and air pollution cause it. The answer uses the facts of the chain "
        "and nothing that contradicts them.",
        "prompt_copy",
    )
    b.multihop(
        "multihop-en-question-copies-rules",
        "bleed",
        BLEED_CAUSE,
        "How can this be answered by following the chain of facts from the image?",
        "Hypertension with arteriolosclerosis is the usual cause. A ruptured microaneurysm in "
        "the brain is another.",
        "prompt_copy",
    )
    b.multihop(
        "multihop-en-generic",
        "liver_cyst",
        CYST_CAUSE,
        "How does this lesion usually arise?",
        "This is a common finding that is usually harmless. Most patients need no treatment.",
        "path_unused",
    )
    b.multihop(
        "multihop-en-other-disease",
        "pneumonia",
        PNEUMONIA_SYMPTOMS,
        "What symptoms would a patient with this finding typically report?",
        "This is pulmonary tuberculosis, which spreads through droplets. It needs months of "
        "antibiotic treatment.",
        "path_unused unsupported",
        note="answers about a disease that is neither on the path nor in the record",
    )
    b.multihop(
        "multihop-en-outlook",
        "mass",
        LUNG_CANCER_TREATMENT,
        "How can this abnormality be treated?",
        "The outlook depends on how early it is found. Regular check-ups are important.",
        "path_unused",
    )
    b.multihop(
        "multihop-en-no-fact",
        "spleen",
        SPLEEN_CAUSE,
        "What can enlarge this organ?",
        "Many conditions can do this. A doctor will look for the underlying reason.",
        "path_unused",
    )
    b.multihop(
        "multihop-en-other-fact",
        "gallstones",
        GALLSTONE_SYMPTOMS,
        "What symptoms do these stones typically cause?",
        "They are usually made of cholesterol and form when bile is too concentrated. Many "
        "people never notice them.",
        "path_unused",
        note="answers how the stones form; the path is about their symptoms",
    )
    b.multihop(
        "multihop-en-invented-patient",
        "bleed",
        BLEED_CAUSE,
        "Why does this kind of bleeding usually occur?",
        "In this 45-year-old woman, hypertension with arteriolosclerosis is the likely cause of "
        "bleeding in the brain. A ruptured microaneurysm is less likely.",
        "unsupported",
        note="the record is a 67-year-old man",
    )
    b.multihop(
        "multihop-en-wrong-side",
        "stone",
        KIDNEY_FUNCTION,
        "What is the function of the organ that holds the calculus?",
        "The right kidney discharges waste and balances water and osmotic pressure. It belongs "
        "to the urinary system.",
        "unsupported",
        note="the calculus is in the left kidney",
    )
    b.multihop(
        "multihop-en-other-tumour",
        "meningioma",
        MENINGIOMA_SYMPTOMS,
        "What problems can this mass cause as it grows?",
        "Like a glioma, it can raise the intracranial pressure and cause hydrocephalus. A "
        "frontal mass may also change behaviour.",
        "unsupported",
    )
    b.multihop(
        "multihop-en-cut-off",
        "fatty",
        FATTY_PREVENTION,
        "How can this condition of the liver be prevented?",
        "A reasonable diet, abstinence from alcohol and proper exercise help to prevent it. "
        "These measures lower the amount of fat stored in the",
        "truncation",
    )
    b.multihop(
        "multihop-en-repeated-sentence",
        "gallstones",
        GALLSTONE_SYMPTOMS,
        "What symptoms do these stones typically cause?",
        "They cause upper abdominal pain, nausea and vomiting. They cause upper abdominal pain, "
        "nausea and vomiting. The stones sit in the gallbladder.",
        "repetition",
    )
    b.multihop(
        "multihop-en-word-loop",
        "embolism",
        EMBOLISM_SYMPTOMS,
        "What symptoms can this finding cause?",
        "It causes chest pain and dyspnea and chest pain and dyspnea and chest pain and dyspnea "
        "and chest pain and dyspnea.",
        "repetition",
    )
    b.multihop(
        "multihop-en-invented-size",
        "spleen",
        SPLEEN_CAUSE,
        "What can enlarge this organ?",
        "Viral, bacterial or parasitic infection and hepatitis can enlarge the spleen to 16 cm, "
        "as here, and to 25 cm in severe cases.",
        "unsupported",
    )
    b.multihop(
        "multihop-en-more-specific",
        "pneumonia",
        PNEUMONIA_LOCATION,
        "Which organ system does this infection involve?",
        "This bacterial pneumonia involves the lung. The lung is part of the respiratory system.",
        "unsupported",
        note="the record says pneumonia; nothing says bacterial",
    )
    b.multihop(
        "multihop-en-unit-changed",
        "thyroid",
        THYROID_CAUSE,
        "What is known about the cause of this kind of nodule?",
        "Its cause is not clear and is possibly genetically related. The 1.8 mm nodule in the "
        "right lobe of the thyroid needs a biopsy.",
        "unsupported",
        note="the record says 1.8 cm: the number is there, the size is not",
    )
    # Chinese
    b.multihop(
        "multihop-zh-pneumonia-symptoms",
        "zh_pneumonia",
        ZH_PNEUMONIA_SYMPTOMS,
        "这种病变患者通常有哪些症状？",
        "患者常有咳嗽、咳泡沫黏液痰，并伴呼吸困难和胸痛。这些症状源于肺部的炎症。",
    )
    b.multihop(
        "multihop-zh-cyst-cause",
        "zh_liver_cyst",
        ZH_CYST_CAUSE,
        "这种病变通常是怎样形成的？",
        "这类病变多为先天性，常在体检时偶然发现。它位于肝脏，属于消化系统。",
    )
    b.multihop(
        "multihop-zh-gallstone-symptoms",
        "zh_gallstones",
        ZH_GALLSTONE_SYMPTOMS,
        "这些结石常引起什么症状？",
        "它们常引起上腹疼痛，并可伴有恶心、呕吐。结石位于胆囊内，胆囊属于消化系统。",
    )
    b.multihop(
        "multihop-zh-bleed-cause",
        "zh_bleed",
        ZH_BLEED_CAUSE,
        "这种出血通常是什么原因引起的？",
        "最常见的原因是高血压合并小动脉硬化，其次是微动脉瘤破裂。病变位于大脑的基底节区。",
    )
    b.multihop(
        "multihop-zh-lung-cancer-treatment",
        "zh_lung_cancer",
        ZH_LUNG_CANCER_TREATMENT,
        "这种病变可以怎样治疗？",
        "可采用手术治疗、放射治疗、化疗或靶向药物治疗。具体方案取决于肺部肿瘤的分期。",
    )
    b.multihop(
        "multihop-zh-emphysema-cause",
        "zh_emphysema",
        ZH_EMPHYSEMA_CAUSE,
        "导致这种改变的主要原因有哪些？",
        "主要原因包括吸烟、反复感染和大气污染。这些因素会逐渐破坏肺组织。",
    )
    b.multihop(
        "multihop-zh-some-symptoms",
        "zh_pneumonia",
        ZH_PNEUMONIA_SYMPTOMS,
        "这种病变患者通常有哪些症状？",
        "患者常出现咳嗽和胸痛。病情较重时还会呼吸困难。",
        note="good: names three of the four symptoms on the path (咳嗽, 胸痛, 呼吸困难)",
    )
    b.multihop(
        "multihop-zh-path-arrow",
        "zh_pneumonia",
        ZH_PNEUMONIA_SYMPTOMS,
        "这种病变位于哪个器官？",
        "肺炎 -[location]-> 肺 -[belong to]-> 呼吸系统。因此病变位于肺。",
        "notation",
    )
    b.multihop(
        "multihop-zh-generic",
        "zh_liver_cyst",
        ZH_CYST_CAUSE,
        "这种病变通常是怎样形成的？",
        "这是一种常见的良性病变。大多数患者无需特殊处理。",
        "path_unused",
    )
    b.multihop(
        "multihop-zh-no-fact",
        "zh_bleed",
        ZH_BLEED_CAUSE,
        "这种出血通常是什么原因引起的？",
        "这种情况比较危险，需要尽快就医。医生会根据病情决定处理方式。",
        "path_unused",
    )
    b.multihop(
        "multihop-zh-cut-off",
        "zh_gallstones",
        ZH_GALLSTONE_SYMPTOMS,
        "这些结石常引起什么症状？",
        "它们常引起上腹疼痛，并可伴有恶心、呕吐。结石位于胆囊内，胆囊属于",
        "truncation",
    )
    b.multihop(
        "multihop-zh-repeated",
        "zh_emphysema",
        ZH_EMPHYSEMA_CAUSE,
        "导致这种改变的主要原因有哪些？",
        "主要原因是吸烟和大气污染。主要原因是吸烟和大气污染。主要原因是吸烟和大气污染。",
        "repetition",
    )
    b.multihop(
        "multihop-zh-wrong-side",
        "zh_lung_cancer",
        ZH_LUNG_CANCER_TREATMENT,
        "这种病变可以怎样治疗？",
        "左肺上叶的肿块可采用手术治疗、放射治疗或化疗。具体方案取决于分期。",
        "unsupported",
        note="the mass is in the right upper lobe (右肺上叶)",
    )


def _describe(b: _Builder) -> None:
    """Alignment VQA: descriptions that keep to what the record says, and ones that do not."""
    b.describe(
        "describe-en-pneumonia",
        "pneumonia",
        "This is a posteroanterior chest radiograph. There is patchy consolidation with air "
        "bronchograms in the right lower lung zone, consistent with pneumonia. No pleural "
        "effusion is seen, and the heart size is normal.",
    )
    b.describe(
        "describe-en-liver-cyst",
        "liver_cyst",
        "This axial contrast-enhanced CT image shows the upper abdomen. A well-defined 3.2 cm "
        "simple cyst lies in the right lobe of the liver and does not enhance after contrast. "
        "The spleen appears normal.",
        n=1,
    )
    b.describe(
        "describe-en-emphysema",
        "emphysema",
        "This frontal chest radiograph shows hyperinflated lungs with flattened "
        "hemidiaphragms. These appearances are consistent with emphysema. There is no "
        "pneumothorax and no pleural effusion.",
        n=2,
    )
    b.describe(
        "describe-en-bleed",
        "bleed",
        "This is an axial non-contrast CT of the head of a 67-year-old man. An acute hemorrhage "
        "lies in the left basal ganglia and is surrounded by brain edema. There is no "
        "hydrocephalus.",
        n=3,
    )
    b.describe(
        "describe-en-meningioma",
        "meningioma",
        "This contrast-enhanced MRI of the brain shows a well-circumscribed extra-axial mass "
        "along the right frontal convexity. The mass enhances homogeneously and has a dural "
        "tail. The appearance is most consistent with a meningioma.",
        n=4,
    )
    b.describe(
        "describe-en-gallstones",
        "gallstones",
        "This right upper quadrant ultrasound image shows the gallbladder. Several echogenic "
        "gallstones with posterior acoustic shadowing lie within it. The wall is not thickened "
        "and there are no signs of cholecystitis.",
        n=5,
    )
    b.describe(
        "describe-en-hydrocephalus",
        "hydrocephalus",
        "This axial non-contrast CT of the head shows dilated lateral and third ventricles. "
        "There is periventricular low density. The findings are consistent with hydrocephalus.",
        n=6,
    )
    b.describe(
        "describe-en-pneumothorax",
        "pneumothorax",
        "This frontal chest X-ray shows a large right pneumothorax. The right lung is partly "
        "collapsed. The trachea remains midline.",
        n=7,
    )
    b.describe(
        "describe-en-aorta",
        "aorta",
        "This CT angiogram shows the infrarenal abdominal aorta. There is a fusiform aneurysm "
        "measuring 5.4 cm. Mural thrombus lines the aneurysm.",
        n=8,
    )
    b.describe(
        "describe-en-crohn",
        "crohn",
        "This MR enterography image shows the terminal ileum. A 15 cm segment has a thickened "
        "wall and mucosal hyperenhancement. The findings are in keeping with active Crohn's "
        "disease.",
        n=9,
        note="good: straight apostrophe here, curly one in the record",
    )
    b.describe(
        "describe-en-hepatic-is-liver",
        "metastases",
        "This contrast-enhanced CT of the abdomen shows several metastases in the liver. The "
        "largest measures 2.5 cm and lies in segment 7. The patient has known colon cancer.",
        note="good: the record's 'hepatic metastases' are metastases in the liver",
    )
    b.describe(
        "describe-en-woman-is-female",
        "edema",
        "This chest X-ray of a 62-year-old female patient shows bilateral interstitial "
        "opacities and Kerley B lines. The appearances are in keeping with pulmonary edema. The "
        "cardiac silhouette is enlarged.",
        n=1,
        note="good: the record says a 62-year-old woman",
    )
    # bad
    b.describe(
        "describe-en-prompt-fields",
        "liver_cyst",
        "Description of the image: modality, body region, orientation, the structures visible "
        "and any abnormal findings. It is a CT with a simple cyst in the liver.",
        "prompt_copy",
    )
    b.describe(
        "describe-en-prompt-persona",
        "pneumonia",
        "Written as someone who looks at the image directly, never as someone who only read a "
        "caption: the radiograph shows consolidation in the right lower lung zone.",
        "prompt_copy",
        n=2,
    )
    b.describe(
        "describe-en-think-tag",
        "meningioma",
        "<think>Extra-axial, enhancing, dural tail.</think> This MRI shows a meningioma along "
        "the right frontal convexity. It enhances homogeneously and has a dural tail.",
        "notation",
        n=3,
    )
    b.describe(
        "describe-en-degenerate",
        "normal",
        "No acute findings, no acute findings seen, no acute findings noted, no acute findings "
        "present, no acute findings seen, no acute findings noted, no acute findings present, "
        "no acute findings seen, no acute findings noted, no acute findings present.",
        "repetition",
        n=4,
    )
    b.describe(
        "describe-en-circling",
        "normal",
        "The lungs are clear. The heart is normal. The lungs are clear and the heart is normal. "
        "The heart is normal and the lungs are clear. The lungs are clear, the heart is normal, "
        "and the lungs are clear.",
        "repetition",
    )
    b.describe(
        "describe-en-mass-in-ear",
        "mass",
        "This axial chest CT shows a spiculated mass in the right ear measuring 4.5 cm. "
        "Mediastinal lymph nodes are enlarged. Lung cancer is suspected.",
        "unsupported",
        n=5,
        note="the issue's example: the mass is in the right upper lobe",
    )
    b.describe(
        "describe-en-denies-the-cyst",
        "liver_cyst",
        "This axial CT image of the abdomen shows the liver and the spleen. The liver is "
        "homogeneous and there is no hepatic cyst. The spleen is normal.",
        "unsupported",
        note="says there is no hepatic cyst; the record describes one",
    )
    b.describe(
        "describe-en-bilateral",
        "pneumothorax",
        "This chest X-ray shows bilateral pneumothoraces with collapse of both lungs. The "
        "trachea is midline. No other abnormality is seen.",
        "unsupported",
        n=6,
    )
    b.describe(
        "describe-en-invented-patient",
        "emphysema",
        "This frontal chest radiograph of a 70-year-old male smoker shows hyperinflated lungs "
        "with flattened hemidiaphragms, consistent with emphysema. There is no pneumothorax. "
        "There is no pleural effusion.",
        "unsupported",
        n=7,
    )
    b.describe(
        "describe-en-cut-off",
        "hydrocephalus",
        "This axial CT of the head shows dilated lateral and third ventricles with "
        "periventricular low density. The findings are consistent with hydrocephalus, which is "
        "often caused by",
        "truncation",
        n=8,
    )
    b.describe(
        "describe-en-json-inline",
        "fatty",
        'Axial CT of the abdomen: {"finding": "fatty liver", "liver": "low attenuation"} '
        "compared with the spleen.",
        "notation",
        n=9,
    )
    # Chinese
    b.describe(
        "describe-zh-pneumonia",
        "zh_pneumonia",
        "这是一张胸部X线片。右肺下叶可见斑片状实变影，符合肺炎表现。未见胸腔积液，心影大小正常。",
    )
    b.describe(
        "describe-zh-liver-is-ganzang",
        "zh_liver_cyst",
        "这是一幅腹部增强CT图像。肝脏右叶可见一类圆形低密度灶，边界清楚，增强后无强化，"
        "符合肝囊肿。脾脏未见异常。",
        n=1,
        note="good: 肝脏右叶 is the record's 肝右叶 (肝 = 肝脏)",
    )
    b.describe(
        "describe-zh-stone",
        "zh_stone",
        "这是一幅腹部CT平扫图像。左肾可见一高密度结石影，大小约6mm，诊断为肾结石。未见肾积水。",
        n=2,
    )
    b.describe(
        "describe-zh-bleed",
        "zh_bleed",
        "这是一幅头颅CT平扫图像。左侧基底节区见团片状高密度影，符合脑出血。周围伴有脑水肿，"
        "脑室未见扩张。",
        n=3,
    )
    b.describe(
        "describe-zh-about-size",
        "zh_stone",
        "这是一幅腹部CT平扫图像。左肾可见一高密度结石影，直径6mm左右，符合肾结石。未见肾积水。",
        n=4,
        note="good: 左右 after a size means 'about', not left and right",
    )
    b.describe(
        "describe-zh-emphysema",
        "zh_emphysema",
        "这是一幅胸部CT图像。双肺透亮度增高，可见多发肺大疱。表现符合肺气肿。",
        n=5,
    )
    b.describe(
        "describe-zh-repeated",
        "zh_normal",
        "双肺纹理清晰。双肺纹理清晰。双肺纹理清晰。未见肺炎。",
        "repetition",
        n=6,
    )
    b.describe(
        "describe-zh-cut-off",
        "zh_bleed",
        "这是一幅头颅CT平扫图像。左侧基底节区见团片状高密度影，符合脑出血，周围",
        "truncation",
        n=7,
    )
    b.describe(
        "describe-zh-extra-organ",
        "zh_stone",
        "这是一幅腹部CT平扫图像。左肾可见一高密度结石影，诊断为肾结石，同时胆囊内见结石。"
        "未见肾积水。",
        "unsupported",
        n=8,
        note="the record says nothing of the gallbladder (胆囊)",
    )
    b.describe(
        "describe-zh-invented-patient",
        "zh_lung_cancer",
        "这是一名65岁男性患者的胸部CT。右肺上叶见分叶状肿块，边缘毛刺，符合肺癌。纵隔淋巴结肿大。",
        "unsupported",
        n=9,
        note="the record gives no age (65岁) and no sex (男性)",
    )
    b.describe(
        "describe-zh-invented-size",
        "zh_lung_cancer",
        "这是一幅胸部CT图像。右肺上叶见一分叶状肿块，大小约4.5cm，边缘毛刺，符合肺癌。"
        "纵隔淋巴结肿大。",
        "unsupported",
        note="the record gives no size (4.5cm)",
    )


def _instruct(b: _Builder) -> None:
    """Instruction VQA under the role-play scenarios."""
    b.instruct(
        "instruct-en-family-pneumonia",
        "pneumonia",
        "Can you tell me, as the patient's daughter, what this X-ray shows?",
        "The X-ray shows an infection in the lower part of the right lung, which is what "
        "pneumonia looks like. There is no fluid around the lung, and the heart is a normal size.",
    )
    b.instruct(
        "instruct-en-colleague-mass",
        "mass",
        "Would you agree that this lesion needs tissue sampling?",
        "Yes. A 4.5 cm spiculated mass in the right upper lobe with enlarged mediastinal lymph "
        "nodes is suspicious for lung cancer, so a biopsy is warranted.",
    )
    b.instruct(
        "instruct-en-teacher-cyst",
        "liver_cyst",
        "What features tell you that this liver lesion is a simple cyst?",
        "It is well defined, measures 3.2 cm and does not enhance after contrast. Those "
        "features point to a simple hepatic cyst rather than a tumour.",
    )
    b.instruct(
        "instruct-en-normal-film",
        "normal",
        "Is there anything worrying on this chest film?",
        "No. The lungs are clear, the heart size is normal, and there is no pneumonia, "
        "pneumothorax or pleural effusion.",
    )
    b.instruct(
        "instruct-en-aorta-size",
        "aorta",
        "How large is the aneurysm and what does it contain?",
        "It measures 5.4 cm and is lined by mural thrombus. This fusiform aneurysm involves the "
        "infrarenal abdominal aorta.",
    )
    b.instruct(
        "instruct-en-spleen-length",
        "spleen",
        "How long is the spleen on this scan?",
        "The spleen measures 16 cm in length, which is enlarged and in keeping with "
        "splenomegaly. The liver is normal in size.",
    )
    b.instruct(
        "instruct-en-crohn-segment",
        "crohn",
        "Which bowel segment is affected?",
        "The terminal ileum is affected over a 15 cm segment. It shows wall thickening and "
        "mucosal hyperenhancement from active Crohn’s disease.",
    )
    b.instruct(
        "instruct-en-embolism-site",
        "embolism",
        "Where exactly is the clot?",
        "The filling defect lies in the right lower lobe pulmonary artery, which is typical of "
        "pulmonary embolism. The rest of the lungs are clear.",
    )
    b.instruct(
        "instruct-en-family-from",
        "stone",
        "Is this what is causing my husband's pain?",
        "Most likely, yes. The scan shows a small stone in his left kidney, and that is probably "
        "where the pain is coming from.",
        note="good: a sentence may end with a preposition ('coming from.')",
    )
    b.instruct(
        "instruct-en-clavicle-injury",
        "clavicle",
        "What injury does this radiograph show?",
        "It shows a displaced left clavicle fracture. The lungs are clear and there is no "
        "pneumothorax.",
        note="good: 'left clavicle fracture' is the record's 'fracture of the left clavicle'",
    )
    # bad
    b.instruct(
        "instruct-en-question-copies-prompt",
        "fatty",
        "What is one question a doctor would ask about the image?",
        "Whether the low attenuation of the liver means fatty liver; it does, because the liver "
        "is darker than the spleen.",
        "prompt_copy",
    )
    b.instruct(
        "instruct-en-answer-copies-prompt",
        "gallstones",
        "What do you see in the gallbladder?",
        "As someone who looks at the image directly, I see several echogenic gallstones with "
        "acoustic shadowing. There is no cholecystitis.",
        "prompt_copy",
    )
    b.instruct(
        "instruct-en-25-year-old-male",
        "mass",
        "What is the most likely diagnosis?",
        "In this 25-year-old male, a spiculated right upper lobe mass with enlarged mediastinal "
        "lymph nodes suggests lung cancer.",
        "unsupported",
        note="the issue's example: age and sex out of nowhere",
    )
    b.instruct(
        "instruct-en-wrong-kidney",
        "stone",
        "Which kidney holds the stone?",
        "The stone is in the right kidney and measures 8 mm. There is no hydronephrosis.",
        "unsupported",
    )
    b.instruct(
        "instruct-en-arrows",
        "edema",
        "Why are there Kerley B lines?",
        "Fluid leaks into the interstitium → the interlobular septa thicken → Kerley B lines "
        "appear, as in pulmonary edema.",
        "notation",
    )
    b.instruct(
        "instruct-en-notation-in-question",
        "aorta",
        "What does Aortic Aneurysm -[cause]-> mean for this patient?",
        "It means the aneurysm has an underlying cause, most often atherosclerosis. Here the "
        "aneurysm measures 5.4 cm.",
        "notation",
    )
    b.instruct(
        "instruct-en-cut-off",
        "embolism",
        "What treatment does this patient need?",
        "Anticoagulation is the usual first treatment, and thrombolysis may be considered if the "
        "patient becomes unstable or",
        "truncation",
    )
    b.instruct(
        "instruct-en-ellipsis",
        "liver_cyst",
        "What else could this lesion be?",
        "Other cystic lesions of the liver include a biliary cystadenoma, an abscess and …",
        "truncation",
    )
    b.instruct(
        "instruct-en-such-as",
        "fatty",
        "What causes this appearance?",
        "Fat builds up in the liver cells because of alcohol, obesity or drugs such as.",
        "truncation",
        note="stops mid-list: 'such as.' has a full stop but no end",
    )
    b.instruct(
        "instruct-en-stutter",
        "spleen",
        "How big is the spleen?",
        "The spleen is enlarged enlarged enlarged and measures 16 cm.",
        "repetition",
    )
    b.instruct(
        "instruct-en-differential",
        "pneumonia",
        "What could explain these findings?",
        "Consolidation with air bronchograms in the right lower lung zone fits pneumonia, "
        "although lymphoma can look similar.",
        "unsupported",
        note="lymphoma is in neither the record nor a KG fact given",
    )
    # Chinese
    b.instruct(
        "instruct-zh-stone-side",
        "zh_stone",
        "结石在哪一侧肾脏？",
        "结石位于左肾，大小约6mm，没有引起肾积水。",
    )
    b.instruct(
        "instruct-zh-bleed-site",
        "zh_bleed",
        "这位患者的出血在什么部位？",
        "出血位于左侧基底节区，周围伴有脑水肿，脑室没有扩张。",
    )
    b.instruct(
        "instruct-zh-gallbladder",
        "zh_gallstones",
        "胆囊里看到了什么？",
        "胆囊内有多个强回声团，后方伴声影，符合胆囊结石；胆囊壁不厚。",
    )
    b.instruct(
        "instruct-zh-stutter",
        "zh_normal",
        "双肺情况如何？",
        "双肺纹理清晰清晰清晰清晰，未见肺炎。",
        "repetition",
    )
    b.instruct(
        "instruct-zh-wrong-side",
        "zh_bleed",
        "出血在哪一侧？",
        "出血位于右侧基底节区，周围伴有脑水肿。",
        "unsupported",
    )
    b.instruct(
        "instruct-zh-invents-effusion",
        "zh_normal",
        "胸腔内有什么异常？",
        "可见少量胸腔积液，双肺纹理清晰。",
        "unsupported",
        note="states an effusion; the record says 未见胸腔积液",
    )
    b.instruct(
        "instruct-zh-think-tag",
        "zh_gallstones",
        "胆囊结石常见哪些症状？",
        "<think>结石位于胆囊。</think>常见症状为上腹疼痛、恶心和呕吐。",
        "notation",
    )


def _reasoning(b: _Builder) -> None:
    """Four-stage trajectories to a dataset question's answer."""
    b.reasoning(
        "reasoning-en-pneumonia-yes",
        "pneumonia",
        "Does the picture contain pneumonia?",
        "Yes",
        (
            "Start at the right lower lung zone on this frontal film.",
            "There is patchy consolidation with air bronchograms in that zone.",
            "Pneumonia affects the lung, and consolidation with air bronchograms is its typical "
            "sign on a radiograph.",
            "The consolidation matches pneumonia, so the answer is yes.",
        ),
        [("Pneumonia", "location", "Lung")],
    )
    b.reasoning(
        "reasoning-en-effusion-no",
        "pneumonia",
        "Is there a pleural effusion?",
        "No",
        (
            "Look at the costophrenic angles and the lung bases.",
            "The angles are sharp and no fluid layers along the lateral chest wall.",
            "A pleural effusion blunts the costophrenic angle on an upright film.",
            "With sharp angles and no fluid, there is no pleural effusion, so the answer is no.",
        ),
        note="good: 'No' about a disease the record negates",
    )
    b.reasoning(
        "reasoning-en-stone-side",
        "stone",
        "Which kidney contains the stone?",
        "Left",
        (
            "Look at both kidneys on the axial images.",
            "An 8 mm dense calculus sits in the left kidney, and the collecting system is not "
            "dilated.",
            "A kidney stone is dense on non-contrast CT; hydronephrosis would dilate the "
            "collecting system.",
            "The calculus lies on the left side, so the answer is the left kidney.",
        ),
        [("Kidney", "belong to", "Urinary System")],
    )
    b.reasoning(
        "reasoning-en-nodule-unchanged",
        "nodule",
        "Has the nodule changed since the last scan?",
        "No",
        (
            "Focus on the left upper lobe on the CT images.",
            "The 6 mm nodule in the left upper lobe has the same size and shape as on the "
            "prior study.",
            "A pulmonary nodule that stays stable over time is more likely to be benign.",
            "Because the nodule in the left upper lobe is unchanged, the answer is no.",
        ),
        note="good: naming the region in three stages is not a word loop",
    )
    b.reasoning(
        "reasoning-en-meningioma-outside",
        "meningioma",
        "Is the mass inside or outside the brain tissue?",
        "Outside",
        (
            "Look at the right frontal convexity, next to the inner table of the skull.",
            "The mass is well circumscribed, enhances homogeneously and has a dural tail.",
            "A meningioma arises from the meninges, outside the brain tissue itself.",
            "The dural tail shows that the mass is extra-axial, so the answer is outside.",
        ),
        [("Meningioma", "location", "Brain")],
    )
    b.reasoning(
        "reasoning-en-slake-organ",
        "slake_liver",
        "Which organ is abnormal?",
        "Liver",
        (
            "Examine the right upper abdomen on this transverse CT slice.",
            "A lesion of abnormal density replaces part of the liver.",
            "Liver cancer arises in the liver, which lies in the right upper abdomen under the "
            "diaphragm.",
            "The abnormal lesion is in the liver, so the liver is the abnormal organ.",
        ),
        [
            ("Liver Cancer", "location", "Liver"),
            ("Liver", "position", "right upper abdomen, hidden under diaphragm and deep ribs"),
        ],
    )
    b.reasoning(
        "reasoning-en-heart-enlarged",
        "edema",
        "Is the heart enlarged?",
        "Yes",
        (
            "Assess the cardiac silhouette on this chest X-ray.",
            "The cardiac silhouette is enlarged, and there are bilateral interstitial opacities "
            "with Kerley B lines.",
            "Pulmonary edema can be cardiogenic or non-cardiogenic; an enlarged heart points to "
            "a cardiac cause.",
            "Because the cardiac silhouette is enlarged, the answer is yes.",
        ),
        [
            (
                "Pulmonary Edema",
                "cause",
                "it can be divided into two categories: cardiogenic and non-cardiogenic.",
            )
        ],
    )
    b.reasoning(
        "reasoning-en-right-answer",
        "fatty",
        "Is the liver darker than the spleen?",
        "Yes",
        (
            "Compare the liver with the spleen on the same axial slice.",
            "The liver has diffusely lower attenuation than the spleen.",
            "Fat in liver cells lowers attenuation on CT, so a fatty liver looks darker than the "
            "spleen.",
            "The liver is clearly darker, so the right answer is yes.",
        ),
        note="good: 'the right answer' is not a side",
    )
    b.reasoning(
        "reasoning-en-pneumonia-not-left",
        "pneumonia",
        "Is the pneumonia in the left lung?",
        "No",
        (
            "Compare the left and right lung zones.",
            "Consolidation with air bronchograms is seen in the right lower lung zone.",
            "Pneumonia shows as consolidation in the affected part of the lung.",
            "The consolidation is in the right lung, not the left, so the answer is no.",
        ),
        note="good: 'No' is about the side, not about whether there is pneumonia",
    )
    b.reasoning(
        "reasoning-en-hydrocephalus",
        "hydrocephalus",
        "Are the ventricles dilated?",
        "Yes",
        (
            "Look at the lateral and third ventricles.",
            "Both are dilated, with periventricular low density.",
            "Hydrocephalus is an excess of cerebrospinal fluid that enlarges the ventricles.",
            "The ventricles are dilated, consistent with hydrocephalus, so the answer is yes.",
        ),
        [("Hydrocephalus", "location", "Brain")],
    )
    # bad
    b.reasoning(
        "reasoning-en-kno-copies-prompt",
        "pneumonia",
        "Does the picture contain pneumonia?",
        "Yes",
        (
            "Right lower lung zone.",
            "Patchy consolidation with air bronchograms.",
            "<KNO>what the observations could mean here</KNO>",
            "The consolidation fits pneumonia, so the answer is yes.",
        ),
        expected="prompt_copy notation",
        note="the issue's example",
    )
    b.reasoning(
        "reasoning-en-loc-copies-prompt",
        "liver_cyst",
        "Does the lesion enhance?",
        "No",
        (
            "Starting from the region given, look at the right lobe of the liver.",
            "A 3.2 cm round, well-defined lesion of low density.",
            "A simple hepatic cyst contains fluid and does not enhance.",
            "No enhancement is seen after contrast, so the answer is no.",
        ),
        expected="prompt_copy",
    )
    b.reasoning(
        "reasoning-en-con-copies-prompt",
        "emphysema",
        "Are the lungs hyperinflated?",
        "Yes",
        (
            "Look at both lungs and the hemidiaphragms.",
            "The lungs are large and the hemidiaphragms are flattened.",
            "Emphysema traps air and hyperinflates the lungs.",
            "This shows how the location, the observations and the knowledge lead to yes.",
        ),
        [("Emphysema", "location", "Lung")],
        expected="prompt_copy",
    )
    b.reasoning(
        "reasoning-en-empty-visual",
        "spleen",
        "Is the spleen enlarged?",
        "Yes",
        (
            "Look at the spleen on the axial slices.",
            "",
            "Splenomegaly means an enlarged spleen.",
            "The spleen measures 16 cm, so the answer is yes.",
        ),
        [("Splenomegaly", "location", "Spleen")],
        expected="stages",
    )
    b.reasoning(
        "reasoning-en-blank-knowledge",
        "hydrocephalus",
        "Are the ventricles dilated?",
        "Yes",
        (
            "Look at the lateral and third ventricles.",
            "Both are dilated, with periventricular low density.",
            "   ",
            "The ventricles are dilated, so the answer is yes.",
        ),
        expected="stages",
    )
    b.reasoning(
        "reasoning-en-duplicate-stages",
        "gallstones",
        "Are there gallstones?",
        "Yes",
        (
            "Look at the gallbladder.",
            "Several echogenic gallstones with posterior acoustic shadowing lie in the "
            "gallbladder.",
            "Gallstones are echogenic and cast an acoustic shadow.",
            "In the gallbladder lie several echogenic gallstones with posterior acoustic "
            "shadowing.",
        ),
        expected="stages",
        note="the conclusion repeats the visual analysis in other order and concludes nothing",
    )
    b.reasoning(
        "reasoning-en-identical-stages",
        "aorta",
        "Is there an aneurysm?",
        "Yes",
        (
            "The infrarenal abdominal aorta.",
            "The infrarenal abdominal aorta.",
            "An aneurysm is a focal dilation of an artery.",
            "The aorta is dilated to 5.4 cm, so the answer is yes.",
        ),
        [("Aortic Aneurysm", "location", "Artery")],
        expected="stages repetition",
    )
    b.reasoning(
        "reasoning-en-cut-off",
        "meningioma",
        "Does the mass enhance?",
        "Yes",
        (
            "Look at the right frontal convexity.",
            "The extra-axial mass enhances homogeneously and has a dural tail.",
            "A meningioma usually enhances strongly and evenly after contrast.",
            "It enhances homogeneously, so the answer is",
        ),
        [("Meningioma", "location", "Brain")],
        expected="truncation",
    )
    b.reasoning(
        "reasoning-en-answer-stutter",
        "spleen",
        "Is the spleen enlarged?",
        "Yes",
        (
            "Look at the spleen on the axial slices.",
            "The spleen measures 16 cm in length.",
            "Splenomegaly means an enlarged spleen.",
            "The spleen is enlarged, so the answer is yes yes yes.",
        ),
        [("Splenomegaly", "location", "Spleen")],
        expected="repetition",
    )
    b.reasoning(
        "reasoning-en-yes-to-negated",
        "normal",
        "Is there a pneumothorax?",
        "Yes",
        (
            "Check the apices and the lateral chest walls.",
            "A thin visceral pleural line is seen at the apex.",
            "A pneumothorax separates the visceral pleura from the chest wall.",
            "A pleural line at the apex means a pneumothorax, so the answer is yes.",
        ),
        expected="label unsupported",
        note="the record says no pneumothorax; the label says yes and the conclusion states one",
    )
    b.reasoning(
        "reasoning-en-no-to-affirmed",
        "liver_cyst",
        "Is there a hepatic cyst?",
        "No",
        (
            "Look at the liver.",
            "The liver has a homogeneous texture.",
            "A hepatic cyst appears as a round, non-enhancing lesion of fluid density.",
            "No such lesion is seen, so the answer is no.",
        ),
        expected="label",
    )
    b.reasoning(
        "reasoning-en-invented-vein",
        "embolism",
        "Is there a pulmonary embolism?",
        "Yes",
        (
            "Look at the pulmonary arteries of the right lower lobe.",
            "A filling defect lies in the right lower lobe pulmonary artery.",
            "A pulmonary embolism often comes from a deep vein thrombosis in the left leg.",
            "The filling defect is a pulmonary embolism, so the answer is yes.",
        ),
        [("Pulmonary Embolism", "location", "Lung")],
        expected="unsupported",
    )
    b.reasoning(
        "reasoning-en-answer-tag",
        "bleed",
        "Is there a hemorrhage?",
        "Yes",
        (
            "Look at the left basal ganglia.",
            "A hyperdense area lies in the left basal ganglia with surrounding edema.",
            "Acute blood is dense on non-contrast CT.",
            "The hyperdense area is acute blood. <ANS>yes</ANS>",
        ),
        expected="notation",
        note="a trailing tag is notation; the stage is complete, not cut off",
    )
    b.reasoning(
        "reasoning-en-repeated",
        "fatty",
        "Is the liver fatty?",
        "Yes",
        (
            "Look at the liver.",
            "The liver is dark. The liver is dark. The liver is dark. The liver is dark.",
            "Fat lowers the attenuation of the liver on CT.",
            "The liver is darker than the spleen, so the answer is yes.",
        ),
        expected="repetition",
    )
    # Chinese
    b.reasoning(
        "reasoning-zh-pneumonia-yes",
        "zh_pneumonia",
        "图中有肺炎吗？",
        "有",
        (
            "观察右肺下叶。",
            "右肺下叶见斑片状实变影，边界模糊。",
            "肺炎的病变部位在肺，典型表现为肺实变。",
            "实变影符合肺炎表现，因此答案是有。",
        ),
        [("肺炎", "location", "肺")],
    )
    b.reasoning(
        "reasoning-zh-effusion-no",
        "zh_normal",
        "图中有胸腔积液吗？",
        "没有",
        (
            "观察肋膈角及胸壁内侧。",
            "肋膈角锐利，胸壁内侧未见液体密度影。",
            "胸腔积液时肋膈角变钝，可见液体密度影。",
            "肋膈角锐利，未见积液，因此答案是没有。",
        ),
        note="good: 'no' about a disease the record negates (未见胸腔积液)",
    )
    b.reasoning(
        "reasoning-zh-mass-lobe",
        "zh_lung_cancer",
        "肿块位于哪个肺叶？",
        "右肺上叶",
        (
            "观察右肺上叶。",
            "右肺上叶见一分叶状肿块，边缘毛刺。",
            "肺癌常表现为边缘毛刺的分叶状肿块。",
            "肿块位于右肺上叶，因此答案是右肺上叶。",
        ),
        [("肺癌", "location", "肺")],
        note="good: the answer's lobe named in several stages is not a loop",
    )
    b.reasoning(
        "reasoning-zh-no-enhancement",
        "zh_liver_cyst",
        "病灶增强后有强化吗？",
        "没有",
        (
            "观察肝右叶。",
            "肝右叶见一类圆形低密度灶，边界清楚，增强后无强化。",
            "肝囊肿内为液体，增强扫描不强化。",
            "病灶增强后没有强化，因此答案是没有。",
        ),
    )
    b.reasoning(
        "reasoning-zh-slake-liver-cancer",
        "zh_slake_liver",
        "图中病人是否有肝癌？",
        "是的",
        (
            "观察肝脏。",
            "肝脏内见异常信号肿块。",
            "肝癌发生于肝脏。",
            "肝脏内异常肿块符合肝癌，因此回答是的。",
        ),
        [("肝癌", "location", "肝脏")],
    )
    b.reasoning(
        "reasoning-zh-shide-to-negated",
        "zh_normal",
        "图中病人是否有肺炎？",
        "是的",
        (
            "观察双肺。",
            "双肺纹理清晰。",
            "肺炎表现为肺实变。",
            "结合所见，因此回答是的。",
        ),
        expected="label",
        note="'是的' (yes) about pneumonia, which the record negates (未见肺炎); SLAKE's zh "
        "yes/no answers are 是的/不是/包含/不包含/有/没有",
    )
    b.reasoning(
        "reasoning-zh-bushi-to-affirmed",
        "zh_lung_cancer",
        "图中病人是否有肺癌？",
        "不是",
        (
            "观察右肺上叶。",
            "右肺上叶见分叶状肿块，边缘毛刺。",
            "肺癌常表现为分叶状、边缘毛刺的肿块。",
            "因此回答不是。",
        ),
        expected="label",
        note="'不是' (no) about lung cancer, which the record affirms (符合肺癌)",
    )
    b.reasoning(
        "reasoning-zh-meiyou-to-affirmed",
        "zh_liver_cyst",
        "图中有肝囊肿吗？",
        "没有",
        (
            "观察肝右叶。",
            "肝右叶见一类圆形低密度灶。",
            "肝囊肿表现为边界清楚的低密度灶。",
            "因此答案是没有。",
        ),
        expected="label",
    )
    b.reasoning(
        "reasoning-zh-empty-visual",
        "zh_emphysema",
        "双肺透亮度是否增高？",
        "是的",
        ("观察双肺。", "", "肺气肿时肺内含气增多，透亮度增高。", "因此回答是的。"),
        [("肺气肿", "location", "肺")],
        expected="stages",
    )
    b.reasoning(
        "reasoning-zh-duplicate",
        "zh_bleed",
        "图中有脑出血吗？",
        "有",
        (
            "观察颅内深部结构。",
            "左侧基底节区见团片状高密度影。",
            "脑出血在CT上表现为高密度影。",
            "左侧基底节区可见团片状高密度影，故有。",
        ),
        expected="stages",
        note="the conclusion restates the visual analysis",
    )
    b.reasoning(
        "reasoning-zh-copies-prompt",
        "zh_pneumonia",
        "图中有肺炎吗？",
        "有",
        (
            "观察右肺下叶。",
            "右肺下叶见斑片状实变影。",
            "肺炎典型表现为肺实变。",
            "how the location, the observations and the knowledge：右肺下叶实变，答案是有。",
        ),
        [("肺炎", "location", "肺")],
        expected="prompt_copy",
    )
    b.reasoning(
        "reasoning-zh-cut-off",
        "zh_stone",
        "结石位于哪一侧？",
        "左侧",
        (
            "观察双肾。",
            "左肾见一高密度结石影。",
            "肾结石在CT上表现为高密度影。",
            "结石位于左肾，因此",
        ),
        expected="truncation",
    )


def _keyanswer(b: _Builder) -> None:
    """Key answers condensed from an answer."""
    b.keyanswer(
        "keyanswer-en-chest-pain",
        "pneumonia",
        "What symptoms does this condition cause?",
        "Patients usually have a cough with foamy mucus sputum, dyspnea and chest pain.",
        "chest pain",
    )
    b.keyanswer(
        "keyanswer-en-plural",
        "gallstones",
        "What symptoms do these stones cause?",
        "They often cause upper abdominal pains, nausea and vomiting.",
        "upper abdominal pain",
        note="good: singular key answer of a plural in the answer",
    )
    b.keyanswer(
        "keyanswer-en-curly-apostrophe",
        "crohn",
        "What disease does this pattern indicate?",
        "Wall thickening and hyperenhancement of the terminal ileum indicate active Crohn's "
        "disease.",
        "Crohn’s disease",
        note="good: curly apostrophe in the key answer, straight one in its answer",
    )
    b.keyanswer(
        "keyanswer-en-left-kidney",
        "stone",
        "Which organ holds the calculus?",
        "The calculus lies in the left kidney, which filters the blood.",
        "left kidney",
    )
    b.keyanswer(
        "keyanswer-en-surgery",
        "mass",
        "How can this abnormality be treated?",
        "Options include surgery, radiotherapy, chemotherapy and targeted drug therapy.",
        "surgery",
    )
    b.keyanswer(
        "keyanswer-en-system",
        "pneumonia",
        "What organ system does the heart belong to?",
        "The heart belongs to the circulatory system and pumps blood through the body.",
        "circulatory system",
    )
    b.keyanswer(
        "keyanswer-en-smoking",
        "emphysema",
        "What is the main cause of this change?",
        "Smoking is the main cause, followed by infection and air pollution.",
        "smoking",
    )
    b.keyanswer(
        "keyanswer-en-length",
        "spleen",
        "How long is the spleen?",
        "The spleen measures 16 cm in length, which is enlarged.",
        "16 cm",
    )
    b.keyanswer(
        "keyanswer-en-no-to-negated",
        "normal",
        "Is there a pneumothorax?",
        "No, there is no pneumothorax; the lungs are clear.",
        "no",
        note="good: 'no' about a disease the record negates",
    )
    # bad
    b.keyanswer(
        "keyanswer-en-fever",
        "pneumonia",
        "What symptoms does this condition cause?",
        "It mainly causes cough and chest pain.",
        "fever",
        "key_answer_absent",
    )
    b.keyanswer(
        "keyanswer-en-synonym",
        "stone",
        "Which organ holds the stone?",
        "The stone lies in the left renal collecting system.",
        "kidney",
        "key_answer_absent",
        note="'kidney' does not occur in its answer (which says 'renal')",
    )
    b.keyanswer(
        "keyanswer-en-other-side",
        "pneumonia",
        "Where is the consolidation?",
        "The consolidation lies in the right lower lung zone.",
        "left lung",
        "key_answer_absent",
    )
    b.keyanswer(
        "keyanswer-en-invented",
        "mass",
        "How is this treated?",
        "It is usually treated with chemotherapy and radiotherapy.",
        "surgical resection",
        "key_answer_absent",
    )
    b.keyanswer(
        "keyanswer-en-words-scattered",
        "stone",
        "Which kidney holds the stone?",
        "The stone is in the left kidney; the right ureter is normal.",
        "right kidney",
        "key_answer_absent",
        note="both words occur, but 'right kidney' does not: the answer says left kidney",
    )
    b.keyanswer(
        "keyanswer-en-prompt-example",
        "fatty",
        "What causes this appearance?",
        "Alcohol abuse, rapid weight loss and diabetes can cause it.",
        "chest pain",
        "key_answer_absent",
        note="the prompt's own example echoed",
    )
    b.keyanswer(
        "keyanswer-en-json-bleed",
        "gallstones",
        "What symptoms do these stones cause?",
        "They often cause upper abdominal pain, nausea and vomiting.",
        '"upper abdominal pain"}',
        "notation",
    )
    b.keyanswer(
        "keyanswer-en-negated-disease",
        "normal",
        "What is the most likely diagnosis?",
        "The most likely diagnosis is pneumonia.",
        "pneumonia",
        "label",
        note="the record says no pneumonia",
    )
    b.keyanswer(
        "keyanswer-en-yes-to-negated",
        "emphysema",
        "Is there a pneumothorax?",
        "Yes, there is a pneumothorax.",
        "yes",
        "label",
    )
    # Chinese
    b.keyanswer(
        "keyanswer-zh-chest-pain",
        "zh_pneumonia",
        "这种病变有哪些症状？",
        "主要症状为咳嗽、呼吸困难和胸痛。",
        "胸痛",
    )
    b.keyanswer(
        "keyanswer-zh-lobe",
        "zh_lung_cancer",
        "肿块位于哪里？",
        "肿块位于右肺上叶，边缘毛刺。",
        "右肺上叶",
    )
    b.keyanswer(
        "keyanswer-zh-organ",
        "zh_gallstones",
        "结石位于哪个器官？",
        "结石位于胆囊内。",
        "胆囊",
    )
    b.keyanswer(
        "keyanswer-zh-no-effusion",
        "zh_normal",
        "图中有胸腔积液吗？",
        "没有，图中未见胸腔积液。",
        "没有",
        note="good: 'no' about a disease the record negates",
    )
    b.keyanswer(
        "keyanswer-zh-fever",
        "zh_pneumonia",
        "这种病变有哪些症状？",
        "主要症状为咳嗽和胸痛。",
        "发热",
        "key_answer_absent",
    )
    b.keyanswer(
        "keyanswer-zh-other-side",
        "zh_lung_cancer",
        "肿块位于哪里？",
        "肿块位于右肺上叶。",
        "左肺上叶",
        "key_answer_absent",
    )
    b.keyanswer(
        "keyanswer-zh-negated-disease",
        "zh_normal",
        "最可能的诊断是什么？",
        "最可能的诊断是肺炎。",
        "肺炎",
        "label",
        note="the record says 未见肺炎",
    )


def _hardneg(b: _Builder) -> None:
    """Hard negatives: fine about a disease the record negates or does not name; wrong about
    one it affirms or leaves open."""
    good = [
        ("pneumonia", "Pleural Effusion", "the record says no pleural effusion"),
        ("stone", "Hydronephrosis", "the record says without hydronephrosis"),
        ("emphysema", "Pneumothorax", "without pneumothorax or pleural effusion"),
        ("emphysema", "Pleural Effusion", "the second of two negated findings"),
        ("liver_cyst", "Renal Cyst", ""),
        ("bleed", "Hydrocephalus", ""),
        ("gallstones", "Cholecystitis", "'no cholecystitis'"),
        ("normal", "Pneumonia", ""),
        ("meningioma", "Glioma", ""),
        ("fatty", "Cirrhosis", ""),
        ("zh_normal", "Pleural Effusion", "the record says 未见胸腔积液"),
        ("zh_stone", "Hydronephrosis", "the record says 未见肾积水"),
        ("clavicle", "Pneumothorax", ""),
        ("crohn", "Colon Cancer", ""),
    ]
    for n, (record, disease, note) in enumerate(good):
        slug = disease.lower().replace(" ", "-")
        b.hardneg(f"hardneg-{record}-{slug}", record, disease, note=note, n=n)
    bad = [
        ("stone", "Kidney Stone", "the issue's record 2: the caption says kidney stone"),
        ("liver_cyst", "Liver Cyst", "the issue's record 4, by an alias of Hepatic Cyst"),
        ("mass", "Lung Cancer", "the record leaves it open ('suspicious for')"),
        ("nodule", "Pulmonary Nodules", "'no change in the nodule' affirms the nodule"),
        ("persisting", "Pneumonia", "'has not resolved': the pneumonia is still there"),
        ("zh_lung_cancer", "Lung Cancer", "the record says 符合肺癌"),
        ("thyroid", "Thyroid Cancer", "'cannot be excluded' leaves it open"),
        ("bleed", "Brain Edema", "'with surrounding brain edema'"),
        ("zh_bleed", "Cerebral Hemorrhage", "the record says 符合脑出血"),
        ("crohn", "Crohn's Disease", "the record writes Crohn’s with a curly apostrophe"),
        ("gallstones", "Gallstone", "the record says gallstones"),
        ("metastases", "Colon Cancer", "'known colon cancer'"),
    ]
    for n, (record, disease, note) in enumerate(bad):
        slug = disease.lower().replace(" ", "-").replace("'", "")
        b.hardneg(f"hardneg-{record}-{slug}", record, disease, "label", note, n=n)


def _held_out(b: _Builder) -> None:
    """Drafts written after the gate was tuned on the items above, on new records: how the
    detectors do on text they were not fitted to."""
    renal_symptoms = long_path(
        "Renal Cyst",
        "symptom",
        "intermittent dull pain in the waist, abdomen and back",
        "Kidney",
        "Urinary System",
    )
    glioma_treatment = long_path(
        "Glioma", "treatment", "comprehensive treatment based on surgery", "Brain", "Nervous System"
    )
    pancreas_symptoms = long_path(
        "Pancreatic Cancer",
        "symptom",
        "abdominal pain, jaundice, emaciation, abdominal mass",
        "Pancreas",
        "Digestive System",
    )
    hemangioma_symptoms = long_path(
        "Hepatic Hemangioma",
        "symptom",
        "abdominal discomfort, abdominal mass",
        "Liver",
        "Digestive System",
    )
    tb_location = [
        ("Pulmonary Tuberculosis", "location", "Lung"),
        ("Lung", "belong to", "Respiratory System"),
    ]
    zh_renal_symptoms = long_path(
        "肾囊肿", "symptom", "腰腹部及背部呈现间歇性钝痛", "肾", "泌尿系统"
    )
    zh_atrophy_symptoms = long_path(
        "脑萎缩", "symptom", "痴呆，记忆力障碍，口齿不清", "大脑", "神经系统"
    )
    b.multihop(
        "held-multihop-en-renal-cyst",
        "renal_cyst",
        renal_symptoms,
        "What symptoms can this kind of lesion cause?",
        "Most are silent, but some cause an intermittent dull ache in the waist, abdomen or "
        "back. The lesion sits in the kidney, part of the urinary system.",
    )
    b.multihop(
        "held-multihop-en-glioma",
        "glioma",
        glioma_treatment,
        "How is this kind of lesion usually treated?",
        "Treatment is comprehensive and built around surgery. Because the lesion lies in the "
        "brain, the operation aims to remove as much of it as is safe.",
    )
    b.multihop(
        "held-multihop-en-hemangioma-some",
        "hemangioma",
        hemangioma_symptoms,
        "What symptoms can this lesion cause?",
        "It is often silent, but a large one can cause abdominal discomfort. It is a benign "
        "lesion.",
        note="good: uses one of the two symptoms on the path",
    )
    b.multihop(
        "held-multihop-en-pancreas-vague",
        "pancreas",
        pancreas_symptoms,
        "What symptoms might this patient notice?",
        "Symptoms vary from person to person. Anyone who is worried should see their doctor.",
        "path_unused",
    )
    b.multihop(
        "held-multihop-en-tb-age",
        "tuberculosis",
        tb_location,
        "Which organ system does this infection affect?",
        "In this 43-year-old patient it affects the lung. The lung is part of the respiratory "
        "system.",
        "unsupported",
        note="the record says 34 years old",
    )
    b.multihop(
        "held-multihop-en-glioma-arrow",
        "glioma",
        glioma_treatment,
        "How is this kind of lesion usually treated?",
        "Glioma -[treatment]-> comprehensive treatment based on surgery. Surgery comes first.",
        "notation",
    )
    b.multihop(
        "held-multihop-zh-renal-cyst",
        "zh_renal_cyst",
        zh_renal_symptoms,
        "这种病变可能引起什么症状？",
        "部分患者会出现腰腹部及背部的间歇性钝痛。病变位于肾脏，属于泌尿系统。",
    )
    b.multihop(
        "held-multihop-zh-atrophy-cut",
        "zh_brain_atrophy",
        zh_atrophy_symptoms,
        "这种改变可能导致哪些症状？",
        "可能导致痴呆、记忆力障碍以及",
        "truncation",
    )
    b.describe(
        "held-describe-en-atelectasis",
        "atelectasis",
        "This portable chest X-ray shows volume loss and opacity in the left lower lobe behind "
        "the heart, in keeping with atelectasis. There is a small left pleural effusion. No "
        "pneumothorax is seen.",
    )
    b.describe(
        "held-describe-en-cardiomegaly",
        "cardiomegaly",
        "This frontal chest radiograph shows an enlarged heart, with a cardiothoracic ratio of "
        "0.6. The appearance is consistent with cardiomegaly. The lungs are clear.",
        n=1,
    )
    b.describe(
        "held-describe-en-glioma",
        "glioma",
        "This FLAIR MRI of the brain shows an infiltrative lesion in the left temporal lobe that "
        "does not enhance. It is most likely a low-grade glioma. There is no midline shift.",
        n=2,
    )
    b.describe(
        "held-describe-en-hemangioma-side",
        "hemangioma",
        "This MRI of the liver shows a 4 cm lesion in the left lobe with peripheral nodular "
        "enhancement. It fills in progressively, typical of a hepatic hemangioma.",
        "unsupported",
        n=3,
        note="the record gives segment 6, no side",
    )
    b.describe(
        "held-describe-en-ribs-prompt",
        "ribs",
        "The image shows modality, body region, orientation, the structures visible and any "
        "abnormal findings: acute fractures of the right 5th and 6th ribs with a small right "
        "pneumothorax.",
        "prompt_copy",
        n=4,
    )
    b.describe(
        "held-describe-zh-ribs",
        "zh_ribs",
        "这是一幅胸部CT图像。右侧第5、6肋骨可见骨折线，伴少量气胸。",
        n=5,
    )
    b.describe(
        "held-describe-zh-atrophy-extra",
        "zh_brain_atrophy",
        "这是一幅头颅MRI图像。双侧脑沟增宽，脑室扩大，符合脑萎缩。右侧颞叶见一3cm肿块。",
        "unsupported",
        n=6,
        note="the record has no mass, no side and no size",
    )
    b.instruct(
        "held-instruct-en-tb-family",
        "tuberculosis",
        "Is my brother infectious?",
        "The X-ray suggests tuberculosis in the upper part of his right lung, which can spread "
        "to others. He should be tested and kept apart until the doctors know more.",
    )
    b.instruct(
        "held-instruct-en-ctr",
        "cardiomegaly",
        "How is the cardiothoracic ratio measured here?",
        "The widest diameter of the heart is divided by the widest inner diameter of the chest. "
        "Here the ratio is 0.6, so the heart is enlarged.",
    )
    b.instruct(
        "held-instruct-en-pancreas-age",
        "pancreas",
        "What is the likely diagnosis?",
        "In this 58-year-old woman, a 3 cm hypodense mass in the pancreatic head with a dilated "
        "duct is suspicious for pancreatic cancer.",
        "unsupported",
    )
    b.instruct(
        "held-instruct-en-atelectasis-cut",
        "atelectasis",
        "Should the effusion be drained?",
        "Not at this stage: the effusion is small and",
        "truncation",
    )
    b.instruct(
        "held-instruct-en-glioma-twice",
        "glioma",
        "What is the most likely diagnosis?",
        "It is a low-grade glioma. It is a low-grade glioma.",
        "repetition",
    )
    b.instruct(
        "held-instruct-zh-renal-cyst",
        "zh_renal_cyst",
        "这个囊肿需要处理吗？",
        "这是右肾上极的单纯性囊肿，大小约2.4cm，一般无需处理，定期复查即可。",
    )
    b.instruct(
        "held-instruct-zh-tb-side",
        "zh_tuberculosis",
        "病变在什么位置？",
        "病变位于左肺下叶，周围见卫星灶。",
        "unsupported",
    )
    b.reasoning(
        "held-reasoning-en-effusion-yes",
        "atelectasis",
        "Is there a pleural effusion?",
        "Yes",
        (
            "Look at the left costophrenic angle.",
            "The left costophrenic angle is blunted by a small amount of fluid.",
            "A pleural effusion collects in the lowest part of the pleural space and blunts the "
            "costophrenic angle.",
            "There is a small left pleural effusion, so the answer is yes.",
        ),
    )
    b.reasoning(
        "held-reasoning-en-renal-side",
        "renal_cyst",
        "Which kidney is abnormal?",
        "Right",
        (
            "Compare the right and left kidneys.",
            "An anechoic 2.4 cm cyst with posterior acoustic enhancement lies in the upper pole "
            "of the right kidney.",
            "A simple renal cyst is anechoic and shows posterior acoustic enhancement on "
            "ultrasound.",
            "The cyst is in the right kidney, so the answer is right.",
        ),
        [("Renal Cyst", "location", "Kidney")],
    )
    b.reasoning(
        "held-reasoning-en-cardiomegaly",
        "cardiomegaly",
        "Does the picture contain cardiomegaly?",
        "Yes",
        (
            "Measure the heart against the chest on this frontal film.",
            "The heart is enlarged, with a cardiothoracic ratio of 0.6.",
            "Cardiomegaly means an enlarged heart on the radiograph.",
            "The ratio shows an enlarged heart, so the answer is yes.",
        ),
    )
    b.reasoning(
        "held-reasoning-zh-pneumothorax-bushi",
        "zh_ribs",
        "图中是否有气胸？",
        "不是",
        (
            "观察右侧胸腔。",
            "右侧第5、6肋骨骨折。",
            "肋骨骨折可刺破胸膜引起气胸。",
            "因此回答不是。",
        ),
        expected="label",
        note="the record says 伴少量气胸",
    )
    b.reasoning(
        "held-reasoning-en-hemangioma-empty",
        "hemangioma",
        "Does the lesion fill in over time?",
        "Yes",
        (
            "Look at the lesion in segment 6 of the liver.",
            "It shows peripheral nodular enhancement that fills in progressively.",
            "",
            "Progressive fill-in is seen, so the answer is yes.",
        ),
        expected="stages",
    )
    b.reasoning(
        "held-reasoning-en-ribs-prompt",
        "ribs",
        "Are there rib fractures?",
        "Yes",
        (
            "Look at the right ribs.",
            "Shape, size, density or signal: two fractured ribs on the right.",
            "A fracture shows as a break in the cortex of the bone.",
            "The right 5th and 6th ribs are fractured, so the answer is yes.",
        ),
        expected="prompt_copy",
    )
    b.reasoning(
        "held-reasoning-zh-atrophy",
        "zh_brain_atrophy",
        "图中是否有脑萎缩？",
        "是的",
        (
            "观察脑沟和脑室。",
            "双侧脑沟增宽，脑室扩大。",
            "脑萎缩时脑组织体积减小，脑沟增宽，脑室代偿性扩大。",
            "脑沟增宽、脑室扩大符合脑萎缩，因此回答是的。",
        ),
        [("脑萎缩", "location", "大脑")],
    )
    b.reasoning(
        "held-reasoning-zh-renal-cut",
        "zh_renal_cyst",
        "病变位于哪一侧肾脏？",
        "右侧",
        (
            "观察双肾。",
            "右肾上极见一无回声区，边界清晰。",
            "肾囊肿在超声上表现为无回声区。",
            "病变位于右肾上极，因此答案",
        ),
        expected="truncation",
    )
    b.keyanswer(
        "held-keyanswer-en-pancreas",
        "pancreas",
        "Where is the mass?",
        "The mass lies in the head of the pancreas.",
        "head of the pancreas",
    )
    b.keyanswer(
        "held-keyanswer-zh-lobe",
        "zh_tuberculosis",
        "病变位于哪个肺叶？",
        "病变位于右肺上叶。",
        "右肺上叶",
    )
    b.keyanswer(
        "held-keyanswer-en-hemangioma",
        "hemangioma",
        "What is the most likely diagnosis?",
        "The peripheral nodular enhancement with fill-in is typical of a hepatic hemangioma.",
        "hepatic hemangioma",
    )
    b.keyanswer(
        "held-keyanswer-en-wrong-lobe",
        "glioma",
        "Which lobe is involved?",
        "The lesion involves the left temporal lobe.",
        "frontal lobe",
        "key_answer_absent",
    )
    b.keyanswer(
        "held-keyanswer-en-yes-to-negated",
        "atelectasis",
        "Is there a pneumothorax?",
        "Yes, a small one.",
        "yes",
        "label",
    )
    b.hardneg("held-hardneg-atelectasis-pneumothorax", "atelectasis", "Pneumothorax")
    b.hardneg("held-hardneg-pancreas-liver-cancer", "pancreas", "Liver Cancer", n=1)
    b.hardneg("held-hardneg-glioma-meningioma", "glioma", "Meningioma", n=2)
    b.hardneg("held-hardneg-ribs-pneumothorax", "ribs", "Pneumothorax", "label", n=3)
    b.hardneg(
        "held-hardneg-tb",
        "zh_tuberculosis",
        "Pulmonary Tuberculosis",
        "label",
        "the record leaves it open (考虑肺结核)",
    )
    b.hardneg("held-hardneg-hemangioma", "hemangioma", "Hepatic Hemangioma", "label", n=1)


@lru_cache(maxsize=1)
def corpus() -> tuple[Item, ...]:
    """Every labelled draft (built once)."""
    b = _Builder()
    for part in (_multihop, _describe, _instruct, _reasoning, _keyanswer, _hardneg):
        part(b)
    b.split = "held-out"
    _held_out(b)
    ids = [item.id for item in b.items]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate corpus ids: {sorted(duplicates)}")
    return tuple(b.items)


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """What the gate said about one item."""

    item: Item
    reasons: tuple[str, ...]
    fired: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        fired = frozenset(d for d in map(detector_of, self.reasons) if d)
        object.__setattr__(self, "fired", fired)

    @property
    def right(self) -> bool:
        """The detectors that fired are exactly the expected ones."""
        return self.fired == self.item.expected


@dataclass
class Tally:
    """One detector's confusion counts over the corpus."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when the detector never fired."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when no item expects the detector."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def evaluate(items: Iterable[Item], cfg: ChecksConfig | None = None) -> list[Result]:
    """Run the gate on every item."""
    cfg = cfg or ChecksConfig()
    return [Result(item, tuple(inspect(item.candidate, item.facts, cfg))) for item in items]


def tally(results: Iterable[Result]) -> dict[str, Tally]:
    """Per detector: true positives, false positives and misses."""
    counts = {name: Tally() for name in DETECTORS}
    for r in results:
        for name, t in counts.items():
            expected, fired = name in r.item.expected, name in r.fired
            t.tp += expected and fired
            t.fp += fired and not expected
            t.fn += expected and not fired
    return counts


def false_reject_rate(results: Sequence[Result]) -> float:
    """The share of good drafts that the gate rejects."""
    good = [r for r in results if r.item.good]
    return sum(bool(r.fired) for r in good) / len(good) if good else 0.0


def errors(results: Iterable[Result]) -> list[str]:
    """One line per item the gate gets wrong: id, expected, got, the reasons and the note."""
    lines = []
    for r in results:
        if r.right:
            continue
        expected = ", ".join(sorted(r.item.expected)) or "good"
        got = ", ".join(sorted(r.fired)) or "nothing"
        line = f"{r.item.id}: expected {expected}; got {got}"
        if r.reasons:
            line += " | " + " | ".join(r.reasons)
        if r.item.note:
            line += f"  (note: {r.item.note})"
        lines.append(line)
    return lines
