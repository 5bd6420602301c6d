"""The engine's own exceptions. Messages are whole sentences that name the node or name at fault."""


class StepgradError(Exception):
    """Base class: anything a client sent that the engine cannot accept."""


class TensorError(StepgradError):
    """A value is not a finite float tensor of an allowed size."""


class GraphError(StepgradError):
    """The graph spec is malformed: unknown op, missing input, bad id, wrong arity..."""


class CycleError(GraphError):
    """The graph has a cycle; `cycle` lists its nodes in order."""

    def __init__(self, message: str, cycle: list[str]):
        super().__init__(message)
        self.cycle = cycle


class ShapeError(StepgradError):
    """Input shapes do not fit the op."""


class PhaseError(StepgradError):
    """The requested step does not fit the timeline (e.g. backward before forward is done)."""


class LimitError(StepgradError):
    """A documented size limit was exceeded."""


class ParseError(StepgradError):
    """An expression could not be parsed; carries its line and column (1-based)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(where + message)
        self.line = line
        self.column = column
