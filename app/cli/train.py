"""`stepgrad train SPEC.json|EXAMPLE`: headless training with a progress bar and a summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a graph headless and print its loss curve")
    p.add_argument("source", help="a spec JSON file, or the id of an example")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--optimizer", default="sgd", help="sgd, momentum, adam or random_search")
    p.add_argument("--learning-rate", "--lr", type=float, default=0.01)
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="rows per mini-batch (default: the binding's, or the full data)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def _load_spec(source: str) -> dict:
    path = Path(source)
    if path.suffix == ".json" or path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    from stepgrad.engine.examples import load_example

    return load_example(source)


def _bar(fraction: float, width: int = 30) -> str:
    filled = round(fraction * width)
    return "#" * filled + "." * (width - filled)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    # looked up at call time, so that a redirected sys.stdout is honoured
    out, err = out or sys.stdout, err or sys.stderr
    from stepgrad.engine.errors import StepgradError
    from stepgrad.engine.graph import Graph
    from stepgrad.engine.training import train

    try:
        graph = Graph.from_spec(_load_spec(args.source))
    except (OSError, ValueError) as exc:  # unreadable file or invalid JSON
        print(f"stepgrad train: cannot read {args.source!r}: {exc}", file=err)
        return 2
    except (StepgradError, KeyError) as exc:
        print(f"stepgrad train: {exc}", file=err)
        return 2

    def progress(row: dict) -> None:
        test = f"  test {_fmt(row['test_loss'])}" if row["test_loss"] is not None else ""
        print(
            f"\r[{_bar(row['epoch'] / row['epochs'])}] epoch {row['epoch']}/{row['epochs']}"
            f"  train {_fmt(row['train_loss'])}{test}",
            end="",
            file=err,
            flush=True,
        )

    try:
        result = train(
            graph,
            epochs=args.epochs,
            optimizer=args.optimizer,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            seed=args.seed,
            on_epoch=progress,
        )
    except StepgradError as exc:
        print(f"\nstepgrad train: {exc}", file=err)
        return 2
    print(file=err)
    history = result["history"]
    if args.json:
        summary = {k: v for k, v in result.items() if k not in ("graph", "params")}
        summary["spec"] = result["graph"].to_spec()
        from stepgrad.app.jsonio import dumps

        print(dumps(summary), file=out)
        return 0
    epochs = history["epoch"]
    marks = sorted({0, len(epochs) // 4, len(epochs) // 2, 3 * len(epochs) // 4, len(epochs) - 1})
    print(
        f"{graph.name}: {result['optimizer']}, {result['steps']} steps in "
        f"{result['seconds']:.2f} s ({result['us_per_step']:.1f} us per step)",
        file=out,
    )
    print(f"{'epoch':>7} {'train loss':>12} {'test loss':>12}", file=out)
    for i in marks:
        print(
            f"{epochs[i]:>7} {_fmt(history['train_loss'][i]):>12} "
            f"{_fmt(history['test_loss'][i]):>12}",
            file=out,
        )
    final = result["final"]
    print(f"final: train {_fmt(final['train_loss'])}, test {_fmt(final['test_loss'])}", file=out)
    return 0
