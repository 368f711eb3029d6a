"""`ganforge train`: flags are generated from TrainConfig's fields (their sections, help lines and choices), so
the two never drift apart; the run is ganforge.train's, from the same settings."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from ganforge.config import SECTIONS, TrainConfig, flag_name
from ganforge.config.choices import choices
from ganforge.errors import GanforgeError


def _type_of(field: dataclasses.Field) -> type:
    annotation = str(field.type)
    for candidate in (bool, int, float, str):
        if candidate.__name__ in annotation:
            return candidate
    return str


def _help(field: dataclasses.Field) -> str:
    text = field.metadata["help"]
    if field.name == "model":
        from ganforge.models.registry import model_specs

        text += ": " + "; ".join(f"{s.name}: {s.summary.split(': ', 1)[-1]}" for s in model_specs() if s.pickable)
    if field.default is not None and field.name != "preset" and not isinstance(field.default, bool):
        from ganforge.models.registry import model_specs

        own = [f"{s.name} {s.defaults[field.name]}" for s in model_specs()
               if s.pickable and s.defaults.get(field.name, field.default) != field.default]
        text += f" (default: {field.default}" + (f"; {', '.join(own)}" if own else "") + ")"
    return text.replace("%", "%%")  # argparse formats help with %


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train a GAN on a folder of images or a built-in data set",
                       description="Train a GAN. Unset values come from the preset (--preset), the model's own "
                                   "defaults and the data; the run folder's config.json shows what ran.",
                       argument_default=argparse.SUPPRESS)
    run_group = p.add_argument_group("run folder")
    run_group.add_argument("--out", type=Path, help="the run's own folder (created)")
    run_group.add_argument("--resume", type=Path, metavar="RUN_DIR",
                           help="continue the run in RUN_DIR exactly; a new --steps, --epochs or --max-minutes "
                                "replaces its length (--max-minutes: a new budget from now; without it, what is "
                                "left of the run's budget), and runtime settings (--device, --threads, --log-every, "
                                "...) may change")
    run_group.add_argument("--config", type=Path, help="a config.json to start from (flags override it)")
    run_group.add_argument("--quiet", action="store_true", help="no progress bar")
    groups = {name: p.add_argument_group(title) for name, title in SECTIONS.items()}
    for field in dataclasses.fields(TrainConfig):
        group = groups[field.metadata["section"]]
        kind = _type_of(field)
        if kind is bool:
            group.add_argument(flag_name(field.name), dest=field.name, action=argparse.BooleanOptionalAction,
                               help=_help(field))
            continue
        allowed = choices(field.name)
        metavar = "{" + ",".join(map(str, allowed)) + "}" if allowed else None
        group.add_argument(flag_name(field.name), dest=field.name, type=kind, metavar=metavar, help=_help(field))
    return p


def run(args: argparse.Namespace) -> int:
    import ganforge.api as api

    settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    resume_dir = getattr(args, "resume", None)
    if resume_dir is None and getattr(args, "out", None) is None:
        raise GanforgeError("--out DIR is required: the folder where this run's files go")
    out_dir = resume_dir if resume_dir is not None else args.out
    result = api.train(out=out_dir, resume=resume_dir is not None, quiet=getattr(args, "quiet", False),
                       config=getattr(args, "config", None), **settings)
    if int(os.environ.get("RANK", "0")):  # under torchrun, rank 0 prints the summary
        return 130 if result.status == "interrupted" else 0
    if result.status == "complete":
        print(result.message)
        return 0
    if result.status == "interrupted":
        print(f"interrupted at step {result.step}; checkpoint saved to {result.checkpoint}. "
              f"Continue with: ganforge train --resume {out_dir}", file=sys.stderr)
        return 130
    why = " (time budget spent)" if result.status == "time budget" else ""
    print(f"stopped at step {result.step}{why}. Run folder: {out_dir}  "
          "(samples/, loss.png, report.html, checkpoints/latest.pt)")
    _report_heldout(out_dir, result.checkpoint)
    return 0


def _report_heldout(out_dir: Path, checkpoint: Path) -> None:
    """pix2pix runs end with their held-out scores (heldout.json), when their data has a held-out split."""
    import json

    from ganforge.checkpoint import load_checkpoint
    from ganforge.metrics.paired import evaluate_run, format_scores

    recipe = load_checkpoint(checkpoint).get("recipe")
    if recipe == "unpaired":
        _report_unpaired(out_dir, checkpoint)
    if recipe != "pix2pix":
        return
    try:
        scores = evaluate_run(checkpoint)
    except GanforgeError as err:
        print(f"no held-out scores: {err}")
        return
    (Path(out_dir) / "heldout.json").write_text(json.dumps(scores, indent=2) + "\n")
    print(f"held-out scores on {scores['pairs']} pairs (also in heldout.json):")
    print(format_scores({"output": scores}))


def _report_unpaired(out_dir: Path, checkpoint: Path) -> None:
    """cyclegan runs end with both directions' held-out scores and the doctor's reading (heldout.json)."""
    import json

    from ganforge.metrics.unpaired import evaluate_unpaired_run, format_unpaired

    try:
        scores = evaluate_unpaired_run(checkpoint)
    except GanforgeError as err:
        print(f"no held-out scores: {err}")
        return
    (Path(out_dir) / "heldout.json").write_text(json.dumps(scores, indent=2) + "\n")
    print("held-out scores (also in heldout.json):")
    print(format_unpaired(scores))
