"""`stepgrad train`: headless training from a spec file."""

from __future__ import annotations

import argparse
import io
import json

from stepgrad.app.cli.train import add_parser, run
from tests.helpers import boston_spec


def _args(*argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["train", *argv])


def test_trains_a_spec_file_and_prints_the_curve(tmp_path):
    path = tmp_path / "boston.json"
    path.write_text(json.dumps(boston_spec()))
    out, err = io.StringIO(), io.StringIO()
    assert run(_args(str(path), "--epochs", "20"), out, err) == 0
    text = out.getvalue()
    assert "260 steps" in text  # 20 epochs x 13 batches of 32 from 405 training rows
    assert "final: train" in text
    final_test = float(text.split("test ")[-1])
    assert final_test < 30
    assert "epoch 20/20" in err.getvalue() and "#" * 30 in err.getvalue()


def test_json_output_round_trips_the_trained_spec(tmp_path):
    path = tmp_path / "boston.json"
    path.write_text(json.dumps(boston_spec()))
    out = io.StringIO()
    assert run(_args(str(path), "--epochs", "2", "--json", "--optimizer", "adam"), out,
               io.StringIO()) == 0  # fmt: skip
    result = json.loads(out.getvalue())
    assert result["optimizer"] == "adam" and len(result["history"]["train_loss"]) == 2
    assert result["spec"]["nodes"][0]["bind"]["dataset"] == "boston"


def test_errors_are_sentences_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    err = io.StringIO()
    assert run(_args(str(bad)), io.StringIO(), err) == 2
    assert "cannot read" in err.getvalue()
    cyclic = tmp_path / "cycle.json"
    cyclic.write_text(json.dumps({"nodes": [{"id": "a", "op": "neg", "inputs": ["a"]}]}))
    err = io.StringIO()
    assert run(_args(str(cyclic)), io.StringIO(), err) == 2
    assert "cycle" in err.getvalue()


def test_the_stepgrad_command_trains_an_example(capsys):
    from stepgrad.app.cli.main import main

    assert main(["train", "seed", "--epochs", "5", "--lr", "1.0"]) == 0
    out = capsys.readouterr().out
    assert "sgd, 5 steps" in out.splitlines()[0]
    assert "final: train" in out
