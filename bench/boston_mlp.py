"""The course's race: the Boston network trained by the engine, by PyTorch and by plain numpy.

Same network (13 -> hidden sigmoid -> 1 linear, MSE, float64), same initial weights,
same mini-batch order, plain SGD at learning rate 0.01: (a) the engine through the
graph, (b) PyTorch eager on the CPU with one thread, (c) the same arithmetic written by
hand in numpy (the floor); see `engine/race.py`. Because the arithmetic is the same, the
three final MSEs must agree to 1e-6 relative; the script exits non-zero otherwise.

    python bench/boston_mlp.py [--repeats 3]

The last line is one JSON object keyed by configuration.
"""

from __future__ import annotations

import argparse
import json
import sys

from stepgrad.engine.race import boston_split, import_torch, initial_weights, race, train_torch

# name: (hidden units, batch size, epochs)
CONFIGS = {
    "batch32": (10, 32, 100),
    "batch1": (10, 1, 10),
    "batch506": (10, 506, 1000),
    "hidden256": (256, 32, 100),
}


def _fmt(value, spec: str) -> str:
    return format(value, spec) if value is not None else "-".rjust(len(format(0.0, spec)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch = import_torch()
    if torch is None:
        print("torch is not installed: pip install 'stepgrad[bench]'", file=sys.stderr)
    else:
        # warm up: the first calls pay for PyTorch's lazy initialisation
        train_torch(torch, boston_split(), initial_weights(), 32, 3)
    print(
        f"{'config':10} {'engine us':>10} {'torch us':>9} {'numpy us':>9} {'eng/torch':>9} "
        f"{'eng/numpy':>9} {'test mse eng':>13} {'torch':>10} {'numpy':>10}"
    )
    results = {}
    for name, (hidden, batch, epochs) in CONFIGS.items():
        row = race(hidden, batch, epochs, repeats=args.repeats, torch=torch)
        results[name] = row
        print(
            f"{name:10} {row['engine_us']:10.1f} {_fmt(row['torch_us'], '9.1f')} "
            f"{row['numpy_us']:9.1f} {_fmt(row['engine_over_torch'], '9.2f')} "
            f"{row['engine_over_numpy']:9.2f} {row['mse_engine']:13.6f} "
            f"{_fmt(row['mse_torch'], '10.6f')} {row['mse_numpy']:10.6f}"
        )
    print(json.dumps(results))
    failed = [name for name, row in results.items() if not row["agree"]]
    if failed:
        print(f"the three trainings did not agree on: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
