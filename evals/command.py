"""`python -m assistant eval`: run a gold question set, write reports, gate on regressions.

Exit status: 0 when the gate passes, 1 when a threshold is missed or a metric regressed beyond
tolerance against the baseline, 2 when the evaluation could not run (bad dataset, thresholds,
baseline or report path; no articles, or articles that do not match the dataset; an LLM that
cannot be reached). Inputs are all checked before the run, so a typo fails in seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from evals.question_scoring import QuestionResult

# The suite's modules are imported when the command runs, not when the CLI loads: every other
# command (`ask` above all) pays nothing for `eval` existing.
DEFAULT_JUDGE_CACHE = "reports/judge-cache.json"

EXIT_GATE_FAILED = 1
EXIT_ERROR = 2


def _error(message: str) -> None:
    """Print each line of `message` as an error line, exit 2."""
    for line in message.splitlines() or [message]:
        click.echo(f"error: {line}", err=True)
    sys.exit(EXIT_ERROR)


@click.command("eval")
@click.option("--dataset", "dataset_dir", required=True, type=click.Path(file_okay=False),
              help="Folder with questions.jsonl (and articles/ unless --articles).")
@click.option("--articles", type=click.Path(exists=True),
              help="Articles kept outside the dataset (default: DATASET/articles).")
@click.option("--backend", type=click.Choice(["extractive", "openai"]),
              help="Answering backend (default: $ASSISTANT_LLM or extractive).")
@click.option("--llm-url", metavar="URL",
              help="OpenAI-compatible server for --backend openai (default: $OPENAI_BASE_URL).")
@click.option("--llm-model", metavar="NAME", help="Model for --backend openai (default: settings).")
@click.option("--store", type=click.Path(file_okay=False),
              help="Index into this store and keep it (default: a fresh temporary store).")
@click.option("--top-k", type=click.IntRange(1, 50), help="Passages to retrieve (default: settings).")
@click.option("--json", "as_json", is_flag=True, help="Print the full results as JSON.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False),
              help="Write NAME.json, NAME.junit.xml, NAME.md and NAME.html here.")
@click.option("--baseline", type=click.Path(dir_okay=False),
              help="Compare with this baseline file (e.g. evals/baseline.json); regressions fail.")
@click.option("--update-baseline", is_flag=True,
              help="Record this run as the dataset's entry in --baseline instead of comparing.")
@click.option("--thresholds", type=click.Path(dir_okay=False),
              help="Absolute thresholds file (default: evals/thresholds.json); 'none' to skip.")
@click.option("--name", help="Dataset name in reports and baseline (default: the folder name).")
@click.option("--judge/--no-judge", default=None,
              help="LLM second opinion on each cited sentence (default: on when OPENAI_* is set). "
                   "Reported only, never gates.")
@click.option("--judge-cache", type=click.Path(dir_okay=False), default=DEFAULT_JUDGE_CACHE,
              show_default=True, help="Where the judge's verdicts are cached.")
@click.option("--independent/--no-independent", default=True, show_default=True,
              help="Check each cited sentence with the trained reader too (evals/checker.py), "
                   "independently of the grounding scorer the guard uses.")
@click.pass_context
def eval_command(ctx: click.Context, dataset_dir: str, articles: str | None, backend: str | None,
                 llm_url: str | None, llm_model: str | None, store: str | None, top_k: int | None,
                 as_json: bool, report_dir: str | None, baseline: str | None, update_baseline: bool,
                 thresholds: str | None, name: str | None, judge: bool | None,
                 judge_cache: str, independent: bool) -> None:
    """Evaluate answers on a gold question set; exit 1 when quality regresses."""
    from assistant import AssistantError, Settings
    from evals.checker import ReaderChecker
    from evals.dataset import DatasetError, load_dataset
    from evals.gate import (
        DEFAULT_THRESHOLDS,
        GateError,
        baseline_entry,
        check_baseline_target,
        evaluate_gate,
        load_baseline,
        load_thresholds,
        write_baseline,
    )
    from evals.judge import LLMJudge, configured
    from evals.report import ReportError, check_report_dir, run_to_dict, summary_text, write_reports
    from evals.runner import EvalError, assistant_for, run_eval

    obj = ctx.find_root().obj or {}
    store = store or obj.get("store")
    # An empty value (an unset shell variable) would otherwise mean "the default" or "none".
    for option, value in (("--thresholds", thresholds), ("--baseline", baseline),
                          ("--report", report_dir), ("--name", name)):
        if value is not None and not value.strip():
            _error(f"{option} is empty" + (": give a file, or 'none' to skip thresholds"
                                           if option == "--thresholds" else ""))
    if update_baseline and not baseline:
        _error("--update-baseline needs --baseline FILE")
    thresholds_path = None if (thresholds or "").lower() == "none" else Path(thresholds or DEFAULT_THRESHOLDS)
    baseline_path = Path(baseline) if baseline else None
    try:
        dataset = load_dataset(dataset_dir, articles, name)
        # Every input is checked before the (slower) run, not after it: a CI user learns of a
        # typo in seconds.
        load_thresholds(thresholds_path, dataset.name)
        if baseline_path is not None and update_baseline:
            check_baseline_target(baseline_path)
        elif baseline_path is not None:
            load_baseline(baseline_path)
        if report_dir:
            check_report_dir(Path(report_dir), dataset.name)
    except (DatasetError, GateError, ReportError) as exc:
        _error(str(exc))
        return
    try:
        settings = Settings.from_environment()
    except AssistantError as exc:
        _error(str(exc))
        return
    overrides: dict[str, str] = {}
    if llm_url:
        overrides["openai_base_url"] = llm_url
    if llm_model:
        overrides["llm_model"] = llm_model
    backend = backend or ("openai" if overrides else settings.llm)
    # The judge talks to the same server and model as the backend unless told otherwise.
    judge_settings = settings.model_copy(update=overrides) if overrides else settings
    use_judge = configured(judge_settings) if judge is None else judge
    llm_judge = LLMJudge.from_settings(judge_settings, cache=Path(judge_cache)) if use_judge else None

    def progress(done: int, total: int, result: QuestionResult) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{dataset.name}: {done}/{total}", err=True, nl=done == total)

    try:
        with assistant_for(dataset, store=store, backend=backend, chroma_url=obj.get("chroma_url"),
                           log=lambda m: click.echo(m, err=True), **overrides) as assistant:
            checker = ReaderChecker(assistant) if independent else None
            run = run_eval(dataset, assistant, top_k=top_k, judge=llm_judge, checker=checker,
                           progress=progress)
    except EvalError as exc:
        _error(str(exc) + ("; the baseline was not updated" if update_baseline else ""))
        return
    if llm_judge is not None and run.judge is not None:
        run.judge.update(llm_judge.stats())

    try:
        if update_baseline and baseline_path is not None:
            write_baseline(baseline_path, dataset.name, baseline_entry(
                run.metrics, backend=run.backend, top_k=run.top_k, questions=run.counts["questions"],
                intervals=run.intervals))
            click.echo(f"recorded {dataset.name!r} in {baseline_path}", err=True)
            baseline_path = None
        gate = evaluate_gate(run.metrics, dataset.name, thresholds=thresholds_path,
                             baseline=baseline_path, backend=run.backend, top_k=run.top_k,
                             questions=run.counts["questions"], intervals=run.intervals)
    except GateError as exc:
        _error(str(exc))
        return

    if report_dir:
        try:
            paths = write_reports(run, gate, Path(report_dir))
        except ReportError as exc:
            _error(str(exc))
            return
        for path in paths:
            click.echo(f"wrote {path}", err=True)
    if as_json:
        click.echo(json.dumps(run_to_dict(run, gate), ensure_ascii=False))
    else:
        click.echo(summary_text(run, gate))
    if not gate.passed:
        sys.exit(EXIT_GATE_FAILED)
