"""`training_log`: the committed training output shows the training that was asked for.

Logs, CSV histories, JSON metrics and notebook outputs are parsed by ``grader.logs``. The
check earns a share of its points for each of: training output with enough epochs, the
required number of training phases, and the required final test metrics.
"""

from __future__ import annotations

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.logs import DEFAULT_PATTERNS, TrainingHistory, combine, normalise_metric, parse_paths
from grader.logs.confusion import find_confusion
from grader.results import CheckOutcome, Evidence, Status


class TrainingLogArgs(Args):
    files: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PATTERNS),
        description="globs of training outputs (logs, CSV/JSON histories, notebooks)",
    )
    exclude: list[str] = Field(default_factory=list, description="globs never read")
    min_epochs: int = Field(1, ge=0, description="epochs needed, over all phases")
    require_phases: int = Field(1, ge=0, description="training phases needed (e.g. 2)")
    require_test_metrics: list[str] = Field(
        default_factory=list, description="final test metrics needed, e.g. ['accuracy']"
    )
    plot_metrics: list[str] = Field(
        default_factory=lambda: ["loss", "accuracy"], description="curves drawn in the report"
    )


def _phase_facts(history: TrainingHistory) -> list[dict]:
    return [{"name": p.name, "epochs": len(p.epochs)} for p in history.phases]


class TrainingLogCheck(Check):
    title = "Training log"
    Args = TrainingLogArgs

    def run(self, ctx: CheckContext, args: TrainingLogArgs) -> CheckOutcome:
        candidates = ctx.glob(args.files, exclude=args.exclude)
        parsed = parse_paths(ctx.workdir, candidates)
        useful = {name: h for name, h in parsed.items() if not h.empty}
        searched = ", ".join(args.files)
        if not useful:
            detail = (
                f"{len(candidates)} candidate file(s) had no epochs or test metrics: "
                + ", ".join(candidates[:5])
                if candidates
                else "no file matched"
            )
            return CheckOutcome(
                Status.FAIL,
                f"no log file with training output found (searched {searched}); commit the "
                "training output, e.g. a training.log with one line per epoch",
                [Evidence(" | ".join(args.files), "missing", detail)],
                {"sources": [], "searched": args.files, "candidates": candidates},
                fraction=0.0,
            )
        history = combine(useful)
        evidence = []
        for name, item in useful.items():
            first = item.epochs[0].line if item.epochs else None
            if name.lower().endswith(".ipynb"):  # notebook records carry cell numbers
                where = f"{name} cell {first}" if first else name
                evidence.append(Evidence(where, "parsed", item.summary()))
            else:
                evidence.append(Evidence(name, "parsed", item.summary(), line=first))
            evidence += [Evidence(name, "warning", w) for w in item.warnings]
        problems, passed, total = [], 0, 1
        if history.epoch_count >= max(args.min_epochs, 1):
            passed += 1
        else:
            problems.append(f"{history.epoch_count} epoch(s) logged, {args.min_epochs} expected")
        if args.require_phases > 1:
            total += 1
            if len(history.phases) >= args.require_phases:
                passed += 1
            else:
                problems.append(
                    f"{len(history.phases)} training phase(s) found in {history.source or 'the logs'}"
                    f", {args.require_phases} expected (start each phase with a header line such "
                    "as 'Stage 2: fine-tuning', or restart the epoch count)"
                )
        if args.require_test_metrics:
            total += 1
            missing = [m for m in args.require_test_metrics if _test_value(history, m) is None]
            if not missing:
                passed += 1
            else:
                problems.append(
                    f"no final test {', '.join(missing)} found (print e.g. "
                    f"'Test {missing[0]}: 0.91' after training, or commit a metrics.json)"
                )
        in_notebook = history.source.lower().endswith(".ipynb")
        for metric, line in history.test_lines.items():
            evidence.append(
                Evidence(f"{history.source} cell {line}" if in_notebook else history.source,
                         "test_metric", f"test {metric} = {history.test_metrics[metric]:.4g}",
                         line=None if in_notebook else line)
            )  # fmt: skip
        facts = {
            "sources": list(useful),
            "primary": history.source,
            "phases": _phase_facts(history),
            "test_metrics": dict(history.test_metrics),
            "history": history.to_dict(),
        }
        confusion = find_confusion(ctx.workdir, candidates)
        if confusion:
            facts["confusion_matrix"] = confusion  # the report draws it; never scored
        try:
            from grader.plots import curves_svg

            svg = curves_svg(
                {n: h for n, h in useful.items() if h.epochs}, metrics=args.plot_metrics
            )
        except Exception as exc:  # a plot must never cost the student the check
            svg = ""
            facts["plot_error"] = f"{type(exc).__name__}: {exc}"
        if svg:
            facts["svg"] = svg
        summary = history.summary()
        if problems:
            return CheckOutcome(
                Status.FAIL, "; ".join(problems), evidence, facts, fraction=passed / total
            )
        return CheckOutcome(Status.PASS, f"{history.source}: {summary}", evidence, facts)


def _test_value(history: TrainingHistory, metric: str) -> float | None:
    _, name = normalise_metric(metric, explicit_key=True)
    return history.test_metrics.get(name or metric)
