"""`code_evidence`: the code shows the transfer-learning steps the assignment asks for.

Static evidence in ``.py`` files and notebook code cells (``grader.checks.code_scan``):

- ``pretrained_backbone``: a pretrained CNN is loaded (Keras applications, whose default
  is ``weights='imagenet'``; torchvision with ``weights=...``/``pretrained=True``;
  ``models.get_model``; timm ``create_model(pretrained=True)``; ``from_pretrained``);
- ``freeze``: parameters frozen (``requires_grad = False``, ``trainable = False``,
  ``requires_grad_(False)``);
- ``partial_unfreeze``: later, a subset is unfrozen (``layer4``, ``layers[-N:]``, a
  condition on the name), or the whole model is unfrozen and its lower layers refrozen;
- ``matching_preprocessing``: Keras ``preprocess_input`` from the backbone's own module,
  torchvision ``weights.transforms()``, ImageNet mean/std, timm's data config.

Each item is ``found`` (file:line evidence), ``manual`` (candidate lines a person must
judge) or ``absent``. PASS when all are found; FAIL when any is absent; MANUAL otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.checks.code_scan import Event, keras_module_matches, scan_source
from grader.results import CheckOutcome, Evidence, Status

Item = Literal["pretrained_backbone", "freeze", "partial_unfreeze", "matching_preprocessing"]
ALL_ITEMS: list[Item] = ["pretrained_backbone", "freeze", "partial_unfreeze",
                         "matching_preprocessing"]  # fmt: skip
MAX_LINES = 6  # evidence lines per item
_WHAT = {
    "backbone": "pretrained backbone", "backbone_maybe": "weights loaded",
    "no_weights": "backbone without pretrained weights", "freeze": "frozen",
    "unfreeze": "unfrozen", "flag_unknown": "trainability set from an expression",
    "preprocess": "preprocess_input", "preprocess_match": "matching preprocessing",
    "candidate": "candidate",
}  # fmt: skip


class CodeEvidenceArgs(Args):
    require: list[Item] = Field(default_factory=lambda: list(ALL_ITEMS))
    files: list[str] = Field(default_factory=lambda: ["**/*.py", "**/*.ipynb"])
    exclude: list[str] = Field(default_factory=list, description="globs never read")
    max_file_bytes: int = Field(2_000_000, gt=0, description="larger files are skipped")


@dataclass
class Located:
    """An event with where it is: the file (and notebook cell) and the order of reading."""

    event: Event
    path: str
    order: tuple[int, int]  # (unit index, line): "later" means a larger order


def code_units(
    ctx: CheckContext, args: CodeEvidenceArgs
) -> tuple[list[tuple[str, str]], list[str]]:
    """``([(label, code)], skipped)``: each .py file, and each notebook code cell labelled
    ``notebook.ipynb cell N``."""
    units, skipped = [], []
    for path in ctx.glob(args.files, exclude=args.exclude):
        full = ctx.path(path)
        try:
            limit = 64_000_000 if path.lower().endswith(".ipynb") else args.max_file_bytes
            if full.stat().st_size > limit:
                skipped.append(f"{path}: too large")
                continue
            text = full.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            skipped.append(f"{path}: cannot read ({exc.strerror or exc})")
            continue
        if not path.lower().endswith(".ipynb"):
            units.append((path, text))
            continue
        try:
            cells = json.loads(text).get("cells", [])
        except (ValueError, AttributeError, RecursionError):
            cells = None
        if not isinstance(cells, list):
            skipped.append(f"{path}: not a readable notebook")
            continue
        for number, cell in enumerate(cells, 1):
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                source = cell.get("source", "")
                source = "".join(source) if isinstance(source, list) else str(source)
                units.append((f"{path} cell {number}", source))
    return units, skipped


def decide(events: list[Located], item: Item) -> tuple[str, list[Located], str]:
    """``(state, evidence, reason)`` for one item; state is found, manual or absent."""
    of = {kind: [e for e in events if e.event.kind == kind] for kind in (
        "backbone", "backbone_maybe", "no_weights", "freeze", "unfreeze", "flag_unknown",
        "preprocess", "preprocess_match", "candidate")}  # fmt: skip
    if item == "pretrained_backbone":
        if of["backbone"]:
            return "found", of["backbone"], "a pretrained backbone is loaded"
        maybe = of["backbone_maybe"] + of["no_weights"]
        if of["backbone_maybe"]:
            return "manual", maybe, "weights are loaded from a file or hub: check what they are"
        if of["no_weights"]:
            return "absent", of["no_weights"], "the backbone is built without pretrained weights"
        return "absent", [], "no pretrained backbone is loaded"
    if item == "freeze":
        if of["freeze"]:
            return "found", of["freeze"], "parameters are frozen"
        candidates = of["flag_unknown"] + [e for e in of["candidate"] if "optim" in e.event.code]
        if candidates:
            return "manual", candidates, "trainability is set from expressions: check them"
        return "absent", [], "no layer is frozen"
    if item == "partial_unfreeze":
        frozen = of["freeze"]
        first_freeze = min((e.order for e in frozen), default=None)
        subset_unfreeze = [
            e for e in of["unfreeze"]
            if e.event.subset and first_freeze is not None and e.order > first_freeze
        ]  # fmt: skip
        if subset_unfreeze:
            return "found", [frozen[0], *subset_unfreeze], "a subset is unfrozen after freezing"
        whole = [e for e in of["unfreeze"] if e.event.whole]
        refrozen = [e for e in frozen if e.event.subset and whole and e.order > whole[0].order]
        if refrozen:
            return "found", [whole[0], *refrozen], "all unfrozen, then the lower layers refrozen"
        unclear = of["flag_unknown"] + [e for e in of["unfreeze"] if not e.event.head]
        if unclear:
            return "manual", unclear, "unfreezing found, but not clearly of a subset of layers"
        return "absent", of["unfreeze"], "no upper layers are unfrozen for a second stage"
    # matching_preprocessing
    if of["preprocess_match"]:
        return "found", of["preprocess_match"], "the backbone's own preprocessing is used"
    keras = [e for e in of["backbone"] if e.event.module]
    uses = [e for e in of["preprocess"] if e.event.module]
    matched = [u for u in uses if any(keras_module_matches(u.event.module, k.event.module)
                                      for k in keras)]  # fmt: skip
    if matched:
        return "found", matched + keras[:1], "preprocess_input of the backbone's own module"
    if uses and keras:
        return "absent", uses + keras[:1], "preprocess_input of another network than the backbone"
    candidates = uses + of["candidate"]
    if candidates:
        return (
            "manual",
            candidates,
            "preprocessing found; whether it matches the backbone is unclear",
        )
    return "absent", [], "no preprocessing of the backbone was found"


class CodeEvidenceCheck(Check):
    title = "Transfer-learning steps in the code"
    Args = CodeEvidenceArgs

    def run(self, ctx: CheckContext, args: CodeEvidenceArgs) -> CheckOutcome:
        units, skipped = code_units(ctx, args)
        if not units:
            return CheckOutcome(Status.FAIL, "no Python code or notebook found",
                                facts={"files": 0, "skipped": skipped}, fraction=0.0)  # fmt: skip
        located: list[Located] = []
        unparsed = []
        for index, (label, code) in enumerate(units):
            events, parsed = scan_source(code)
            if not parsed:
                unparsed.append(label)
            located += [Located(e, label, (index, e.line)) for e in events]
        evidence, items, states = [], {}, {}
        for item in args.require:
            state, found, reason = decide(located, item)
            states[item] = state
            items[item] = {
                "status": state,
                "reason": reason,
                "evidence": [{"path": e.path, "line": e.event.line, "code": e.event.code}
                             for e in found[:MAX_LINES]],
            }  # fmt: skip
            if not found:
                evidence.append(Evidence("", f"{item}: {state}", reason))
            for index, e in enumerate(found[:MAX_LINES]):
                what = _WHAT.get(e.event.kind, e.event.kind.replace("_", " "))
                if e.event.kind in ("freeze", "unfreeze"):
                    what += (
                        " (a subset)" if e.event.subset else " (the head)" if e.event.head else ""
                    )
                detail = f"{what}: {e.event.code}"
                evidence.append(Evidence(e.path, f"{item}: {state}",
                                         f"{reason}; {detail}" if index == 0 else detail,
                                         line=e.event.line))  # fmt: skip
        facts = {"files": len({u[0].split(" cell ")[0] for u in units}), "items": items,
                 "text_fallback": unparsed, "skipped": skipped}  # fmt: skip
        absent = [i for i, s in states.items() if s == "absent"]
        manual = [i for i, s in states.items() if s == "manual"]
        found = [i for i, s in states.items() if s == "found"]
        words = {i: i.replace("_", " ") for i in states}
        if absent:
            message = "not found in the code: " + ", ".join(words[i] for i in absent)
            if manual:
                message += "; to be judged by a person: " + ", ".join(words[i] for i in manual)
            fraction = len(found) / len(states) if states else 0.0
            return CheckOutcome(Status.FAIL, message, evidence, facts, fraction=fraction)
        if manual:
            return CheckOutcome(
                Status.MANUAL,
                "to be judged by a person (candidate lines listed): "
                + ", ".join(words[i] for i in manual),
                evidence,
                facts,
            )
        return CheckOutcome(
            Status.PASS, "found: " + ", ".join(words[i] for i in found), evidence, facts
        )
