"""``exodeep train``: train or fine-tune a model on annotated movies, or resume a run."""

from __future__ import annotations

import sys
from pathlib import Path

from exodeep_gui.cli.common import ProgressBar, UserError, quiet_tensorflow


def register(sub) -> None:
    from exodeep_gui.ml.training.schedule import PRESET_HELP

    t = sub.add_parser("train", help="train or fine-tune a model on annotated movies",
                       description="Movies with their annotations beside them (NAME.tif + NAME.csv with "
                                   "X, Y, Slice, optional NAME_mask.tif), or folders of them.")
    t.add_argument("data", nargs="*", metavar="DATA", help="annotated movies or folders of them")
    t.add_argument("--out", required=True, help="the new model folder")
    t.add_argument("--preset", choices=sorted(PRESET_HELP), default="quick",
                   help="; ".join(f"{k}: {v}" for k, v in PRESET_HELP.items()) + " (default quick)")
    t.add_argument("--schedule", help="custom stages patch:batch:shift:steps,… (replaces the preset)")
    t.add_argument("--steps-scale", type=float, default=1.0, help="multiply every stage's steps")
    t.add_argument("--from", dest="start_from", help="fine-tune this model (name or folder); "
                   "the finetune preset starts from exodeepfinder by default")
    t.add_argument("--filters", type=int, nargs=3, default=[32, 48, 64], help="U-Net widths from scratch")
    t.add_argument("--valid", nargs="+", help="validation movies (default: a split of DATA by movie)")
    t.add_argument("--valid-fraction", type=float, default=0.3)
    t.add_argument("--validate-every", type=int, default=0, help="steps between validations (0: per stage)")
    t.add_argument("--checkpoint-every", type=int, default=50, help="steps between checkpoints")
    t.add_argument("--snapshot-every", type=int, default=0,
                   help="keep the weights every N steps in OUT/snapshots/ (default 0: none); detect "
                        "with one: --model OUT/snapshots/step_000450.weights.h5")
    t.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    t.add_argument("--augment-intensity", action="store_true", help="random gain, offset and noise")
    t.add_argument("--background-share", type=float, default=0.1,
                   help="share of patches centred anywhere in the cell, not on an object (default 0.1)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true",
                   help="continue the unfinished run in --out with its own data and options (give no others)")
    t.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    t.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    """Train or fine-tune a model on annotated movies into a model folder, or continue a run."""
    quiet_tensorflow()
    from exodeep_gui.core.progress import run_to_end
    from exodeep_gui.ml.training.train import resume, train

    out = Path(args.out)
    if args.resume:
        given = _run_options_given(args)
        if given:
            raise UserError(f"--resume continues the run in {out} with the data and options it started with; "
                            f"drop {', '.join(given)}")
        print(f"resuming the run in {out}")
        work = resume(out)
    else:
        work = train(*_training_data(args), out, _train_options(args), overwrite=args.overwrite)

    def show(p):
        v = getattr(p, "validation", None)
        if v:
            bar.print(f"step {p.global_step}: validation precision {v['precision']:.3f} recall {v['recall']:.3f} "
                      f"F1 {v['f1']:.3f} (TP {v['tp']}, FP {v['fp']}, FN {v['fn']})")
        bar(p)

    try:
        with ProgressBar("training") as bar:
            result = run_to_end(work, show)
    except KeyboardInterrupt:
        print(f"stopped; continue with: exodeep train --resume --out {out}", file=sys.stderr)
        return 130
    best = result.best
    print(f"{result.steps} steps → model folder {result.folder}")
    if best:
        print(f"best validation (step {best['step']}): precision {best['precision']:.3f} recall "
              f"{best['recall']:.3f} F1 {best['f1']:.3f}")
    print(f"detect with: exodeep detect MOVIE --model {result.folder}")
    return 0


def _run_options_given(args) -> list:
    """The data and run options given on a ``train`` command line (``--resume`` takes none)."""
    from exodeep_gui.cli import build_parser

    defaults = vars(build_parser().parse_args(["train", "--out", str(args.out)]))
    flags = {"data": "DATA", "start_from": "--from"}
    return [flags.get(k, "--" + k.replace("_", "-")) for k, v in vars(args).items()
            if k not in ("out", "resume", "debug") and k in defaults and v != defaults[k]]


def _training_data(args) -> tuple:
    from exodeep_gui.ml.training.dataset import training_split

    if not args.data:
        raise UserError("give the training data (movies with same-name .csv annotations, or folders of them)")
    train_items, valid_items = training_split(args.data, args.valid, args.valid_fraction, args.seed)
    print(f"training on {len(train_items)} movies, validating on {len(valid_items)}")
    if not valid_items:
        print("note: no validation movies, so the best model is the last one")
    return train_items, valid_items


def _train_options(args):
    from exodeep_gui.ml.training.schedule import parse_schedule, preset, scaled
    from exodeep_gui.ml.training.train import TrainOptions

    schedule = parse_schedule(args.schedule) if args.schedule else preset(args.preset)
    if args.steps_scale != 1.0:
        schedule = scaled(schedule, args.steps_scale)
    start_from = args.start_from
    if start_from is None and args.preset == "finetune":
        start_from = "exodeepfinder"
    print(f"preset {args.preset if not args.schedule else 'custom'}: "
          + ", ".join(f"{s.patch}³×{s.batch}×{s.steps}" for s in schedule)
          + (f"; from {start_from}" if start_from else "; from scratch"))
    return TrainOptions(schedule=schedule, start_from=start_from, filters=tuple(args.filters), learning_rate=args.lr,
                        augment_intensity=args.augment_intensity, validate_every=args.validate_every,
                        background_share=args.background_share, checkpoint_every=args.checkpoint_every,
                        snapshot_every=args.snapshot_every, seed=args.seed)


