"""Graphs: creating, stepping, training and reading them (contract v1 and v1.1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stepgrad.app.schemas.common import (
    Finite,
    FloatOut,
    PositiveFloat,
    Request,
    TensorIn,
    TensorOut,
)
from stepgrad.app.schemas.network import NetworkSpec

# ---- requests ---------------------------------------------------------------------------

SEED_SPEC: dict[str, Any] = {
    "name": "seed example",
    "nodes": [
        {"id": "x", "op": "input", "value": 3.0},
        {"id": "y", "op": "input", "value": 0.71},
        {"id": "k", "op": "param", "value": 0.09},
        {"id": "b", "op": "param", "value": 0.5},
        {"id": "linear", "op": "linear", "inputs": ["x", "k", "b"]},
        {"id": "sigmoid", "op": "sigmoid", "inputs": ["linear"]},
        {"id": "loss", "op": "mse", "inputs": ["y", "sigmoid"]},
    ],
}


class NodeSpec(Request):
    """One node of a graph spec. Leaves (`input`, `param`, `const`) take a `value` (or an
    input a dataset `bind`); other ops take `inputs` and optional `attrs`."""

    id: str = Field(
        description="Identifier-like: [A-Za-z_][A-Za-z0-9_]*, at most 64 characters.",
        examples=["linear"],
    )
    op: str = Field(description="An op name from GET /api/ops.", examples=["linear"])
    inputs: list[str] | None = Field(None, description="Input node ids, in order.")
    attrs: dict[str, Any] | None = Field(None, description='Op attributes, e.g. {"axis": 0}.')
    value: TensorIn | None = Field(None, description="A leaf's value.")
    label: str | None = Field(None, description="Text shown instead of the id.")
    bind: dict[str, Any] | None = Field(
        None, description="An input fed from a dataset instead of a value (see docs/REST.md)."
    )
    x: Finite | None = Field(
        None, description="A position placed by hand (with `y`): the layout keeps it."
    )
    y: Finite | None = Field(None, description="See `x`.")


class GraphCreate(Request):
    """Exactly one of: a spec (`nodes`, with `output` optional), an `expression` (with
    `inputs` and `params`), or an `example` id. `name` applies to all three."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                SEED_SPEC,
                {
                    "expression": "h = sigmoid(k*x + b)\nloss = mse(y, h)",
                    "inputs": {"x": 3.0, "y": 0.71},
                    "params": {"k": 0.09, "b": 0.5},
                },
                {"example": "seed"},
            ]
        }
    )

    name: str | None = Field(None, max_length=200, description="Free text, shown as text.")
    nodes: list[NodeSpec] | None = Field(None, description="The graph spec's nodes.")
    output: str | None = Field(
        None, description="The output node; by default the one node that feeds nothing."
    )
    expression: str | None = Field(
        None, description="Statements such as `loss = mse(y, sigmoid(k*x + b))`."
    )
    inputs: dict[str, TensorIn] | None = Field(
        None, description="Expression inputs: name -> value."
    )
    params: dict[str, TensorIn] | None = Field(
        None, description="Expression params (trained): name -> value."
    )
    example: str | None = Field(None, description="An id from GET /api/examples.")
    network: NetworkSpec | None = Field(
        None, description="A fully connected network built from layer sizes (see NetworkSpec)."
    )
    source: dict[str, Any] | None = Field(
        None,
        description="With nodes: the `source` an export carries (what made the graph), so "
        "an export round-trips. PUT .../spec keeps it only while the nodes, ops and edges "
        "stay those of the graph it replaces (it describes a structure).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> GraphCreate:
        given = [
            k for k in ("nodes", "expression", "example", "network") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of nodes (a spec), expression, example or network"
                + (f"; got {', '.join(given)}" if given else "")
            )
        if given != ["expression"] and (self.inputs is not None or self.params is not None):
            raise ValueError("inputs and params go with an expression only")
        if given != ["nodes"] and self.output is not None:
            raise ValueError("output goes with nodes only")
        if given != ["nodes"] and self.source is not None:
            raise ValueError("source goes with nodes only")
        return self


class ValuesUpdate(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"values": {"x": 2.0}}]})

    values: dict[str, TensorIn] = Field(description="Leaf node id -> new value.")


class StepRequest(Request):
    """`{"steps": n}` (default 1) or `{"all": true}` (to the end of the pass; `all`
    wins over `steps`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"steps": 1}, {"all": True}]})

    steps: int = Field(1, ge=1, description="How many nodes to visit (capped at the pass end).")
    all: bool = Field(False, description="Run to the end of the pass.")


class SeekRequest(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"position": 7}]})

    position: int = Field(ge=0, description="Steps done: 0..2N for N nodes.")


OptimizerName = Literal["sgd", "momentum", "adam"]


class UpdateRequest(Request):
    """One descent step on every param from the current gradients. The graph keeps its
    optimizer between calls (momentum and Adam state carry over) while the optimizer and
    its options stay the same; a new `learning_rate` alone keeps the state."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"learning_rate": 0.1},
                {"learning_rate": 0.05, "optimizer": "momentum", "options": {"momentum": 0.9}},
            ]
        }
    )

    learning_rate: PositiveFloat | None = Field(
        None, description="Default: the graph's current one, else the optimizer's default."
    )
    optimizer: OptimizerName | None = Field(
        None, description="Default: the graph's current optimizer, else sgd."
    )
    options: dict[str, Finite] | None = Field(
        None, description="momentum: {momentum}; adam: {beta1, beta2, eps}."
    )


class TrainRequest(Request):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"epochs": 100, "learning_rate": 0.5, "optimizer": "sgd"},
                {"epochs": 20, "learning_rate": 0.01, "optimizer": "adam", "batch_size": 32},
            ]
        }
    )

    epochs: int = Field(10, ge=1, description="Passes over the training data.")
    learning_rate: PositiveFloat = 0.01
    optimizer: Literal["sgd", "momentum", "adam", "random_search"] = "sgd"
    options: dict[str, Finite] | None = Field(
        None,
        description="momentum: {momentum}; adam: {beta1, beta2, eps}; random_search: {low, high}.",
    )
    batch_size: int | None = Field(
        None, ge=1, description="Rows per step for dataset-bound graphs (default: the binding's)."
    )
    seed: int = Field(0, ge=0, lt=2**32, description="Shuffling and random-search seed.")


# ---- responses --------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    """`detail` is a sentence (or FastAPI's list of validation errors)."""

    detail: str | list[dict[str, Any]]
    line: int | None = Field(None, description="Expression errors: 1-based line.")
    column: int | None = Field(None, description="Expression errors: 1-based column.")
    cycle: list[str] | None = Field(None, description="Cycle errors: the nodes of the cycle.")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class ServerInfo(BaseModel):
    listen: str = Field(
        description="The host:port the server listens on.", examples=["0.0.0.0:8000"]
    )
    loopback_only: bool = Field(
        description="True when only this computer can connect (the server listens on a "
        "loopback address): students' devices cannot open any link."
    )
    share_urls: list[str] = Field(
        description="Base URLs other machines on the network can open, best first; "
        "append a page's path (`/g/{id}`).",
        examples=[["http://192.168.1.23:8000"]],
    )


class OpInfo(BaseModel):
    name: str
    arity: int
    leaf: bool
    trainable: bool
    description: str
    formula: str = Field(description="The op as a formula.")
    derivatives: list[str] = Field(description="The local derivative for each input.")
    attrs: dict[str, Any] = Field(description="Attributes the op takes, with defaults.")
    description_zh: str = Field("", description="The description in Simplified Chinese.")
    formula_zh: str = Field("", description="The formula, its words in Chinese.")
    derivatives_zh: list[str] = Field(
        default_factory=list, description="The local derivatives, their words in Chinese."
    )


class ExampleInfo(BaseModel):
    id: str
    title: str
    description: str
    kind: Literal["example", "lesson"]
    title_zh: str | None = Field(None, description="The title in Simplified Chinese.")
    description_zh: str | None = Field(None, description="The description in Chinese.")
    train: dict[str, Any] | None = Field(
        None,
        description="The optimizer and learning rate that train this example; a graph "
        "created from it starts with them as its optimizer.",
    )


class Example(ExampleInfo):
    spec: dict[str, Any]


class LastStep(BaseModel):
    phase: Literal["forward", "backward"]
    node: str = Field(description="The node the server visited in that step.")


class Cursor(BaseModel):
    position: int = Field(description="Steps done, 0..total.")
    phase: Literal["forward", "backward", "done"]
    node: str | None = Field(description="The node the next step visits (null at the end).")
    total: int = Field(
        description="N forward steps plus the backward steps: 2N for N nodes, or N plus the "
        "target and its ancestors when a target is chosen (PUT /options)."
    )
    last: LastStep | None = Field(
        description="The step just done (contract v1.2): null at position 0 and after a reset. "
        "With a backward target it names the node backward really visited; clients read it "
        "and never recompute the timeline."
    )


class NodeState(BaseModel):
    id: str
    op: str
    label: str
    inputs: list[str]
    trainable: bool
    shape: list[int]
    value: TensorOut
    grad: TensorOut
    layer: int = Field(description="Topological generation: 0 for leaves.")
    x: float
    y: float
    attrs: dict[str, Any] = Field(description="The op's attributes (with defaults).")
    bind: dict[str, Any] | None = Field(description="An input's dataset binding, if any.")
    fed: TensorOut = Field(
        None,
        description="A leaf's value before its forward step has shown it (null otherwise, "
        "and for computed nodes).",
    )
    pinned: bool = Field(
        False, description="Placed by hand (x, y kept by the layout; POST /layout frees it)."
    )


class EdgeState(BaseModel):
    source: str
    target: str
    slot: int = Field(description="The input position at the target.")
    grad: TensorOut = Field(description="The contribution sent back along this edge.")
    local: FloatOut | None = Field(
        None,
        description="d target / d source once backward has passed, where both are scalars: "
        "the factor this edge contributes to the chain rule.",
    )
    points: list[list[float]] = Field(
        description="Waypoints [x, y] between source and target for an edge spanning "
        "several layers (draw through them); empty otherwise."
    )


class Contribution(BaseModel):
    input: str
    slot: int
    grad: TensorOut = Field(description="What this step sent along the edge.")
    total: TensorOut = Field(description="The input's gradient after adding it.")
    local: FloatOut | None = Field(
        None, description="d node / d input where both are scalars (the chain-rule factor)."
    )


class Event(BaseModel):
    """What one step did. forward: `value`; backward: `grad` and one `contributions`
    entry per input edge; update: the new `params`."""

    phase: Literal["forward", "backward", "update"]
    position: int
    node: str | None
    value: TensorOut = None
    grad: TensorOut = None
    contributions: list[Contribution] | None = None
    params: dict[str, TensorOut] | None = None


class OptimizerConfig(BaseModel):
    name: str
    learning_rate: float
    momentum: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    eps: float | None = None


class TrainingSummary(BaseModel):
    optimizer: str
    learning_rate: float
    epochs: int
    steps: int
    seconds: float
    final: dict[str, FloatOut | None]


class GraphState(BaseModel):
    id: str
    name: str
    output: str
    version: int = Field(description="Increases with every change.")
    created: str = Field(description="ISO 8601, UTC.")
    order: list[str] = Field(
        description="Topological order (the forward steps): the graph's own, or one set "
        "with PUT /options."
    )
    cursor: Cursor
    fanout_bug: bool = Field(
        False,
        description="True while backward overwrites gradients instead of adding them up "
        "(the teaching toggle of PUT /options).",
    )
    nodes: list[NodeState]
    edges: list[EdgeState]
    events: list[Event] = Field(description="What the call that produced this state did.")
    params: list[str] = Field(description="Trainable node ids.")
    optimizer: OptimizerConfig | None = Field(description="The optimizer `update` uses.")
    training: TrainingSummary | None = Field(description="The last training run, if any.")
    forked_from: str | None
    target: str | None = Field(
        None,
        description="The node whose gradient backward computes (PUT /options); null: the "
        "output. Only the target and its ancestors get a gradient.",
    )
    gradient_of: str | None = Field(
        None,
        description="What the gradients are of: the target's (or output's) id, or `sum(id)` "
        "when it is a tensor (backward seeds it with ones, as PyTorch's "
        "`t.backward(torch.ones_like(t))`).",
    )
    source: dict[str, Any] | None = Field(
        None,
        description="What made the graph, for an editor to reopen: `{expression, inputs, "
        "params}` or `{network}`; null for a spec.",
    )


class NodePatch(BaseModel):
    """A node of a patch: its id and the fields that changed (each replaces the old whole)."""

    id: str
    op: str | None = None
    label: str | None = None
    inputs: list[str] | None = None
    trainable: bool | None = None
    shape: list[int] | None = None
    value: TensorOut = None
    grad: TensorOut = None
    layer: int | None = None
    x: float | None = None
    y: float | None = None
    attrs: dict[str, Any] | None = None
    bind: dict[str, Any] | None = None
    fed: TensorOut = None
    pinned: bool | None = None


class EdgePatch(BaseModel):
    """An edge of a patch, named by its ends and slot, with the fields that changed."""

    source: str
    target: str
    slot: int
    grad: TensorOut = None
    local: FloatOut | None = None
    points: list[list[float]] | None = None


class GraphPatch(BaseModel):
    """What changed from `base_version` to `version` (contract v1.1). Apply it to the state
    at `base_version`: each top-level field listed replaces the old one; each node (by `id`)
    and edge (by `source`, `target`, `slot`) listed has the fields listed replaced whole.
    The result is the state at `version` (GET /api/graphs/{id}), with `events` those of the
    change. Layout fields (`layer`, `x`, `y`, `points`) appear only when the layout changed.
    With `"full": true` the body is instead the whole state, to be used as it is."""

    id: str
    version: int
    base_version: int = Field(description="The version this patch applies to.")
    full: bool = Field(
        False,
        description="True when this is the whole state rather than a patch (the changes since "
        "base_version are no longer known, or the graph's structure changed).",
    )
    cursor: Cursor
    nodes: list[NodePatch]
    edges: list[EdgePatch]
    events: list[Event] = Field(
        description="What the call did (none for GET ?since=V, and on a resync)."
    )
    name: str | None = None
    output: str | None = None
    created: str | None = None
    order: list[str] | None = None
    fanout_bug: bool | None = None
    params: list[str] | None = None
    optimizer: OptimizerConfig | None = None
    training: TrainingSummary | None = None
    forked_from: str | None = None
    target: str | None = None
    gradient_of: str | None = None
    source: dict[str, Any] | None = None


class CreatedGraph(GraphState):
    edit_token: str = Field(
        description="Send as `Authorization: Bearer <edit_token>` to change the graph. "
        "Returned only here: keep it."
    )


class History(BaseModel):
    epoch: list[int]
    train_loss: list[FloatOut]
    test_loss: list[FloatOut | None]
    batch_loss_mean: list[FloatOut] | None = None


class Predictions(BaseModel):
    part: str = Field(description="Which rows: test, or train when there is no test part.")
    y_true: list[FloatOut]
    y_pred: list[FloatOut]


class TrainResult(BaseModel):
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int | None
    seed: int
    steps: int
    seconds: float
    train_seconds: float | None = None
    us_per_step: FloatOut | None = None
    history: History
    final: dict[str, FloatOut | None] = Field(description="train_loss and test_loss.")
    predictions: Predictions | None = Field(description="For plotting truth against prediction.")
    params: dict[str, TensorOut] = Field(description="The trained parameter values.")


class TrainResponse(TrainResult):
    state: GraphState | GraphPatch = Field(
        description="The graph with the trained params (timeline reset); with ?return=patch, "
        "the patch from the version before."
    )


class Progress(BaseModel):
    """The `progress` event of the event stream, after an epoch of training."""

    epoch: int
    epochs: int
    train_loss: FloatOut
    test_loss: FloatOut | None
    steps: int
    seconds: float


GradcheckVerdict = Literal["agree", "disagree", "inconclusive"]


class GradcheckNode(BaseModel):
    node: str
    op: str
    checked: int = Field(description="Elements checked (a sample for large tensors).")
    max_abs_error: FloatOut
    max_rel_error: FloatOut
    verdict: GradcheckVerdict
    analytic: TensorOut
    numeric: TensorOut
    reason: str = Field("", description="Why this node's verdict is not agree (may be empty).")


class GradcheckReport(BaseModel):
    eps: float
    max_rel_error: FloatOut
    verdict: GradcheckVerdict = Field(
        description="agree, disagree, or inconclusive where central differences cannot "
        "resolve the gradients (a huge or non-finite output)."
    )
    reason: str = Field(description="Why, when the verdict is not agree (may be empty).")
    nodes: list[GradcheckNode]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed request"},
    413: {"model": ErrorResponse, "description": "Over a size limit"},
    415: {"model": ErrorResponse, "description": "A request body that is not JSON"},
    422: {"model": ErrorResponse, "description": "Invalid request or graph"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such graph"}
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No edit token"},
    403: {"model": ErrorResponse, "description": "Wrong edit token"},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "Not possible at this point"}
}
