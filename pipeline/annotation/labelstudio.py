"""Label Studio, the annotation tool most CX research teams already run: the labelling configuration
for the three heads, tasks with the model's labels as pre-annotations, and reading a project's JSON export
back into corpus records.

TERMS and Forces are ordered lists (the first is the primary), which a multi-choice control cannot
express, so each has two controls: the primary label (single choice) and the others (multiple choice).
Formats follow Label Studio's documented task and export JSON (`data`, `annotations[].result[]` with
`from_name` / `type: choices` / `value.choices`, `completed_by`, `was_cancelled`, `predictions`).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.labels import FORCES, SENTIMENTS, TERMS

TEXT = "text"
CONTROLS = {  # control name -> (choices, single?)
    "sentiment": (SENTIMENTS, True),
    "terms_primary": (TERMS, True),
    "terms_more": (TERMS, False),
    "forces_primary": (FORCES, True),
    "forces_more": (FORCES, False),
}
HEADERS = {
    "sentiment": "Sentiment: the customer's overall stance",
    "terms_primary": "TERMS: the main factor (none for a question, news or an ad)",
    "terms_more": "TERMS: other factors, if any",
    "forces_primary": "Ipsos Force: the main one",
    "forces_more": "Ipsos Force: a second one, if any",
}
CONTEXT_FIELDS = ("id", "lang", "industry", "touchpoint", "channel")


class ExportError(ValueError):
    """An export that cannot be read at all (not JSON, not a list of tasks)."""


def labeling_config() -> str:
    """The project's labelling configuration (XML), built as a tree so every value is escaped."""
    view = ET.Element("View")
    ET.SubElement(view, "Text", name=TEXT, value=f"${TEXT}")
    ET.SubElement(view, "Header", value="$lang · $touchpoint · $channel", size="6")
    for name, (choices, single) in CONTROLS.items():
        ET.SubElement(view, "Header", value=HEADERS[name], size="5")
        control = ET.SubElement(
            view,
            "Choices",
            name=name,
            toName=TEXT,
            choice="single" if single else "multiple",
            showInline="true",
            **({"required": "true"} if name == "sentiment" else {}),
        )
        for choice in choices:
            ET.SubElement(control, "Choice", value=choice)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _result(name: str, choices: list[str]) -> dict[str, Any]:
    return {
        "from_name": name,
        "to_name": TEXT,
        "type": "choices",
        "value": {"choices": choices},
    }


def as_results(sentiment: str, terms: list[str], forces: list[str]) -> list[dict[str, Any]]:
    """Our labels as Label Studio results (empty controls are left out, as Label Studio does)."""
    out = [_result("sentiment", [sentiment])]
    for head, labels in (("terms", terms), ("forces", forces)):
        if labels:
            out.append(_result(f"{head}_primary", labels[:1]))
        if len(labels) > 1:
            out.append(_result(f"{head}_more", labels[1:]))
    return out


def task(
    context: dict[str, str], text: str, prediction: dict[str, Any] | None, model_version: str
) -> dict[str, Any]:
    """One task: the comment with its context; the model's labels as a pre-annotation with its score."""
    out: dict[str, Any] = {"data": {TEXT: text, **context}}
    if prediction is not None:
        out["predictions"] = [
            {
                "model_version": model_version,
                "score": round(float(prediction["score"]), 4),
                "result": as_results(prediction["sentiment"], prediction["terms"], prediction["forces"]),
            }
        ]
    return out


@dataclass
class Annotation:
    """One annotator's labels of one task, with where the task starts in the export file."""

    line: int
    task_id: Any
    data: dict[str, Any]
    sentiment: str | None
    terms: list[str]
    forces: list[str]
    annotator: str
    problems: list[str]


def _choices(result: list[dict[str, Any]], name: str) -> list[str]:
    for region in result:
        if region.get("from_name") == name and region.get("type") == "choices":
            return list(region.get("value", {}).get("choices", []))
    return []


def _ordered(primary: list[str], more: list[str], head: str) -> tuple[list[str], list[str]]:
    problems = []
    if len(primary) > 1:
        problems.append(f"{head}_primary has {len(primary)} choices; pick one")
    if more and not primary:
        problems.append(f"{head}_more is set but {head}_primary is empty; mark the main one first")
    labels = primary[:1] + [m for m in more if m not in primary[:1]]
    return labels, problems


def _user_names(tasks: list[dict[str, Any]]) -> dict[Any, str]:
    """Label Studio user id -> e-mail, from every annotation that carries the user as an object: the same
    person must have one name whether an annotation stores `completed_by` as an object or as an id."""
    names = {}
    for obj in tasks:
        for ann in obj.get("annotations") or []:
            who = ann.get("completed_by")
            if isinstance(who, dict) and who.get("id") is not None and who.get("email"):
                names[who["id"]] = str(who["email"])
    return names


def _annotator(value: Any, names: dict[Any, str]) -> str:
    user = value.get("id") if isinstance(value, dict) else value
    if isinstance(value, dict) and value.get("email"):
        return str(value["email"])
    if user is None:
        return "unknown"
    return names.get(user, f"labelstudio-user-{user}")


def _tasks_with_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The export's tasks with the line each starts on (Label Studio writes one JSON array)."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    pos = text.find("[")
    if pos < 0 or text[:pos].strip():
        raise ExportError(f"{path}: not a Label Studio JSON export (a list of tasks)")
    out, line, counted = [], 1, 0
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return out
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ExportError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise ExportError(f"{path}:{line}: each task must be a JSON object")
        out.append((line, obj))
        pos = end


def read_export(path: str | Path) -> tuple[list[Annotation], dict[str, int]]:
    """Every finished annotation of a Label Studio JSON export, and counts of what was skipped (tasks with
    no annotation, cancelled/skipped annotations). Label problems are attached, not raised, so that the
    importer can report them all with `file:line`."""
    path = Path(path)
    tasks = _tasks_with_lines(path)
    if tasks and not any("annotations" in obj for _, obj in tasks):
        raise ExportError(
            f'{path}: no task has `annotations`: export the project as "JSON" (not JSON-MIN or CSV)'
        )
    names = _user_names([obj for _, obj in tasks])
    out: list[Annotation] = []
    skipped = {"unlabelled_tasks": 0, "cancelled_annotations": 0}
    for line, obj in tasks:
        annotations = [a for a in obj.get("annotations") or [] if not a.get("was_cancelled")]
        skipped["cancelled_annotations"] += len(obj.get("annotations") or []) - len(annotations)
        if not annotations:
            skipped["unlabelled_tasks"] += 1
            continue
        data = dict(obj.get("data") or {})
        if not data.get("id") and obj.get("id") is not None:  # a task made in Label Studio, not by cx
            data["id"] = f"labelstudio-{obj['id']}"
        for ann in annotations:
            result = ann.get("result") or []
            sentiment = _choices(result, "sentiment")
            problems = [] if len(sentiment) == 1 else ["sentiment: choose exactly one"]
            terms, p_terms = _ordered(
                _choices(result, "terms_primary"), _choices(result, "terms_more"), "terms"
            )
            forces, p_forces = _ordered(
                _choices(result, "forces_primary"), _choices(result, "forces_more"), "forces"
            )
            out.append(
                Annotation(
                    line=line,
                    task_id=obj.get("id"),
                    data=data,
                    sentiment=sentiment[0] if sentiment else None,
                    terms=terms,
                    forces=forces,
                    annotator=_annotator(ann.get("completed_by"), names),
                    problems=problems + p_terms + p_forces,
                )
            )
    return out, skipped
