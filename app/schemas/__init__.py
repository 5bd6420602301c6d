"""Every request and response body of the REST API, with examples for /openapi.json: one
module per resource (common, graphs, network, editing, course, lessons, quiz, rooms), each name
re-exported here.

Request models are strict (no type coercion) and forbid unknown fields. Tensor values are
plain JSON (numbers or nested lists) checked by the engine, so the models describe them
with a JSON schema but do not walk them.

Responses are rendered by `live.state_json` straight to JSON for speed; these models document
them, and the tests validate every response against them.
"""

from __future__ import annotations

from stepgrad.app.schemas.common import (
    FLOAT_OUT_SCHEMA as FLOAT_OUT_SCHEMA,
)
from stepgrad.app.schemas.common import (
    NON_FINITE as NON_FINITE,
)
from stepgrad.app.schemas.common import (
    SUMMARY_SCHEMA as SUMMARY_SCHEMA,
)
from stepgrad.app.schemas.common import (
    TENSOR_IN_SCHEMA as TENSOR_IN_SCHEMA,
)
from stepgrad.app.schemas.common import (
    TENSOR_OUT_SCHEMA as TENSOR_OUT_SCHEMA,
)
from stepgrad.app.schemas.common import (
    Finite as Finite,
)
from stepgrad.app.schemas.common import (
    FloatOut as FloatOut,
)
from stepgrad.app.schemas.common import (
    PositiveFloat as PositiveFloat,
)
from stepgrad.app.schemas.common import (
    Request as Request,
)
from stepgrad.app.schemas.common import (
    TensorIn as TensorIn,
)
from stepgrad.app.schemas.common import (
    TensorOut as TensorOut,
)
from stepgrad.app.schemas.course import (
    BaselineReport as BaselineReport,
)
from stepgrad.app.schemas.course import (
    DatasetInfoOut as DatasetInfoOut,
)
from stepgrad.app.schemas.course import (
    DatasetParam as DatasetParam,
)
from stepgrad.app.schemas.course import (
    DatasetView as DatasetView,
)
from stepgrad.app.schemas.course import (
    GraphOptions as GraphOptions,
)
from stepgrad.app.schemas.course import (
    KahnStep as KahnStep,
)
from stepgrad.app.schemas.course import (
    KnnCost as KnnCost,
)
from stepgrad.app.schemas.course import (
    KnnRequest as KnnRequest,
)
from stepgrad.app.schemas.course import (
    KnnResult as KnnResult,
)
from stepgrad.app.schemas.course import (
    RaceRequest as RaceRequest,
)
from stepgrad.app.schemas.course import (
    RaceResult as RaceResult,
)
from stepgrad.app.schemas.course import (
    Scatter as Scatter,
)
from stepgrad.app.schemas.course import (
    Stuck as Stuck,
)
from stepgrad.app.schemas.course import (
    ToposortRequest as ToposortRequest,
)
from stepgrad.app.schemas.course import (
    ToposortResult as ToposortResult,
)
from stepgrad.app.schemas.editing import (
    Position as Position,
)
from stepgrad.app.schemas.editing import (
    PositionsUpdate as PositionsUpdate,
)
from stepgrad.app.schemas.editing import (
    SpecCheck as SpecCheck,
)
from stepgrad.app.schemas.editing import (
    SpecReplace as SpecReplace,
)
from stepgrad.app.schemas.graphs import (
    AUTH_RESPONSES as AUTH_RESPONSES,
)
from stepgrad.app.schemas.graphs import (
    CONFLICT as CONFLICT,
)
from stepgrad.app.schemas.graphs import (
    ERROR_RESPONSES as ERROR_RESPONSES,
)
from stepgrad.app.schemas.graphs import (
    NOT_FOUND as NOT_FOUND,
)
from stepgrad.app.schemas.graphs import (
    SEED_SPEC as SEED_SPEC,
)
from stepgrad.app.schemas.graphs import (
    Contribution as Contribution,
)
from stepgrad.app.schemas.graphs import (
    CreatedGraph as CreatedGraph,
)
from stepgrad.app.schemas.graphs import (
    Cursor as Cursor,
)
from stepgrad.app.schemas.graphs import (
    EdgePatch as EdgePatch,
)
from stepgrad.app.schemas.graphs import (
    EdgeState as EdgeState,
)
from stepgrad.app.schemas.graphs import (
    ErrorResponse as ErrorResponse,
)
from stepgrad.app.schemas.graphs import (
    Event as Event,
)
from stepgrad.app.schemas.graphs import (
    Example as Example,
)
from stepgrad.app.schemas.graphs import (
    ExampleInfo as ExampleInfo,
)
from stepgrad.app.schemas.graphs import (
    GradcheckNode as GradcheckNode,
)
from stepgrad.app.schemas.graphs import (
    GradcheckReport as GradcheckReport,
)
from stepgrad.app.schemas.graphs import (
    GradcheckVerdict as GradcheckVerdict,
)
from stepgrad.app.schemas.graphs import (
    GraphCreate as GraphCreate,
)
from stepgrad.app.schemas.graphs import (
    GraphPatch as GraphPatch,
)
from stepgrad.app.schemas.graphs import (
    GraphState as GraphState,
)
from stepgrad.app.schemas.graphs import (
    Health as Health,
)
from stepgrad.app.schemas.graphs import (
    History as History,
)
from stepgrad.app.schemas.graphs import (
    LastStep as LastStep,
)
from stepgrad.app.schemas.graphs import (
    NodePatch as NodePatch,
)
from stepgrad.app.schemas.graphs import (
    NodeSpec as NodeSpec,
)
from stepgrad.app.schemas.graphs import (
    NodeState as NodeState,
)
from stepgrad.app.schemas.graphs import (
    OpInfo as OpInfo,
)
from stepgrad.app.schemas.graphs import (
    OptimizerConfig as OptimizerConfig,
)
from stepgrad.app.schemas.graphs import (
    OptimizerName as OptimizerName,
)
from stepgrad.app.schemas.graphs import (
    Predictions as Predictions,
)
from stepgrad.app.schemas.graphs import (
    Progress as Progress,
)
from stepgrad.app.schemas.graphs import (
    SeekRequest as SeekRequest,
)
from stepgrad.app.schemas.graphs import (
    ServerInfo as ServerInfo,
)
from stepgrad.app.schemas.graphs import (
    StepRequest as StepRequest,
)
from stepgrad.app.schemas.graphs import (
    TrainingSummary as TrainingSummary,
)
from stepgrad.app.schemas.graphs import (
    TrainRequest as TrainRequest,
)
from stepgrad.app.schemas.graphs import (
    TrainResponse as TrainResponse,
)
from stepgrad.app.schemas.graphs import (
    TrainResult as TrainResult,
)
from stepgrad.app.schemas.graphs import (
    UpdateRequest as UpdateRequest,
)
from stepgrad.app.schemas.graphs import (
    ValuesUpdate as ValuesUpdate,
)
from stepgrad.app.schemas.lessons import (
    Lesson as Lesson,
)
from stepgrad.app.schemas.lessons import (
    LessonCurve as LessonCurve,
)
from stepgrad.app.schemas.lessons import (
    LessonInfo as LessonInfo,
)
from stepgrad.app.schemas.lessons import (
    LessonKnn as LessonKnn,
)
from stepgrad.app.schemas.lessons import (
    LessonQuiz as LessonQuiz,
)
from stepgrad.app.schemas.lessons import (
    LessonStep as LessonStep,
)
from stepgrad.app.schemas.lessons import (
    LessonToposort as LessonToposort,
)
from stepgrad.app.schemas.lessons import (
    LessonTrain as LessonTrain,
)
from stepgrad.app.schemas.lessons import (
    Text as Text,
)
from stepgrad.app.schemas.network import NetworkSpec as NetworkSpec
from stepgrad.app.schemas.quiz import (
    CLIENT_ID as CLIENT_ID,
)
from stepgrad.app.schemas.quiz import (
    CLIENT_ID_PATTERN as CLIENT_ID_PATTERN,
)
from stepgrad.app.schemas.quiz import (
    Focus as Focus,
)
from stepgrad.app.schemas.quiz import (
    FocusUpdate as FocusUpdate,
)
from stepgrad.app.schemas.quiz import (
    QuizAnswer as QuizAnswer,
)
from stepgrad.app.schemas.quiz import (
    QuizAnswered as QuizAnswered,
)
from stepgrad.app.schemas.quiz import (
    QuizHistogram as QuizHistogram,
)
from stepgrad.app.schemas.quiz import (
    QuizOpen as QuizOpen,
)
from stepgrad.app.schemas.quiz import (
    QuizView as QuizView,
)
from stepgrad.app.schemas.quiz import (
    Viewport as Viewport,
)
from stepgrad.app.schemas.rooms import (
    CreatedRoom as CreatedRoom,
)
from stepgrad.app.schemas.rooms import (
    RoomCreate as RoomCreate,
)
from stepgrad.app.schemas.rooms import (
    RoomState as RoomState,
)
from stepgrad.app.schemas.rooms import (
    RoomUpdate as RoomUpdate,
)
