"""The command line: `stepgrad show` creates a graph on a running server."""

from __future__ import annotations

import json

import pytest

from stepgrad.app.cli.main import build_parser, create_body, main


def live(live_server):
    from stepgrad.app.main import create_app
    from stepgrad.app.settings import Settings

    app = create_app(Settings(db=":memory:"))
    return app, live_server(app)


def test_show_a_spec_file(live_server, tmp_path, capsys):
    app, base = live(live_server)
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"example": "chain_rule"}))
    assert main(["show", str(path), "--server", base, "--name", "mine"]) == 0
    lines = capsys.readouterr().out.splitlines()
    graph_id = lines[0].rsplit("/", 1)[1]
    assert lines[0] == f"{base}/g/{graph_id}"
    assert lines[1] == f"state: {base}/api/graphs/{graph_id}"
    assert lines[2].startswith("edit token: ")
    session = app.state.services.graphs._sessions[graph_id]
    assert session.snapshot.graph.name == "mine"
    assert session.check_token(lines[2].split(": ", 1)[1])


def test_show_an_expression_file(live_server, tmp_path, capsys):
    app, base = live(live_server)
    path = tmp_path / "neuron.txt"
    path.write_text("h = sigmoid(k*x + b)\nloss = mse(y, h)\n")
    args = ["show", str(path), "--server", base, "--input", "x=3.0", "--input", "y=0.71",
            "--param", "k=0.09", "--param", "b=0.5"]  # fmt: skip
    assert main(args) == 0
    graph_id = capsys.readouterr().out.splitlines()[0].rsplit("/", 1)[1]
    assert app.state.services.graphs._sessions[graph_id].snapshot.graph.params == ["k", "b"]


def test_show_reports_refusals_and_unreachable_servers(live_server, tmp_path, capsys):
    _, base = live(live_server)
    path = tmp_path / "bad.txt"
    path.write_text("loss = (x")
    assert main(["show", str(path), "--server", base, "--input", "x=1"]) == 1
    assert "refused the graph (422)" in capsys.readouterr().err
    assert main(["show", str(path), "--server", "http://127.0.0.1:9"]) == 1
    assert "cannot reach" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "missing"), "--server", base]) == 2
    assert main(["show", str(path), "--server", "file:///etc/passwd"]) == 2
    with pytest.raises(SystemExit):
        main(["show", str(path), "--input", "x"])


def test_create_body_merges_values_into_an_expression_body(tmp_path):
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"expression": "loss = x", "inputs": {"x": 1.0}}))
    assert create_body(path, {"y": 2.0}, {"k": 3.0}, None) == {
        "expression": "loss = x", "inputs": {"x": 1.0, "y": 2.0}, "params": {"k": 3.0},
    }  # fmt: skip


def test_serve_options():
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000"])
    assert args.host == "0.0.0.0" and args.port == 9000 and args.db is None
