"""Write the bundled example projects: Label Studio JSON exports with known wrong labels.

Each folder holds ``export.json`` (what Label Studio's JSON export produces), the
project's ``config.xml`` and ``flips.json`` (the tasks whose label was flipped, with the
true and the given label). Labels are flipped with a seeded class-dependent noise matrix
from ``core.benchmarking.noise``, so the same seed writes the same files.

* ``text/``: 480 short texts from the Debian package ``fortunes`` in 4 classes (needs
  ``apt-get install fortunes``); two tasks have a second annotator and one task a
  cancelled annotation, as real projects do;
* ``image/``: 500 handwritten digits (scikit-learn's bundled ``load_digits``) as 32x32
  PNG files under ``image/images/``, referenced by relative path;
* ``tabular/``: the 178 wines of scikit-learn's ``load_wine``, 13 numeric columns in one
  ``<Table>`` field;
* ``multilabel/``: 400 texts, each joining 1-3 fortunes of different categories, under a
  ``<Choices choice="multiple">``: the true label set is the categories present. Instead
  of flips, NOISE_RATE of the tasks get one change to their set (a label dropped, a wrong
  label added, or a label swapped for a wrong one), recorded in its ``flips.json``.
* ``ner/``: 400 news-like sentences with entity spans (PER, LOC, ORG, DATE, MISC) under a
  ``<Labels>`` control, made by ``bench/ner_data.py``'s template generator; NOISE_RATE of
  the tasks get one planted error (a span's type flipped, a span dropped, a boundary
  shifted by one word, or a spurious span), recorded in its ``truth.json``.

Run: ``.venv/bin/python examples/make_examples.py`` (writes next to this file;
``--only ner`` writes one example).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits, load_wine

from core.benchmarking.noise import generate_noise_matrix_from_trace, generate_noisy_labels

HERE = Path(__file__).resolve().parent
FORTUNES = Path("/usr/share/games/fortunes")
#: Fortune file -> class name of the text example.
TEXT_CLASSES = {
    "startrek": "Star Trek",
    "zippy": "Zippy",
    "definitions": "Definition",
    "songs-poems": "Verse",
}
TEXT_PER_CLASS = 120
TEXT_MAX_CHARS = 300
#: The multi-label example: tasks, P(1, 2, 3 fortunes) per task, the kinds of change.
MULTI_TASKS = 400
MULTI_PASSAGES_P = (0.45, 0.35, 0.20)
MULTI_CHANGES = ("dropped", "added", "swapped")
#: The NER example: tasks (template sentences of bench/ner_data.py).
NER_TASKS = 400
DIGITS_PER_CLASS = 50
DIGIT_PIXELS = 32  # the 8x8 digits, enlarged so that a person can see them in Label Studio
NOISE_RATE = 0.10
#: Annotator user ids: the main annotator, a second opinion, one who skipped a task.
MAIN, SECOND, SKIPPER = 1, 2, 3
TIMESTAMP = "2026-11-28T12:00:00.000000Z"


def flip(true: np.ndarray, num_classes: int, *, seed: int) -> np.ndarray:
    """Return labels flipped at NOISE_RATE with a seeded class-dependent noise matrix."""
    prior = np.bincount(true, minlength=num_classes) / len(true)
    noise_matrix = generate_noise_matrix_from_trace(
        num_classes, num_classes * (1 - NOISE_RATE), py=prior, valid_noise_matrix=True, seed=seed
    )
    return generate_noisy_labels(true, noise_matrix, random_state=seed)


def choice_result(control: str, obj: str, choices: list[str], region: str) -> dict[str, Any]:
    return {
        "id": region,
        "type": "choices",
        "value": {"choices": choices},
        "origin": "manual",
        "to_name": obj,
        "from_name": control,
    }


def annotation(
    annotation_id: int,
    task_id: int,
    user: int,
    result: list[dict[str, Any]],
    *,
    cancelled: bool = False,
) -> dict[str, Any]:
    """One annotation as Label Studio's JSON export writes it."""
    return {
        "id": annotation_id,
        "completed_by": user,
        "result": result,
        "was_cancelled": cancelled,
        "ground_truth": False,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "draft_created_at": None,
        "lead_time": 4.2,
        "prediction": {},
        "result_count": len(result),
        "unique_id": f"example-{annotation_id}",
        "import_id": None,
        "last_action": None,
        "bulk_created": False,
        "task": task_id,
        "project": 1,
        "updated_by": user,
        "parent_prediction": None,
        "parent_annotation": None,
        "last_created_by": None,
    }


def task(task_id: int, data: dict[str, Any], annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """One task as Label Studio's JSON export writes it."""
    cancelled = sum(a["was_cancelled"] for a in annotations)
    return {
        "id": task_id,
        "annotations": annotations,
        "file_upload": None,
        "drafts": [],
        "predictions": [],
        "data": data,
        "meta": {},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "inner_id": task_id,
        "total_annotations": len(annotations) - cancelled,
        "cancelled_annotations": cancelled,
        "total_predictions": 0,
        "comment_count": 0,
        "unresolved_comment_count": 0,
        "last_comment_updated_at": None,
        "project": 1,
        "updated_by": None,
        "comment_authors": [],
    }


def config_xml(
    obj_tag: str, obj: str, field: str, control: str, classes: list[str], choice: str = "single"
) -> str:
    choices = "\n".join(f'    <Choice value="{c}"/>' for c in classes)
    return (
        "<View>\n"
        f'  <{obj_tag} name="{obj}" value="${field}"/>\n'
        f'  <Choices name="{control}" toName="{obj}" choice="{choice}" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def write_project(
    folder: Path,
    *,
    data: list[dict[str, Any]],
    true: np.ndarray,
    given: np.ndarray,
    classes: list[str],
    obj_tag: str,
    obj: str,
    field: str,
    control: str,
    seed: int,
    extras: bool = False,
) -> None:
    """Write export.json, config.xml and flips.json of one example project."""
    tasks = []
    next_annotation = 1
    for i, (row, label) in enumerate(zip(data, given, strict=True)):
        task_id = i + 1
        result = [choice_result(control, obj, [classes[label]], f"r{task_id}")]
        annotations = [annotation(next_annotation, task_id, MAIN, result)]
        next_annotation += 1
        tasks.append(task(task_id, row, annotations))
    if extras:
        # A second opinion on two tasks: one agrees with the truth where the main
        # annotator's label was flipped, one agrees with an unflipped label.
        flipped = np.flatnonzero(given != true)
        kept = np.flatnonzero(given == true)
        for row, label in (
            (int(flipped[0]), int(true[flipped[0]])),
            (int(kept[0]), int(true[kept[0]])),
        ):
            result = [choice_result(control, obj, [classes[label]], f"s{row + 1}")]
            tasks[row]["annotations"].append(annotation(next_annotation, row + 1, SECOND, result))
            next_annotation += 1
        # A task an annotator skipped (Label Studio's "Skip": a cancelled, empty annotation).
        row = int(kept[1])
        tasks[row]["annotations"].append(
            annotation(next_annotation, row + 1, SKIPPER, [], cancelled=True)
        )
        for t in (tasks[int(flipped[0])], tasks[int(kept[0])], tasks[row]):
            t.update(task(t["id"], t["data"], t["annotations"]))
    flips = [
        {"task_id": i + 1, "true_label": classes[t], "given_label": classes[g]}
        for i, (t, g) in enumerate(zip(true, given, strict=True))
        if t != g
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export.json").write_text(json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    (folder / "config.xml").write_text(config_xml(obj_tag, obj, field, control, classes))
    summary = {
        "seed": seed,
        "noise_rate": NOISE_RATE,
        "annotator": MAIN,
        "tasks": len(tasks),
        "flipped": len(flips),
        "flips": flips,
    }
    (folder / "flips.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{folder}: {len(tasks)} tasks, {len(flips)} flipped labels")


def short_fortunes(name: str) -> list[str]:
    """Return the distinct fortunes of one fortune file up to TEXT_MAX_CHARS long, sorted."""
    if not FORTUNES.is_dir():
        raise SystemExit(f"{FORTUNES} not found: apt-get install fortunes")
    raw = (FORTUNES / name).read_text(encoding="utf-8")
    return sorted({e.strip() for e in raw.split("\n%\n") if 0 < len(e.strip()) <= TEXT_MAX_CHARS})


def make_text(out: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    true: list[int] = []
    for k, name in enumerate(TEXT_CLASSES):
        short = short_fortunes(name)
        picked = np.sort(rng.permutation(len(short))[:TEXT_PER_CLASS])
        texts += [short[i] for i in picked]
        true += [k] * len(picked)
    order = rng.permutation(len(texts))  # tasks in no particular class order
    texts = [texts[i] for i in order]
    true_labels = np.asarray(true)[order]
    classes = list(TEXT_CLASSES.values())
    given = flip(true_labels, len(classes), seed=seed)
    write_project(
        out / "text",
        data=[{"text": t} for t in texts],
        true=true_labels,
        given=given,
        classes=classes,
        obj_tag="Text",
        obj="text",
        field="text",
        control="label",
        seed=seed,
        extras=True,
    )


def make_image(out: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    digits = load_digits()
    rows = np.concatenate(
        [rng.permutation(np.flatnonzero(digits.target == d))[:DIGITS_PER_CLASS] for d in range(10)]
    )
    rows = rng.permutation(rows)
    folder = out / "image"
    if (folder / "images").exists():
        shutil.rmtree(folder / "images")
    (folder / "images").mkdir(parents=True)
    data = []
    for i, row in enumerate(rows):
        pixels = (digits.images[row] * (255 / 16)).round().astype(np.uint8)
        image = Image.fromarray(255 - pixels, mode="L")  # dark ink on white paper
        image = image.resize((DIGIT_PIXELS, DIGIT_PIXELS), Image.Resampling.NEAREST)
        name = f"images/digit-{i + 1:04d}.png"
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        (folder / name).write_bytes(buffer.getvalue())
        data.append({"image": name})
    true_labels = digits.target[rows]
    classes = [str(d) for d in range(10)]
    write_project(
        folder,
        data=data,
        true=true_labels,
        given=flip(true_labels, 10, seed=seed),
        classes=classes,
        obj_tag="Image",
        obj="image",
        field="image",
        control="digit",
        seed=seed,
    )


def make_tabular(out: Path, seed: int) -> None:
    wine = load_wine()
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(wine.target))
    data = [
        {
            "features": {
                name: float(v) for name, v in zip(wine.feature_names, wine.data[r], strict=True)
            }
        }
        for r in rows
    ]
    true_labels = wine.target[rows]
    classes = ["Cultivar A", "Cultivar B", "Cultivar C"]
    write_project(
        out / "tabular",
        data=data,
        true=true_labels,
        given=flip(true_labels, 3, seed=seed),
        classes=classes,
        obj_tag="Table",
        obj="table",
        field="features",
        control="cultivar",
        seed=seed,
    )


def change_sets(true: np.ndarray, *, seed: int) -> tuple[np.ndarray, list[str]]:
    """Change one label of NOISE_RATE of the sets; return the given sets and each change.

    The change is drawn uniformly among those possible: ``dropped`` (one true label
    removed; only from sets of two or more, so that no annotation is left empty),
    ``added`` (one wrong label added), ``swapped`` (one true label replaced by a wrong one).
    Unchanged tasks get ``""``.
    """
    rng = np.random.default_rng(seed)
    given = true.copy()
    changes = [""] * len(true)
    for i in np.flatnonzero(rng.random(len(true)) < NOISE_RATE):
        present, absent = np.flatnonzero(true[i]), np.flatnonzero(~true[i])
        possible = [
            change
            for change, ok in zip(
                MULTI_CHANGES, (len(present) >= 2, len(absent) > 0, len(absent) > 0), strict=True
            )
            if ok
        ]
        change = str(rng.choice(possible))
        if change in ("dropped", "swapped"):
            given[i, rng.choice(present)] = False
        if change in ("added", "swapped"):
            given[i, rng.choice(absent)] = True
        changes[i] = change
    return given, changes


def make_multilabel(out: Path, seed: int) -> None:
    """Write multilabel/: texts of 1-3 fortunes of different classes, each fortune used once."""
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(short_fortunes(name))) for name in TEXT_CLASSES]
    classes = list(TEXT_CLASSES.values())
    texts: list[str] = []
    true = np.zeros((MULTI_TASKS, len(classes)), dtype=bool)
    for i in range(MULTI_TASKS):
        left = np.array([len(pool) for pool in pools], dtype=float)
        m = int(rng.choice(len(MULTI_PASSAGES_P), p=MULTI_PASSAGES_P)) + 1
        # Classes drawn in proportion to the fortunes they have left, in random order.
        chosen = rng.choice(len(classes), size=m, replace=False, p=left / left.sum())
        texts.append("\n\n".join(str(pools[k].pop()) for k in chosen))
        true[i, chosen] = True
    given, changes = change_sets(true, seed=seed)
    control, obj = "topics", "text"
    tasks = []
    for i, (text, labels) in enumerate(zip(texts, given, strict=True)):
        chosen_names = [classes[k] for k in np.flatnonzero(labels)]
        result = [choice_result(control, obj, chosen_names, f"r{i + 1}")]
        tasks.append(task(i + 1, {"text": text}, [annotation(i + 1, i + 1, MAIN, result)]))
    flips = [
        {
            "task_id": i + 1,
            "true_labels": [classes[k] for k in np.flatnonzero(true[i])],
            "given_labels": [classes[k] for k in np.flatnonzero(given[i])],
            "change": changes[i],
        }
        for i in range(MULTI_TASKS)
        if changes[i]
    ]
    folder = out / "multilabel"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export.json").write_text(json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    (folder / "config.xml").write_text(
        config_xml("Text", obj, "text", control, classes, choice="multiple")
    )
    summary = {
        "seed": seed,
        "noise_rate": NOISE_RATE,
        "annotator": MAIN,
        "tasks": len(tasks),
        "flipped": len(flips),
        "changes": {c: changes.count(c) for c in MULTI_CHANGES},
        "flips": flips,
    }
    (folder / "flips.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{folder}: {len(tasks)} tasks, {len(flips)} changed label sets")


def ner_data() -> Any:
    """``bench/ner_data.py`` as a module (bench/ holds scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("ner_data", HERE.parent / "bench" / "ner_data.py")
    if spec is None or spec.loader is None:
        raise SystemExit("bench/ner_data.py not found next to examples/")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def labels_result(control: str, obj: str, text: str, span: tuple[int, int, str]) -> dict[str, Any]:
    """One span as Label Studio's JSON export writes a ``<Labels>`` region."""
    start, end, label = span
    return {
        "id": f"t{start}-{end}",
        "type": "labels",
        "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
        "origin": "manual",
        "to_name": obj,
        "from_name": control,
    }


def make_ner(out: Path, seed: int) -> None:
    """Write ner/: template sentences with spans, one planted error in NOISE_RATE of them."""
    data = ner_data()
    case = data.inject_noise(data.template_case(NER_TASKS, seed=seed), rate=NOISE_RATE, seed=seed)
    control, obj = "label", "text"
    tasks = []
    for i, (text, spans) in enumerate(zip(case.texts, case.given, strict=True)):
        result = [labels_result(control, obj, text, span) for span in spans]
        tasks.append(task(i + 1, {"text": text}, [annotation(i + 1, i + 1, MAIN, result)]))
    changes = [
        {
            "task_id": c["task"] + 1,
            "change": c["change"],
            "true_span": c["true_span"],
            "given_span": c["given_span"],
        }
        for c in case.changes
    ]
    folder = out / "ner"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export.json").write_text(json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    (folder / "config.xml").write_text(data.CONFIG)
    summary = {
        "seed": seed,
        "noise_rate": NOISE_RATE,
        "annotator": MAIN,
        "tasks": len(tasks),
        "changed": len(changes),
        "kinds": {k: sum(c["change"] == k for c in changes) for k in data.NOISE_KINDS},
        "changes": changes,
    }
    (folder / "truth.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print(f"{folder}: {len(tasks)} tasks, {len(changes)} with a planted error")


MAKERS = {
    "text": make_text,
    "image": make_image,
    "tabular": make_tabular,
    "multilabel": make_multilabel,
    "ner": make_ner,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    parser.add_argument("--only", nargs="+", choices=list(MAKERS), default=list(MAKERS))
    args = parser.parse_args(argv)
    for name in args.only:
        MAKERS[name](args.out, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
