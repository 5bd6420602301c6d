"""The expression language: `h = sigmoid(k*x + b)` statements turned into a graph spec.

The text is parsed with Python's `ast` module and the tree is walked against a whitelist:
names, int/float literals, `+ - * / ** @`, unary minus and plus, parentheses, calls to
registered ops, and `name = expr` statements (the last may be a bare expression). Nothing
is ever evaluated, compiled or constant-folded (apart from the sign of a literal such as
`-1`): numbers become float64 at once and every operator becomes a node.

Limits are checked before anything deep happens: the length first, then the bracket
nesting (a plain scan of the text), then Python's parser (its own recursion and digit
limits become ParseError), then the expression depth (an explicit stack). The tree is
converted to nodes with an explicit stack too, so no input can reach Python's recursion
limit here.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from stepgrad.engine.errors import GraphError, ParseError
from stepgrad.engine.graph import MAX_LABEL_LENGTH, MAX_NAME_LENGTH, check_id
from stepgrad.engine.ops import OPS


@dataclass(frozen=True)
class ParseLimits:
    max_length: int = 10_000  # characters of the whole program
    max_depth: int = 64  # bracket nesting, and nesting of the expression tree
    max_nodes: int = 2_000  # nodes in the generated spec, leaves included


BINARY_OPS: dict[type, str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}

# what a rejected operator looks like in the source, for the message
_OPERATOR_SYMBOLS: dict[str, str] = {
    "FloorDiv": "//",
    "Mod": "%",
    "LShift": "<<",
    "RShift": ">>",
    "BitOr": "|",
    "BitXor": "^",
    "BitAnd": "&",
    "Not": "not",
    "Invert": "~",
    "Add": "+",
    "Sub": "-",
    "Mult": "*",
    "Div": "/",
    "Pow": "**",
    "MatMult": "@",
}

# rejected expressions, by ast class name (names, not classes: they vary across versions)
_EXPRESSION_NOT_ALLOWED: dict[str, str] = {
    "Attribute": "attribute access is not allowed",
    "Subscript": "subscripts (indexing and slicing) are not allowed",
    "Slice": "subscripts (indexing and slicing) are not allowed",
    "Lambda": "lambda is not allowed",
    "ListComp": "comprehensions are not allowed",
    "SetComp": "comprehensions are not allowed",
    "DictComp": "comprehensions are not allowed",
    "GeneratorExp": "comprehensions are not allowed",
    "Compare": "comparisons are not allowed",
    "BoolOp": "boolean operators (and, or) are not allowed",
    "IfExp": "conditional expressions (a if c else b) are not allowed",
    "JoinedStr": "f-strings are not allowed",
    "FormattedValue": "f-strings are not allowed",
    "List": "lists are not allowed; give tensors as inputs or params",
    "Tuple": "tuples are not allowed",
    "Set": "sets are not allowed",
    "Dict": "dicts are not allowed",
    "NamedExpr": "the walrus operator := is not allowed",
    "Starred": "starred expressions (*x) are not allowed",
    "Await": "await is not allowed",
    "Yield": "yield is not allowed",
    "YieldFrom": "yield is not allowed",
}

# rejected statements, by ast class name
_STATEMENT_KEYWORDS: dict[str, str] = {
    "Import": "import",
    "ImportFrom": "from ... import",
    "FunctionDef": "def",
    "AsyncFunctionDef": "async def",
    "ClassDef": "class",
    "Return": "return",
    "Delete": "del",
    "For": "for",
    "AsyncFor": "async for",
    "While": "while",
    "If": "if",
    "With": "with",
    "AsyncWith": "async with",
    "Match": "match",
    "Raise": "raise",
    "Try": "try",
    "TryStar": "try",
    "Assert": "assert",
    "Global": "global",
    "Nonlocal": "nonlocal",
    "Pass": "pass",
    "Break": "break",
    "Continue": "continue",
    "TypeAlias": "type",
}

_OPENING = "([{"
_CLOSING = ")]}"
# the only characters the bracket scan has to look at
_SCAN_RE = re.compile(r"[()\[\]{}\n#'\"\\]")
_SPACE_AFTER_OPEN_RE = re.compile(r"([(\[{]) ")
_SPACE_BEFORE_CLOSE_RE = re.compile(r" ([)\]},])")

_EXAMPLE = "loss = mse(y, sigmoid(k*x + b))"


def functions() -> list[str]:
    """The op names that can be called in an expression (every non-leaf op)."""
    return [name for name, op in OPS.items() if not op.leaf]


def parse_expression(
    text: str,
    inputs: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    name: str = "expression",
    limits: ParseLimits | None = None,
) -> dict[str, Any]:
    """Turn a program such as `h = sigmoid(k*x + b)\\nloss = mse(y, h)` into a graph spec.

    `inputs` and `params` map names to values (numbers or nested lists, passed through as
    given); only the names the program uses become nodes. Assigned names become node ids,
    sub-expressions get generated ids (`mul_1`, `const_2`, ...) labelled with their source
    text. The output is the last statement's node. Raises ParseError (with a 1-based line
    and column where there is one) for anything outside the language or over a limit."""
    limits = limits or ParseLimits()
    if not isinstance(text, str):
        raise ParseError(f"the expression must be text, not {type(text).__name__}.")
    if len(text) > limits.max_length:
        raise ParseError(
            f"the expression has {len(text)} characters; the limit is {limits.max_length}."
        )
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        raise ParseError(f"the graph name must be text of at most {MAX_NAME_LENGTH} characters.")
    leaves = _leaf_names(inputs, params)
    # one newline convention, so that our line numbers match the parser's
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    _check_brackets(text, limits.max_depth)
    tree = _parse(text)
    return _Builder(text, leaves, limits).build(tree, name)


# ---- checks before and around ast.parse -------------------------------------------------


def _leaf_names(inputs: object, params: object) -> dict[str, tuple[str, object]]:
    """name -> (op, value) for inputs then params, in the order given."""
    leaves: dict[str, tuple[str, object]] = {}
    for kind, given in (("input", inputs), ("param", params)):
        if given is None:
            continue
        if not isinstance(given, dict):
            raise ParseError(f"{kind}s must be an object mapping names to values.")
        for key, value in given.items():
            try:
                check_id(key, f"The {kind} name")
            except GraphError as exc:
                raise ParseError(str(exc)) from None
            if key in leaves:
                raise ParseError(f"{key!r} is given both as an input and as a param.")
            leaves[key] = (kind, value)
    return leaves


def _check_brackets(text: str, max_depth: int) -> None:
    """Reject bracket nesting deeper than max_depth, before the parser sees the text.

    Comments are skipped. Inside a string (strings are rejected later anyway) brackets
    still count, as f-strings can nest expressions, but cannot close the brackets outside."""
    depth = 0
    line, line_start = 1, 0
    quote = ""  # the quote that closes the current string; "" outside strings
    outer = 0  # the depth where the current string began
    in_comment = False
    resume = 0  # positions below this were consumed already (escapes, triple quotes)
    for match in _SCAN_RE.finditer(text):
        pos = match.start()
        if pos < resume:
            continue
        char = match.group()
        if char == "\n":
            line, line_start = line + 1, pos + 1
            in_comment = False
            if quote and len(quote) == 1:  # an unterminated string: the parser reports it
                quote, depth = "", outer
            continue
        if in_comment:
            continue
        if quote:
            if char == "\\":
                if text.startswith("\n", pos + 1):
                    line, line_start = line + 1, pos + 2
                resume = pos + 2
            elif text.startswith(quote, pos):
                resume = pos + len(quote)
                quote, depth = "", outer
            elif char in _OPENING:
                depth += 1
            elif char in _CLOSING:
                depth = max(outer, depth - 1)
            else:
                continue
        elif char == "#":
            in_comment = True
        elif char in "'\"":
            quote = char * 3 if text.startswith(char * 3, pos) else char
            outer = depth
            resume = pos + len(quote)
        elif char in _OPENING:
            depth += 1
        elif char in _CLOSING:
            depth = max(0, depth - 1)
        if depth > max_depth:
            raise ParseError(
                f"brackets are nested more than {max_depth} levels deep; "
                "split the expression into several statements (name = ...).",
                line,
                pos - line_start + 1,
            )


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text, mode="exec")
    except SyntaxError as exc:
        message = (exc.msg or "invalid syntax").rstrip(".")
        if "integer string conversion" in message:
            message = "a number literal has too many digits"
        line = exc.lineno if exc.lineno else None
        column = max(exc.offset or 1, 1) if line is not None else None
        raise ParseError(f"{message}.", line, column) from None
    except (RecursionError, MemoryError):
        raise ParseError(
            "the expression is nested too deeply to parse; "
            "split it into several statements (name = ...)."
        ) from None
    except (ValueError, OverflowError) as exc:
        raise ParseError(f"the expression could not be parsed: {exc}.") from None


def _normalise(source: str) -> str:
    """Source text on one line: comments, line continuations and extra spaces removed."""
    if "\n" in source or "#" in source or "\\" in source:
        # strings are rejected, so every # starts a comment and every \ continues a line
        source = "\n".join(
            part.split("#", 1)[0].rstrip().removesuffix("\\") for part in source.split("\n")
        )
    source = " ".join(source.split())
    source = _SPACE_AFTER_OPEN_RE.sub(r"\1", source)
    return _SPACE_BEFORE_CLOSE_RE.sub(r"\1", source)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- the tree walk ----------------------------------------------------------------------


class _Builder:
    """Walks one parsed program (explicit stacks only) and collects the spec's nodes."""

    def __init__(self, text: str, leaves: dict[str, tuple[str, object]], limits: ParseLimits):
        self.lines = text.split("\n")
        self._encoded: dict[int, bytes] = {}
        self.leaves = leaves
        self.limits = limits
        self.leaf_nodes: dict[str, dict[str, Any]] = {}  # inputs and params the program uses
        self.nodes: dict[
            str, dict[str, Any]
        ] = {}  # computed nodes and constants, in creation order
        # assigned name -> (its node id, or None when it could not be built; target node)
        self.defined: dict[str, tuple[str | None, ast.Name]] = {}
        self.assigned_at: dict[str, int] = {}  # name -> line of its assignment
        self.missing: dict[str, tuple[int, int]] = {}  # unknown name -> first use
        self.reserved: set[str] = set(leaves)  # ids a generated id must not take
        self.counters: dict[str, int] = {}
        self.count = 0

    # ---- positions and text -------------------------------------------------------------

    def _line_bytes(self, index: int) -> bytes:
        if index not in self._encoded:
            self._encoded[index] = self.lines[index].encode("utf-8")
        return self._encoded[index]

    def _column(self, lineno: int, col_offset: int) -> int:
        """1-based character column from ast's 0-based UTF-8 byte offset."""
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        if line.isascii():
            return col_offset + 1
        return len(self._line_bytes(lineno - 1)[:col_offset].decode("utf-8", "replace")) + 1

    def where(self, node: ast.AST) -> tuple[int, int]:
        lineno = getattr(node, "lineno", 1)
        return lineno, self._column(lineno, getattr(node, "col_offset", 0))

    def error(self, message: str, node: ast.AST) -> ParseError:
        return ParseError(message, *self.where(node))

    def segment(self, node: ast.expr | ast.stmt, limit: int = 4 * MAX_LABEL_LENGTH) -> str:
        """The node's source text (at most about `limit` characters are gathered)."""
        # parsed nodes always have an end (only nodes made by hand lack one)
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        if first == last:
            raw = self._line_bytes(first)[node.col_offset : node.end_col_offset]
            return raw.decode("utf-8", "replace")
        parts = [self._line_bytes(first)[node.col_offset :].decode("utf-8", "replace")]
        size = len(parts[0])
        for index in range(first + 1, last):
            if size > limit:
                return "\n".join(parts)
            parts.append(self.lines[index])
            size += len(parts[-1])
        parts.append(self._line_bytes(last)[: node.end_col_offset].decode("utf-8", "replace"))
        return "\n".join(parts)

    def label(self, node: ast.expr | ast.stmt) -> str:
        return _shorten(_normalise(self.segment(node)), MAX_LABEL_LENGTH)

    def snippet(self, node: ast.expr | ast.stmt) -> str:
        return _shorten(_normalise(self.segment(node, 80)), 40)

    # ---- the program --------------------------------------------------------------------

    def build(self, tree: ast.Module, name: str) -> dict[str, Any]:
        self._scan(tree)
        body = tree.body
        if not body:
            raise ParseError(f"the expression is empty; write for example {_EXAMPLE}.", 1, 1)
        for stmt in body:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                self.assigned_at.setdefault(stmt.targets[0].id, stmt.lineno)
        output: str | None = None
        for index, stmt in enumerate(body):
            output = self._statement(stmt, last=index == len(body) - 1)
        self._check_missing()
        assert output is not None  # every name resolved, so the last statement built a node
        self._check_all_used(output)
        nodes = [self.leaf_nodes[n] for n in self.leaves if n in self.leaf_nodes]
        nodes.extend(self.nodes.values())
        return {"name": name, "nodes": nodes, "output": output}

    def _scan(self, tree: ast.Module) -> None:
        """Expression depth (explicit stack) and every name in use, before the walk."""
        max_depth = self.limits.max_depth
        stack: list[tuple[ast.AST, int]] = [(tree, 0)]
        while stack:
            node, depth = stack.pop()
            if isinstance(node, ast.expr):
                depth += 1
                if depth > max_depth:
                    raise self.error(
                        f"the expression is nested more than {max_depth} levels deep; "
                        "split it into several statements (name = ...).",
                        node,
                    )
                if isinstance(node, ast.Name):
                    self.reserved.add(node.id)
            stack.extend((child, depth) for child in ast.iter_child_nodes(node))

    def _statement(self, stmt: ast.stmt, last: bool) -> str | None:
        if isinstance(stmt, ast.Assign):
            target = self._target(stmt)
            value = self._unwrap_plus(stmt.value)
            if isinstance(value, ast.Name):
                raise self.error(
                    f"{target.id} = {value.id} only renames {value.id}; use {value.id} directly.",
                    stmt,
                )
            node_id = self._expression(value, target.id)
            # defined only now: `a = a * 2` refers to an earlier a, of which there is none
            self.defined[target.id] = (node_id, target)
            return target.id
        if isinstance(stmt, ast.Expr):
            if not last:
                raise self.error(
                    "only the last statement may be a bare expression; "
                    "give this one a name (name = ...).",
                    stmt,
                )
            return self._expression(self._unwrap_plus(stmt.value), None)
        if isinstance(stmt, ast.AugAssign):
            symbol = _OPERATOR_SYMBOLS.get(type(stmt.op).__name__, "")
            raise self.error(
                f"augmented assignment ({symbol}=) is not allowed; "
                "assign each name once and give a new value a new name.",
                stmt,
            )
        if isinstance(stmt, ast.AnnAssign):
            raise self.error("annotated assignment is not allowed; write name = expression.", stmt)
        keyword = _STATEMENT_KEYWORDS.get(type(stmt).__name__, type(stmt).__name__)
        raise self.error(
            f"'{keyword}' statements are not allowed; only assignments like {_EXAMPLE}.", stmt
        )

    def _target(self, stmt: ast.Assign) -> ast.Name:
        if len(stmt.targets) != 1:
            raise self.error(
                "chained assignment (a = b = ...) is not allowed; assign one name per statement.",
                stmt.targets[1],
            )
        target = stmt.targets[0]
        if isinstance(target, ast.Tuple | ast.List):
            raise self.error(
                "tuple assignment (a, b = ...) is not allowed; assign one name per statement.",
                target,
            )
        if not isinstance(target, ast.Name):
            raise self._not_allowed(target, "as an assignment target")
        name = self._check_name(target)
        if name in self.leaves:
            kind = "an input" if self.leaves[name][0] == "input" else "a param"
            raise self.error(
                f"{name!r} is given as {kind} and cannot also be assigned; rename one of them.",
                target,
            )
        if name in self.defined:
            first = self.defined[name][1].lineno
            raise self.error(
                f"{name!r} is assigned twice (first on line {first}); "
                "give the new value another name.",
                target,
            )
        return target

    @staticmethod
    def _unwrap_plus(node: ast.expr) -> ast.expr:
        while isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            node = node.operand
        return node

    # ---- one expression (explicit stack, post-order) ------------------------------------

    def _expression(self, top: ast.expr, target: str | None) -> str | None:
        """Build the nodes of one expression; the top node takes the id `target`.

        Returns the top node's id, or None when an unknown name prevented it."""
        results: dict[int, str | None] = {}
        stack: list[tuple[ast.expr, list[ast.expr] | None]] = [(top, None)]
        while stack:
            node, children = stack.pop()
            if children is None:
                children = self._children(node)  # validates the node
                stack.append((node, children))
                stack.extend((child, None) for child in reversed(children))
            else:
                ids = [results.pop(id(child)) for child in children]
                results[id(node)] = self._emit(node, ids, target if node is top else None)
        return results[id(top)]

    def _children(self, node: ast.expr) -> list[ast.expr]:
        """The sub-expressions to build first; raises for anything outside the language."""
        if isinstance(node, ast.Name):
            self._check_name(node)
            return []
        if isinstance(node, ast.Constant):
            self._number(node)
            return []
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub) and _is_number(node.operand):
                self._number(node.operand)
                return []  # a negative literal such as -1 is one constant
            if isinstance(node.op, ast.USub | ast.UAdd):
                return [node.operand]
            symbol = _OPERATOR_SYMBOLS.get(type(node.op).__name__, type(node.op).__name__)
            raise self.error(
                f"the operator '{symbol}' is not allowed; use + - * / ** @ or unary minus.",
                node,
            )
        if isinstance(node, ast.BinOp):
            if type(node.op) not in BINARY_OPS:
                symbol = _OPERATOR_SYMBOLS.get(type(node.op).__name__, type(node.op).__name__)
                raise self.error(f"the operator '{symbol}' is not allowed; use + - * / ** @.", node)
            return [node.left, node.right]
        if isinstance(node, ast.Call):
            self._check_call(node)
            return list(node.args)
        raise self._not_allowed(node)

    def _emit(self, node: ast.expr, ids: list[str | None], target: str | None) -> str | None:
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant):
            return self._const(node, self._number(node), target)
        if isinstance(node, ast.UnaryOp):
            if not ids and isinstance(node.operand, ast.Constant):  # a folded negative literal
                return self._const(node, -self._number(node.operand), target)
            if isinstance(node.op, ast.UAdd):
                return ids[0]
            op = "neg"
        elif isinstance(node, ast.BinOp):
            op = BINARY_OPS[type(node.op)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            op = node.func.id
        else:  # _children let nothing else through
            raise self._not_allowed(node)
        if any(i is None for i in ids):
            return None
        node_id = self._add(node, op, ids, target)
        if isinstance(node, ast.Call) and node.keywords:
            self.nodes[node_id]["attrs"] = {k.arg: self._attr_value(k) for k in node.keywords}
        return node_id

    # ---- leaves and nodes ---------------------------------------------------------------

    def _check_name(self, node: ast.Name) -> str:
        name = node.id
        try:
            check_id(name, "The name")
        except GraphError as exc:
            raise self.error(str(exc), node) from None
        # Python folds some non-ASCII letters into ASCII ones (NFKC); we do not
        written = self.segment(node)
        if written != name:
            raise self.error(
                f"the name {written!r} must be written with ASCII letters, digits and _.", node
            )
        return name

    def _name(self, node: ast.Name) -> str | None:
        name = node.id
        if name in self.defined:
            return self.defined[name][0]
        if name in self.leaves:
            if name not in self.leaf_nodes:
                kind, value = self.leaves[name]
                self._count(node)
                self.leaf_nodes[name] = {
                    "id": name,
                    "op": kind,
                    "inputs": [],
                    "label": name,
                    "value": value,
                }
            return name
        self.missing.setdefault(name, self.where(node))
        return None

    def _number(self, node: ast.Constant) -> float:
        value = node.value
        if isinstance(value, bool):
            raise self.error("booleans (True, False) are not allowed; use 1 or 0.", node)
        if isinstance(value, str):
            raise self.error(f"strings are not allowed (found {self.snippet(node)}).", node)
        if isinstance(value, bytes):
            raise self.error(f"bytes are not allowed (found {self.snippet(node)}).", node)
        if value is None:
            raise self.error("None is not allowed.", node)
        if isinstance(value, complex):
            raise self.error(f"complex numbers are not allowed (found {self.snippet(node)}).", node)
        if isinstance(value, int):
            try:
                return float(value)
            except OverflowError:
                raise self.error(
                    f"the number {self.snippet(node)} is too large for a 64-bit float.", node
                ) from None
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.error(
                    f"the number {self.snippet(node)} is not a finite number "
                    "(it overflows a 64-bit float).",
                    node,
                )
            return value
        raise self.error(f"{self.snippet(node)} is not allowed; only numbers are.", node)

    def _const(self, node: ast.expr, value: float, target: str | None) -> str:
        node_id = target or self._generate("const")
        self._count(node)
        self.nodes[node_id] = {
            "id": node_id,
            "op": "const",
            "inputs": [],
            "label": target or self.label(node),
            "value": value,
        }
        return node_id

    def _add(self, node: ast.expr, op: str, ids: list[str | None], target: str | None) -> str:
        node_id = target or self._generate(op)
        self._count(node)
        self.nodes[node_id] = {
            "id": node_id,
            "op": op,
            "inputs": list(ids),
            "label": target or self.label(node),
        }
        return node_id

    def _generate(self, prefix: str) -> str:
        n = self.counters.get(prefix, 0)
        while True:
            n += 1
            candidate = f"{prefix}_{n}"
            if candidate not in self.reserved and candidate not in self.nodes:
                self.counters[prefix] = n
                return candidate

    def _count(self, node: ast.AST) -> None:
        self.count += 1
        if self.count > self.limits.max_nodes:
            raise self.error(
                f"the expression makes more than {self.limits.max_nodes} nodes, the limit.",
                node,
            )

    # ---- calls and rejected constructs --------------------------------------------------

    def _check_call(self, node: ast.Call) -> None:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.error(
                f"only op names can be called, like sigmoid(x); found a call on "
                f"{self.snippet(func)}.",
                func,
            )
        op = OPS.get(func.id)
        if op is None or op.leaf:
            raise self.error(
                f"unknown function {func.id!r}; known: {', '.join(functions())}.", func
            )
        for keyword in node.keywords:
            if keyword.arg not in op.attr_defaults:
                found = f"{keyword.arg}=..." if keyword.arg else "**..."
                known = ", ".join(op.attr_defaults)
                raise self.error(
                    f"{func.id} takes no keyword argument {found}; "
                    + (f"its keywords are {known}." if known else "it takes none."),
                    keyword,
                )
            self._attr_value(keyword)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error("starred arguments (*args) are not allowed.", arg)
        if len(node.args) != op.arity:
            raise self.error(f"{func.id} takes {op.arity} argument(s), got {len(node.args)}.", node)

    def _attr_value(self, keyword: ast.keyword) -> object:
        """A keyword's literal: a whole number, a list of them, True/False or None."""

        def whole(item: ast.expr) -> int | None:
            if isinstance(item, ast.UnaryOp) and isinstance(item.op, ast.USub):
                inner = whole(item.operand)
                return None if inner is None else -inner
            if isinstance(item, ast.Constant) and type(item.value) is int:
                return item.value
            return None

        value = keyword.value
        if isinstance(value, ast.Constant) and (value.value is None or type(value.value) is bool):
            return value.value
        if whole(value) is not None:
            return whole(value)
        if isinstance(value, ast.List | ast.Tuple):
            items = [whole(item) for item in value.elts]
            if None not in items and len(items) <= 64:
                return items
        raise self.error(
            f"{keyword.arg}= takes a whole number, a list of whole numbers, True, False or "
            f"None (found {self.snippet(value)}).",
            value,
        )

    def _not_allowed(self, node: ast.expr | ast.stmt, where: str = "") -> ParseError:
        kind = type(node).__name__
        reason = _EXPRESSION_NOT_ALLOWED.get(kind, f"{kind} expressions are not allowed")
        if where:
            reason = reason.replace(" is not allowed", f" is not allowed {where}").replace(
                " are not allowed", f" are not allowed {where}"
            )
        return self.error(f"{reason} (found {self.snippet(node)}).", node)

    # ---- whole-program checks -----------------------------------------------------------

    def _check_missing(self) -> None:
        if not self.missing:
            return
        names = list(self.missing)
        hints = []
        for name in names:
            if name in self.assigned_at:
                hints.append(
                    f"{name} is used before its assignment on line {self.assigned_at[name]}"
                )
            elif name in OPS and not OPS[name].leaf:
                hints.append(f"{name} is an op: call it, as in {name}(...)")
        message = f"unknown name(s) {', '.join(names)}: give them as inputs or params"
        if hints:
            message += " (" + "; ".join(hints) + ")"
        raise ParseError(message + ".", *self.missing[names[0]])

    def _check_all_used(self, output: str) -> None:
        """Every assigned name must feed the output: a dead statement would be a second sink."""
        live: set[str] = set()
        stack = [output]
        while stack:
            node_id = stack.pop()
            if node_id in live:
                continue
            live.add(node_id)
            node = self.nodes.get(node_id)
            if node is not None:
                stack.extend(node["inputs"])
        for name, (defined_id, target) in self.defined.items():
            if defined_id not in live:
                raise self.error(
                    f"{name!r} is assigned but never used to compute the output {output!r}; "
                    "use it or remove the statement.",
                    target,
                )


def _is_number(node: ast.expr) -> TypeGuard[ast.Constant]:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)
