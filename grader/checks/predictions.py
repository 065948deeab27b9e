"""`predictions`: a committed prediction for each required date, scored once observed.

Predictions are looked for wherever students put them: the declared files (CSV, JSON,
text, Markdown; scripts by their comments), the README, and notebooks (stored outputs,
Markdown cells, and the comments of code cells). What counts as a value and what never
does (the digits of a date, an index, a horizon): ``prediction_values``; where a value
belongs to a date: ``prediction_sources``. The grader's own output (``.grader/``, or a
result JSON redirected into the repository under any name) is never read.

Statements (prediction files, notebook outputs, READMEs, text) outrank comments in code.
Two statements that give one date different values (beyond rounding) are not resolved by
a guess: the check is ``manual``, lists each value with its places, and earns nothing
until a human decides.

Scoring: each required date earns a share of the points. A missing prediction earns
nothing and fails the check. A found one earns everything while its observation is
pending (the student's self-check never has observations; the report shows a separate
"accuracy: pending observations" row), and by absolute error bands once the instructor's
observations file (``date,observed_celsius``) exists. Placeholder observations are never
used for a grade (``grader.checks.observed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.checks.base import Args, Check, CheckContext
from grader.checks.observed import (
    ObservationsError,
    read_observations,
    usable,
)
from grader.checks.prediction_sources import (
    Found,
    from_code,
    from_csv,
    from_json,
    from_notebook,
    from_text,
    is_code,
)
from grader.checks.prediction_values import Wanted
from grader.paths import instructor_dir
from grader.results import CheckOutcome, Evidence, Status, is_grader_output

MAX_BYTES = 5_000_000


class ErrorBand(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    max_abs_error: float = Field(gt=0, description="°C; an error up to this earns `fraction`")
    fraction: float = Field(ge=0, le=1)


class PredictionsArgs(Args):
    dates: list[date] = Field(min_length=1, description="the dates predicted, in order")
    labels: list[str] = Field(default_factory=list, description="e.g. ['1 day', '1 week']")
    files: list[str] = Field(
        default_factory=lambda: [
            "**/*prediction*",
            "**/*forecast*",
            "**/*.csv",
            "**/*.json",
            "**/*.txt",
            "**/*.md",
        ],  # fmt: skip
        description="globs searched first, in this order (then the README and notebooks)",
    )
    notebooks: list[str] = Field(default_factory=lambda: ["**/*.ipynb"])
    min_celsius: float = -30.0
    max_celsius: float = 45.0
    max_dates_per_file: int = Field(
        40, ge=1, description="a file with more dates than this is data, not predictions"
    )
    observations: str | None = Field(
        None, description="CSV date,observed_celsius; relative to the instructor dir/<spec id>"
    )
    error_bands: list[ErrorBand] = Field(
        default_factory=lambda: [
            ErrorBand(max_abs_error=2, fraction=1.0),
            ErrorBand(max_abs_error=4, fraction=0.75),
            ErrorBand(max_abs_error=6, fraction=0.5),
        ]
    )
    worse_fraction: float = Field(0.25, ge=0, le=1, description="beyond the last band")

    @model_validator(mode="after")
    def _consistent(self) -> PredictionsArgs:
        if self.labels and len(self.labels) != len(self.dates):
            raise ValueError(f"{len(self.labels)} labels for {len(self.dates)} dates")
        if self.min_celsius >= self.max_celsius:
            raise ValueError("min_celsius must be below max_celsius")
        limits = [b.max_abs_error for b in self.error_bands]
        if limits != sorted(limits):
            raise ValueError("error_bands must be in increasing max_abs_error order")
        return self

    def label(self, index: int) -> str:
        return self.labels[index] if self.labels else self.dates[index].isoformat()

    @property
    def wanted(self) -> Wanted:
        return Wanted(tuple(self.dates), tuple(self.labels), self.min_celsius, self.max_celsius)


def _observations_path(ctx: CheckContext, args: PredictionsArgs) -> Path | None:
    if not args.observations:
        return None
    given = Path(args.observations)
    if given.is_absolute():
        return given if given.is_file() else None
    base = instructor_dir()
    if base is None:
        return None
    path = base / ctx.spec.id / given
    return path if path.is_file() else None


# ---- the check ----------------------------------------------------------------------------


_FULL_DATE = re.compile(r"(?<![\d.])(?:(?:19|20)\d\d[-./]\d{1,2}[-./]\d{1,2}|\d{8})(?!\d)")


def _looks_like_data(raw: str, limit: int) -> bool:
    """More distinct full dates than ``limit``: a data series, not a few predictions."""
    seen: set[str] = set()
    for match in _FULL_DATE.finditer(raw):
        seen.add(match.group(0))
        if len(seen) > limit:
            return True
    return False


def _band(error: float, args: PredictionsArgs) -> float:
    for band in args.error_bands:
        if error <= band.max_abs_error:
            return band.fraction
    return args.worse_fraction


_PREDICTION_NAME = re.compile(r"predict|forecast|előrejelz|elorejelz|jósl|josl", re.IGNORECASE)


def _kind(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if _PREDICTION_NAME.search(name):
        return "prediction file"
    return "README" if re.fullmatch(r"readme(\.\w+)?", name, re.IGNORECASE) else "text"


@dataclass
class Decision:
    """What was found for one date: the value (None when missing or for a human to decide),
    the groups of disagreeing values, and the values of a lower tier that were outranked."""

    hit: Found | None
    conflict: list[list[Found]]
    outranked: list[Found]


def decide(hits: list[Found]) -> Decision:
    """The best tier's value; two values there that differ beyond rounding: a conflict."""
    if not hits:
        return Decision(None, [], [])
    tier = min(f.tier for f in hits)
    best = [f for f in hits if f.tier == tier]
    groups: list[list[Found]] = []
    for item in best:
        group = next((g for g in groups if g[0].agrees(item)), None)
        if group is None:
            groups.append([item])
        else:
            group.append(item)
    outranked = [f for f in hits if f.tier != tier and not best[0].agrees(f)]
    if len(groups) > 1:
        return Decision(None, groups, outranked)
    return Decision(best[0], [], outranked)


def _candidates(groups: list[list[Found]]) -> list[dict]:
    return [{"value_celsius": g[0].value, "where": [f.where for f in g[:5]],
             "kind": sorted({f.kind for f in g}), "context": g[0].context} for g in groups]  # fmt: skip


class PredictionsCheck(Check):
    title = "Predictions for the required dates"
    Args = PredictionsArgs

    def _sources(self, ctx: CheckContext, args: PredictionsArgs) -> list[str]:
        ordered: list[str] = []
        for pattern in args.files:
            ordered += [p for p in ctx.glob(pattern) if p not in ordered]
        readmes = [p for p in ctx.files() if re.fullmatch(r"readme(\.\w+)?", p, re.IGNORECASE)]
        ordered += [p for p in readmes if p not in ordered]
        ordered += [p for p in ctx.glob(args.notebooks) if p not in ordered]
        return ordered

    def collect(self, ctx: CheckContext, args: PredictionsArgs) -> tuple[list[Found], dict]:
        """Every prediction found, in source priority order, and the files left out: data
        series (``data``) and the grader's own output (``grader_output``)."""
        wanted = args.wanted
        found: list[Found] = []
        skipped: dict[str, list[str]] = {"data": [], "grader_output": []}
        for path in self._sources(ctx, args):
            file = ctx.path(path)
            if file.is_symlink() or not file.is_file() or file.stat().st_size > MAX_BYTES:
                continue
            data = file.read_bytes()
            if b"\x00" in data[:8192]:
                continue  # binary (an image, a PDF, a model checkpoint)
            raw = data.decode("utf-8", errors="replace")
            suffix = file.suffix.lower()
            if suffix == ".ipynb":
                found += from_notebook(path, raw, wanted)
                continue
            if is_grader_output(raw):  # `grader check > out.txt`, --format json/junit/github
                skipped["grader_output"].append(path)
                continue
            if _looks_like_data(raw, args.max_dates_per_file):
                skipped["data"].append(path)
                continue
            kind = _kind(path)
            if is_code(path):
                found += from_code(path, raw, wanted)
            elif suffix in (".csv", ".tsv"):
                found += from_csv(path, raw, wanted, kind)
            elif suffix == ".json":
                found += from_json(path, raw, wanted, kind)
            else:
                found += from_text(path, raw, wanted, kind)
        return found, skipped

    def run(self, ctx: CheckContext, args: PredictionsArgs) -> CheckOutcome:
        found, skipped = self.collect(ctx, args)
        obs_path = _observations_path(ctx, args)
        try:
            read = read_observations(obs_path) if obs_path else None
        except (ObservationsError, OSError, UnicodeDecodeError) as exc:
            return CheckOutcome(Status.ERROR, f"the instructor's observations file: {exc}")
        use = usable(read, obs_path.name if obs_path else "")
        observed = use.values
        rows, evidence, shares, missing, manual = [], [], [], [], []
        by_label_only = all(f.by_label for f in found)
        for index, day in enumerate(args.dates):
            label = args.label(index)
            name = f"{label} ({day.isoformat()})" if args.labels else day.isoformat()
            # labels stand in for dates only in a submission that writes no target date
            decision = decide([f for f in found if f.day == day and f.by_label == by_label_only])
            hit = decision.hit
            obs = observed.get(day) if observed is not None else None
            error = round(abs(hit.value - obs), 3) if hit and obs is not None else None
            rows.append(
                {"date": day.isoformat(), "label": label,
                 "value_celsius": hit.value if hit else None, "where": hit.where if hit else None,
                 "observed": obs, "abs_error": error}
            )  # fmt: skip
            if decision.conflict:
                manual.append(name)
                shares.append(0.0)
                rows[-1]["candidates"] = _candidates(decision.conflict)
                listed = "; ".join(f"{g[0].value:g} °C at {', '.join(f.where for f in g[:3])} "
                                   f"({g[0].kind}: {g[0].context})" for g in decision.conflict)  # fmt: skip
                evidence.append(
                    Evidence(decision.conflict[0][0].path, "manual",
                             f"{name}: {len(decision.conflict)} different values: {listed}; a "
                             "human decides which is the prediction (no points until then)",
                             decision.conflict[0][0].line)
                )  # fmt: skip
                continue
            if hit is None:
                missing.append(name)
                shares.append(0.0)
                evidence.append(
                    Evidence("", "missing", f"{name}: no prediction found on a line, CSV row "
                             "or JSON object with this date (nor with its label)")
                )  # fmt: skip
                continue
            share = _band(error, args) if error is not None else 1.0
            shares.append(share)
            detail = f"{name}: {hit.value:g} °C at {hit.where} ({hit.kind}): {hit.context}"
            if hit.by_label:
                detail += " (found by its label, not its date)"
            if decision.outranked:
                others = sorted({f"{f.value:g} at {f.where}" for f in decision.outranked})
                detail += f"; outranked (a {decision.outranked[0].kind}): {', '.join(others[:3])}"
            if error is not None:
                detail += f"; observed {obs:g} °C, error {error:g} °C, {share:.0%} of its share"
            evidence.append(Evidence(hit.path, "found", detail, hit.line))
        scored = [r["abs_error"] for r in rows if r["abs_error"] is not None]
        mae = round(sum(scored) / len(scored), 3) if scored and not manual else None
        facts = {
            "predictions": rows, "mae": mae, "observations": use.state,
            "accuracy": [{"date": r["date"], "label": r["label"], "fraction": s}
                         for r, s in zip(rows, shares, strict=True)],
            "data_files_skipped": skipped["data"], "grader_output_skipped": skipped["grader_output"],
        }  # fmt: skip
        if use.note:
            evidence.append(Evidence(obs_path.name if obs_path else "", use.state, use.note))
        if observed is None:
            evidence.append(
                Evidence("", "pending", "accuracy: pending observations (scored by "
                         "absolute error once the instructor adds the observed temperatures)")
            )  # fmt: skip
        else:
            unobserved = [r["date"] for r in rows if r["value_celsius"] is not None
                          and r["observed"] is None]  # fmt: skip
            parts = [f"mean absolute error {mae:g} °C"] if mae is not None else []
            if unobserved:
                parts.append(f"no observation yet for {', '.join(unobserved)} (pending)")
            text = "accuracy: " + ("; ".join(parts) or "nothing to score")
            evidence.append(Evidence("", "scored", text))
        fraction = sum(shares) / len(shares)
        if manual:
            message = (f"a human decides: {', '.join(manual)} "
                       f"{'has' if len(manual) == 1 else 'have'} two or more different values "
                       "(listed with their places); no points until then")  # fmt: skip
            if missing:
                message += f"; missing: {', '.join(missing)}"
            return CheckOutcome(Status.MANUAL, message, evidence, facts, fraction)
        if missing:
            message = (
                f"{len(missing)} of {len(args.dates)} predictions missing: {', '.join(missing)}"
            )
            return CheckOutcome(Status.FAIL, message, evidence, facts, fraction)
        message = f"all {len(args.dates)} predictions found"
        if observed is None:
            pending = "; accuracy pending observations"
            if use.state == "placeholder":
                pending += " (the observations file holds placeholders only)"
            return CheckOutcome(Status.PASS, message + pending, evidence, facts, 1.0)
        message += f"; mean absolute error {mae:g} °C" if mae is not None else ""
        if use.state == "placeholder-demo":
            message += " against PLACEHOLDER observations (demo)"
        status = Status.PASS if fraction >= 1.0 else Status.WARN
        return CheckOutcome(
            status, message + f"; {fraction:.0%} of the points", evidence, facts, fraction
        )
