"""What a QEMU source tree says about migration, read from its C with tree-sitter.

QEMU's C is parsed as written, without the preprocessor (``tree-sitter-c`` recovers around the
macros it cannot expand, such as ``WITH_QEMU_LOCK_GUARD``). Nothing here matches C text with
regular expressions: every fact comes from the syntax tree.

Facts extracted:
* every ``migrate_set_state(&X->state, FROM, TO)`` call, with its enclosing function, the side
  (``MigrationState`` is the source, ``MigrationIncomingState`` the destination) and FROM/TO
  resolved to statuses: a constant, both arms of a conditional expression, every value a local
  variable is assigned in the function, and, for a parameter, the argument of each call site
  (then the callers are recorded as ``via``). ``X->state`` itself (the current status) is ``*``.
* the ``MIG_CMD_*`` and ``MIG_RP_MSG_*`` enumerators with their values;
* the PING values the source sends (``qemu_savevm_send_ping``), ``#define`` names resolved;
* the error paths of QMP handlers, each with the conditions under which it is reached, and a
  three-valued evaluation of those conditions for a given migration status.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter
import tree_sitter_c

Node = tree_sitter.Node

STATUS_PREFIX = "MIGRATION_STATUS_"
ANY_STATUS = "*"
SRC_TYPES = frozenset({"MigrationState"})
DST_TYPES = frozenset({"MigrationIncomingState"})


class TreeError(Exception):
    """The directory is not a QEMU tree drift can read (exit code 2)."""


@functools.cache
def _language() -> tree_sitter.Language:
    return tree_sitter.Language(tree_sitter_c.language())


@functools.cache
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(_language())


@functools.cache
def _query(source: str) -> tree_sitter.Query:
    return tree_sitter.Query(_language(), source)


def matches(node: Node, source: str) -> list[dict[str, Node]]:
    """The matches of a tree-sitter query under ``node`` (run in C: far faster than walking)."""
    out = []
    for _, captures in tree_sitter.QueryCursor(_query(source)).matches(node):
        out.append({name: nodes[0] for name, nodes in captures.items() if nodes})
    return out


def walk(node: Node) -> Iterator[Node]:
    """Every node under ``node`` (itself included), in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def string_value(node: Node) -> str | None:
    """The value of a C string literal or of adjacent literals (``"a" "b"``); None otherwise."""
    if node.type == "concatenated_string":
        parts = [string_value(c) for c in node.children if c.type == "string_literal"]
        if any(p is None for p in parts):
            return None
        return "".join(p for p in parts if p is not None)
    if node.type != "string_literal":
        return None
    out = []
    for c in node.children:
        if c.type == "string_content":
            out.append(text(c))
        elif c.type == "escape_sequence":
            esc = text(c)
            out.append({"\\n": "\n", "\\t": "\t", '\\"': '"', "\\\\": "\\", "\\'": "'"}.get(esc, esc))
    return "".join(out)


@dataclass(frozen=True)
class Function:
    """One C function definition."""

    file: str  # path relative to the tree
    name: str
    node: Node
    params: tuple[tuple[str, str], ...]  # (name, type text), in order

    @property
    def cite(self) -> str:
        return f"{self.file}:{self.name}"

    @property
    def line(self) -> int:
        return self.node.start_point[0] + 1

    @property
    def body(self) -> Node | None:
        return self.node.child_by_field_name("body")


@dataclass(frozen=True)
class Transition:
    """One status change QEMU can make: ``migrate_set_state`` in ``function``, reached through
    the ``via`` callers when FROM or TO came in as arguments."""

    side: str  # "src" | "dst" | "?"
    source: str  # a MIGRATION_STATUS_ C name's status ("postcopy-device"), or "*"
    dest: str
    file: str
    function: str
    line: int
    via: tuple[str, ...] = ()  # "file:function" of callers that passed FROM/TO

    @property
    def cite(self) -> str:
        return f"{self.file}:{self.function}"

    @property
    def sites(self) -> tuple[str, ...]:
        """Every function a model row may cite for this transition."""
        return (self.cite, *self.via)


@dataclass(frozen=True)
class ErrorPath:
    """An ``error_setg``-style error a function reports, and the conditions that lead there:
    ``(condition node, polarity)`` pairs, innermost last."""

    function: Function
    message: str
    line: int
    path: tuple[tuple[Node, bool], ...]

    def conditions(self) -> str:
        """The path condition as C: ``!(a) && (b)``."""
        parts = []
        for c, pol in self.path:
            wrapped = c.type in ("parenthesized_expression", "condition_clause") and c.named_children
            inner = c.named_children[-1] if wrapped else c
            parts.append(("" if pol else "!") + f"({' '.join(text(inner).split())})")
        return " && ".join(parts)


class _Unbound(Exception):
    """A parameter was reached without a call site to take its argument from."""

    def __init__(self, param: str) -> None:
        super().__init__(param)
        self.param = param


Binding = dict[str, tuple[Node, "Function", "Binding | None"]]
# A QMP handler's own parameters with the values the operator gives them (``resume``: a bool,
# ``state`` of migrate-continue: a status).
Args = dict[str, bool | str]


def name_in(n: Node, args: Args, fn: Function) -> bool:
    """``n`` is a parameter of ``fn`` that ``args`` gives a value."""
    name = text(n)
    return name in args and any(p == name for p, _ in fn.params)


@dataclass
class CTree:
    """A QEMU source tree, parsed on demand (each file once)."""

    root: Path
    status_names: dict[str, str]  # C enumerator name -> QAPI string, from qapi/migration.json
    _files: dict[str, Node | None] = field(default_factory=dict)
    _functions: dict[str, dict[str, Function]] = field(default_factory=dict)

    # --- files and functions -------------------------------------------------------------------

    def tree(self, rel: str) -> Node | None:
        """The syntax tree of ``rel``, None if the file does not exist."""
        if rel not in self._files:
            path = self.root / rel
            if not path.is_file():
                self._files[rel] = None
            else:
                try:
                    data = path.read_bytes()
                except OSError as e:
                    raise TreeError(f"{path}: cannot read: {e.strerror}") from None
                self._files[rel] = _parser().parse(data).root_node
        return self._files[rel]

    def migration_files(self) -> list[str]:
        """``migration/*.c`` and ``migration/*.h``: where the state machine lives."""
        folder = self.root / "migration"
        try:
            return sorted(f"migration/{p.name}" for p in folder.iterdir() if p.suffix in (".c", ".h") and p.is_file())
        except OSError as e:
            raise TreeError(f"{folder}: cannot read: {e.strerror}") from None

    def functions(self, rel: str) -> dict[str, Function]:
        """The function definitions of ``rel`` by name (the first definition wins)."""
        if rel not in self._functions:
            out: dict[str, Function] = {}
            root = self.tree(rel)
            if root is not None:
                for m in matches(root, "(function_definition) @f"):
                    f = _function(rel, m["f"])
                    if f is not None and f.name not in out:
                        out[f.name] = f
            self._functions[rel] = out
        return self._functions[rel]

    def function(self, cite: str) -> Function | None:
        """``file:function`` -> its definition in this tree, or None."""
        rel, _, name = cite.rpartition(":")
        return self.functions(rel).get(name) if rel else None

    def find_function(self, name: str, files: list[str]) -> Function | None:
        for rel in files:
            f = self.functions(rel).get(name)
            if f is not None:
                return f
        return None

    @functools.cached_property
    def _migration_functions(self) -> dict[str, Function]:
        out: dict[str, Function] = {}
        for rel in self.migration_files():
            if rel.endswith(".c"):
                for name, f in self.functions(rel).items():
                    out.setdefault(name, f)
        return out

    @functools.cached_property
    def _call_sites(self) -> dict[str, list[tuple[Node, Function]]]:
        """Callee name -> every call of it in ``migration/*.c``, with the calling function."""
        out: dict[str, list[tuple[Node, Function]]] = {}
        for f in self._migration_functions.values():
            body = f.body
            if body is None:
                continue
            for m in matches(body, "(call_expression function: (identifier) @name) @call"):
                out.setdefault(text(m["name"]), []).append((m["call"], f))
        return out

    # --- statuses --------------------------------------------------------------------------------

    def status_of(self, name: str) -> str | None:
        return self.status_names.get(name)

    def _resolve(self, expr: Node, fn: Function, binding: Binding | None, seen: frozenset[str]) -> set[str]:
        """The statuses ``expr`` can have in ``fn``; ``*`` for "the current status" or unknown."""
        t = expr.type
        if t == "parenthesized_expression":
            inner = [c for c in expr.named_children if c.type != "comment"]
            return self._resolve(inner[0], fn, binding, seen) if inner else {ANY_STATUS}
        if t == "conditional_expression":
            out: set[str] = set()
            for part in ("consequence", "alternative"):
                c = expr.child_by_field_name(part)
                out |= self._resolve(c, fn, binding, seen) if c is not None else {ANY_STATUS}
            return out
        if t == "cast_expression":
            v = expr.child_by_field_name("value")
            return self._resolve(v, fn, binding, seen) if v is not None else {ANY_STATUS}
        if t == "identifier":
            name = text(expr)
            if name.startswith(STATUS_PREFIX):
                status = self.status_of(name)
                return {status} if status else {name}
            if name in seen:
                return set()
            params = [p for p, _ in fn.params]
            if name in params:
                if binding is not None and name in binding:
                    arg, caller, caller_binding = binding[name]
                    return self._resolve(arg, caller, caller_binding, frozenset())
                raise _Unbound(name)
            values = self._local_values(fn, name)
            if not values:
                return {ANY_STATUS}
            out = set()
            for v in values:
                out |= self._resolve(v, fn, binding, seen | {name})
            return out
        return {ANY_STATUS}

    def _local_values(self, fn: Function, name: str) -> list[Node]:
        """Every expression assigned to local ``name`` in ``fn`` (initialisers and ``=``)."""
        body = fn.body
        out: list[Node] = []
        if body is None:
            return out
        for n in walk(body):
            if n.type == "init_declarator":
                d = n.child_by_field_name("declarator")
                v = n.child_by_field_name("value")
                if d is not None and d.type == "identifier" and text(d) == name and v is not None:
                    out.append(v)
            elif n.type == "assignment_expression":
                left = n.child_by_field_name("left")
                op = n.child_by_field_name("operator")
                right = n.child_by_field_name("right")
                if (left is not None and left.type == "identifier" and text(left) == name
                        and right is not None and text(op) == "="):
                    out.append(right)
        return out

    def _side(self, arg: Node, fn: Function) -> str:
        """``&X->state``: the side X's type says (source, destination), or ``?``."""
        target = arg.child_by_field_name("argument") if arg.type == "pointer_expression" else None
        if target is None or target.type != "field_expression":
            return "?"
        obj = target.child_by_field_name("argument")
        if obj is None:
            return "?"
        if obj.type == "identifier":
            typ = self._type_of(fn, text(obj))
            if typ in SRC_TYPES:
                return "src"
            if typ in DST_TYPES:
                return "dst"
        return "?"

    def _type_of(self, fn: Function, var: str) -> str:
        """The declared type name of ``var`` in ``fn`` (a parameter or a local)."""
        for name, typ in fn.params:
            if name == var:
                return typ
        body = fn.body
        if body is not None:
            for n in walk(body):
                if n.type == "declaration":
                    typ_node = n.child_by_field_name("type")
                    for d in n.children_by_field_name("declarator"):
                        if _declared_name(d) == var:
                            return text(typ_node)
        return ""

    # --- transitions -------------------------------------------------------------------------------

    def transitions(self) -> list[Transition]:
        """Every status change ``migrate_set_state`` makes in ``migration/*.c``."""
        out: list[Transition] = []
        seen: set[Transition] = set()
        for call, fn in self._call_sites.get("migrate_set_state", []):
            args = call.child_by_field_name("arguments")
            named = [a for a in args.named_children if a.type != "comment"] if args is not None else []
            if len(named) != 3:
                continue
            side = self._side(named[0], fn)
            line = call.start_point[0] + 1
            for src, dst, via in self._expand(fn, named[1], named[2]):
                t = Transition(side, src, dst, fn.file, fn.name, line, via)
                if t not in seen:
                    seen.add(t)
                    out.append(t)
        return out

    def _expand(self, fn: Function, frm: Node, to: Node) -> list[tuple[str, str, tuple[str, ...]]]:
        """FROM x TO pairs; a parameter is taken from each call site of ``fn`` (one level up:
        an argument that is again a parameter of the caller counts as ``*``)."""
        try:
            froms = self._resolve(frm, fn, None, frozenset())
            tos = self._resolve(to, fn, None, frozenset())
            return [(f, t, ()) for f in sorted(froms) for t in sorted(tos)]
        except _Unbound:
            pass
        sites = self._call_sites.get(fn.name, [])
        if not sites:
            return [(ANY_STATUS, ANY_STATUS, ())]
        out: list[tuple[str, str, tuple[str, ...]]] = []
        for call, caller in sites:
            args = call.child_by_field_name("arguments")
            named = [a for a in args.named_children if a.type != "comment"] if args is not None else []
            b: Binding = {p: (named[i], caller, None) for i, (p, _) in enumerate(fn.params) if i < len(named)}
            try:
                froms = self._resolve(frm, fn, b, frozenset())
                tos = self._resolve(to, fn, b, frozenset())
            except _Unbound:
                froms = tos = {ANY_STATUS}
            out += [(f, t, (caller.cite,)) for f in sorted(froms) for t in sorted(tos)]
        return out

    # --- enums, defines, pings ----------------------------------------------------------------------

    def enumerators(self, prefix: str) -> dict[str, int | None]:
        """Enumerators named ``prefix*`` in ``migration/*``, with their values (``*_MAX`` left out;
        None for a value that is not a number, a known enumerator or a ``#define``, and after it)."""
        out: dict[str, int | None] = {}
        for rel in self.migration_files():
            root = self.tree(rel)
            if root is None:
                continue
            for m in matches(root, "(enumerator_list) @l"):
                enumerators = [e for e in m["l"].named_children if e.type == "enumerator"]
                if not any(text(e.child_by_field_name("name")).startswith(prefix) for e in enumerators):
                    continue  # another enum: its values need not be understood
                value: int | None = -1
                names: dict[str, int | None] = {}
                for e in enumerators:
                    val = e.child_by_field_name("value")
                    if val is None:
                        value = None if value is None else value + 1
                    else:
                        known = {k: v for k, v in names.items() if v is not None}
                        try:
                            value = self._int(val, known)
                        except TreeError:
                            value = None
                    names[text(e.child_by_field_name("name"))] = value
                for k, v in names.items():
                    if k.startswith(prefix) and not k.endswith("_MAX"):
                        out[k] = v
        return out

    def _int(self, node: Node, known: dict[str, int]) -> int:
        if node.type == "number_literal":
            return int(text(node).rstrip("uUlL"), 0)
        if node.type == "identifier":
            name = text(node)
            if name in known:
                return known[name]
            d = self.defines.get(name)
            if d is not None:
                return d
        raise TreeError(f"cannot evaluate {text(node)!r} as an integer")

    @functools.cached_property
    def defines(self) -> dict[str, int]:
        """Integer ``#define``s of ``migration/*``."""
        out: dict[str, int] = {}
        for rel in self.migration_files():
            root = self.tree(rel)
            if root is None:
                continue
            for m in matches(root, "(preproc_def name: (identifier) @name value: (preproc_arg) @value)"):
                try:
                    out[text(m["name"])] = int(text(m["value"]).strip().rstrip("uUlL"), 0)
                except ValueError:
                    continue
        return out

    @functools.cached_property
    def qerror_messages(self) -> dict[str, str]:
        """The ``QERR_*`` message macros of ``include/qapi/qmp/qerror.h`` (older QEMUs refuse with
        them: 7.2's ``migrate_prepare`` uses ``QERR_MIGRATION_ACTIVE``), each macro body parsed
        as a C initialiser so that its string literal is read by tree-sitter too."""
        out: dict[str, str] = {}
        root = self.tree("include/qapi/qmp/qerror.h")
        if root is None:
            return out
        for m in matches(root, "(preproc_def name: (identifier) @name value: (preproc_arg) @value)"):
            name = text(m["name"])
            if not name.startswith("QERR_"):
                continue
            snippet = _parser().parse(b"const char *x = " + (m["value"].text or b"") + b";").root_node
            init = next((n for n in walk(snippet) if n.type == "init_declarator"), None)
            value = init.child_by_field_name("value") if init is not None else None
            msg = string_value(value) if value is not None else None
            if msg is not None:
                out[name] = msg
        return out

    def pings(self) -> list[tuple[int | str, str, int]]:
        """``qemu_savevm_send_ping(f, VALUE)`` calls: (value, ``file:function``, line)."""
        out: list[tuple[int | str, str, int]] = []
        for call, fn in self._call_sites.get("qemu_savevm_send_ping", []):
            args = call.child_by_field_name("arguments")
            named = [a for a in args.named_children if a.type != "comment"] if args is not None else []
            if len(named) != 2:
                continue
            value: int | str
            try:
                value = self._int(named[1], {})
            except TreeError:
                value = text(named[1])
            out.append((value, fn.cite, call.start_point[0] + 1))
        return out

    def calls_with(self, callee: str, first_arg: str) -> list[str]:
        """``file:function`` of every function in ``migration/*.c`` that calls ``callee`` with
        ``first_arg`` as its first argument (e.g. who registers the migration yank instance)."""
        out = []
        for call, fn in self._call_sites.get(callee, []):
            args = call.child_by_field_name("arguments")
            named = [a for a in args.named_children if a.type != "comment"] if args is not None else []
            if named and text(named[0]) == first_arg and fn.cite not in out:
                out.append(fn.cite)
        return out

    # --- QMP handlers: error paths and their conditions -----------------------------------------

    def error_paths(self, fn: Function) -> list[ErrorPath]:
        """Every ``error_setg``/``error_set``/``error_setg_errno`` with a literal message in ``fn``,
        with the conditions that lead there (enclosing ``if``s, and earlier ``if``s whose
        branch returns, negated)."""
        out: list[ErrorPath] = []
        body = fn.body
        if body is not None:
            self._walk_block(fn, _statements(body), (), out)
        return out

    def _walk_block(self, fn: Function, stmts: list[Node], path: tuple[tuple[Node, bool], ...],
                    out: list[ErrorPath]) -> None:
        ctx = path
        for st in stmts:
            if st.type == "if_statement":
                cond = st.child_by_field_name("condition")
                cons = st.child_by_field_name("consequence")
                alt = st.child_by_field_name("alternative")
                if cond is None or cons is None:
                    continue
                self._walk_block(fn, _statements(cons), (*ctx, (cond, True)), out)
                if alt is not None:
                    self._walk_block(fn, _statements(alt), (*ctx, (cond, False)), out)
                if _returns(cons):
                    ctx = (*ctx, (cond, False))
                elif alt is not None and _returns(alt):
                    ctx = (*ctx, (cond, True))
                continue
            if st.type == "expression_statement":
                call = st.named_children[0] if st.named_children else None
                if call is not None and call.type == "call_expression":
                    name = text(call.child_by_field_name("function"))
                    args = call.child_by_field_name("arguments")
                    first = args.named_children[0] if args is not None and args.named_children else None
                    if name in ("error_setg", "error_set", "error_setg_errno") and text(first) == "errp":
                        # only errors given to the caller (``errp``): a refusal the QMP client sees
                        for a in args.named_children if args is not None else []:
                            msg = string_value(a)
                            if msg is None and a.type == "identifier" and text(a).startswith("QERR_"):
                                # a qerror.h macro: its string, or its name when drift cannot read it
                                msg = self.qerror_messages.get(text(a), text(a))
                            if msg is not None:
                                out.append(ErrorPath(fn, msg, st.start_point[0] + 1, ctx))
                                break
                continue
            if st.type in ("compound_statement", "while_statement", "for_statement", "do_statement",
                           "switch_statement", "case_statement", "labeled_statement", "else_clause"):
                self._walk_block(fn, _statements(st), ctx, out)
            elif st.type == "return_statement":
                return

    def mentions_state(self, ep: ErrorPath) -> bool:
        """Whether the condition that decides this error (the innermost ``if``, or the last
        early return before it) depends on a migration status or a run state: a state guard."""
        return bool(ep.path) and any(self._state_atom(n) for n in walk(ep.path[-1][0]))

    @functools.cached_property
    def _callees(self) -> dict[str, frozenset[str]]:
        """Function -> the ``migration/*.c`` functions it calls directly."""
        out: dict[str, set[str]] = {}
        for callee, sites in self._call_sites.items():
            if callee in self._migration_functions:
                for _, caller in sites:
                    out.setdefault(caller.name, set()).add(callee)
        return {k: frozenset(v) for k, v in out.items()}

    def reaches(self, cite: str, depth: int = 3) -> dict[str, int]:
        """``file:function`` of every ``migration/*.c`` function ``cite`` calls, directly or
        through at most ``depth`` calls, with the number of calls on the way (itself: 0)."""
        fn = self.function(cite)
        if fn is None:
            return {}
        dist = {fn.name: 0}
        frontier = [fn.name]
        for d in range(1, depth + 1):
            nxt = []
            for name in frontier:
                for callee in self._callees.get(name, ()):
                    if callee not in dist:
                        dist[callee] = d
                        nxt.append(callee)
            frontier = nxt
        out = {cite: 0}
        for name, d in dist.items():
            f = self._migration_functions.get(name)
            if f is not None:
                out.setdefault(f.cite, d)
        return out

    def _state_atom(self, n: Node) -> bool:
        if n.type == "identifier":
            name = text(n)
            return name.startswith((STATUS_PREFIX, "RUN_STATE_"))
        if n.type == "field_expression":
            return text(n.child_by_field_name("field")) == "state"
        if n.type == "call_expression":
            callee = text(n.child_by_field_name("function"))
            if callee.startswith("runstate_"):
                return True
            f = self._migration_functions.get(callee)
            if f is not None and f.body is not None:
                return any(x.type == "identifier" and text(x).startswith(STATUS_PREFIX) for x in walk(f.body))
        return False

    def evaluate(self, ep: ErrorPath, env: dict[str, str], args: Args | None = None) -> bool | None:
        """Whether QEMU reaches this error when the source's status is ``env["src"]`` and the
        destination's ``env["dst"]``, and the handler's parameters named in ``args`` have those
        values (a bool, or a status for a ``MigrationStatus`` parameter): True, False, or None when
        a condition depends on something else (a run state, another argument, a capability)."""
        result: bool | None = True
        for cond, pol in ep.path:
            v = self._eval(cond, ep.function, env, None, 0, args or {})
            if v is not None and not pol:
                v = not v
            result = _and(result, v)
            if result is False:
                return False
        return result

    def _state_value(self, n: Node, fn: Function, env: dict[str, str], binding: Binding | None,
                     args: Args | None = None) -> str | None:
        """The status a state expression stands for under ``env``: ``X->state`` by X's type; a
        parameter of the handler itself (``binding`` None) named in ``args`` by its value."""
        if n.type == "parenthesized_expression" and n.named_children:
            return self._state_value(n.named_children[0], fn, env, binding, args)
        if n.type == "field_expression" and text(n.child_by_field_name("field")) == "state":
            obj = n.child_by_field_name("argument")
            if obj is not None and obj.type == "identifier":
                typ = self._type_of(fn, text(obj))
                if typ in SRC_TYPES:
                    return env.get("src")
                if typ in DST_TYPES:
                    return env.get("dst")
            return None
        if n.type == "identifier":
            name = text(n)
            if name.startswith(STATUS_PREFIX):
                return self.status_of(name)
            if binding is not None and name in binding:
                arg, caller, cb = binding[name]
                return self._state_value(arg, caller, env, cb)
            if binding is None and args and isinstance(args.get(name), str) and name in dict(fn.params):
                return str(args[name])
            values = self._local_values(fn, name)
            if len(values) == 1:
                return self._state_value(values[0], fn, env, binding)
        return None

    def _eval(self, n: Node, fn: Function, env: dict[str, str], binding: Binding | None, depth: int,
              args: Args | None = None) -> bool | None:
        t = n.type
        if t in ("parenthesized_expression", "condition_clause"):
            inner = [c for c in n.named_children if c.type != "comment"]
            return self._eval(inner[-1], fn, env, binding, depth, args) if inner else None
        if t == "identifier" and binding is None and args and name_in(n, args, fn):
            value = args[text(n)]
            return value if isinstance(value, bool) else None
        if t == "unary_expression" and text(n.child_by_field_name("operator")) == "!":
            arg = n.child_by_field_name("argument")
            v = self._eval(arg, fn, env, binding, depth, args) if arg is not None else None
            return None if v is None else not v
        if t == "binary_expression":
            op = text(n.child_by_field_name("operator"))
            left = n.child_by_field_name("left")
            right = n.child_by_field_name("right")
            if left is None or right is None:
                return None
            if op in ("&&", "||"):
                a = self._eval(left, fn, env, binding, depth, args)
                b = self._eval(right, fn, env, binding, depth, args)
                return _and(a, b) if op == "&&" else _or(a, b)
            if op in ("==", "!="):
                a_s = self._state_value(left, fn, env, binding, args)
                b_s = self._state_value(right, fn, env, binding, args)
                if a_s is None or b_s is None:
                    return None
                return (a_s == b_s) == (op == "==")
            return None
        if t == "call_expression" and depth < 3:
            callee = self._migration_functions.get(text(n.child_by_field_name("function")))
            if callee is None or callee.body is None:
                return None
            call_args = n.child_by_field_name("arguments")
            named = [a for a in call_args.named_children if a.type != "comment"] if call_args is not None else []
            pbind: Binding = {p: (named[i], fn, binding) for i, (p, _) in enumerate(callee.params) if i < len(named)}
            return self._eval_predicate(callee, env, pbind, depth + 1)
        return None

    def _eval_predicate(self, fn: Function, env: dict[str, str], binding: Binding, depth: int) -> bool | None:
        """A status predicate's value: a ``switch`` over a status whose cases return true/false,
        or a single ``return EXPR``; None for anything else."""
        body = fn.body
        if body is None:
            return None
        stmts = [s for s in _statements(body) if s.type not in ("declaration", "comment")]
        # ``if (!s) { return false; }`` guards on a global pointer are skipped (it exists here).
        stmts = [s for s in stmts if not (s.type == "if_statement" and _is_null_guard(s))]
        if len(stmts) == 1 and stmts[0].type == "return_statement" and stmts[0].named_children:
            return self._eval(stmts[0].named_children[0], fn, env, binding, depth)
        if len(stmts) == 1 and stmts[0].type == "switch_statement":
            sw = stmts[0]
            cond = sw.child_by_field_name("condition")
            value = (self._state_value(cond.named_children[0], fn, env, binding)
                     if cond is not None and cond.named_children else None)
            if value is None:
                return None
            swbody = sw.child_by_field_name("body")
            pending: list[str | None] = []
            default_result: bool | None = None
            for case in swbody.named_children if swbody is not None else []:
                if case.type != "case_statement":
                    continue
                label = case.child_by_field_name("value")
                pending.append(self.status_of(text(label)) if label is not None else None)
                ret = next((c for c in case.named_children if c.type == "return_statement"), None)
                if ret is None:
                    continue
                r = text(ret.named_children[0]) if ret.named_children else ""
                result = True if r == "true" else False if r == "false" else None
                if value in pending:
                    return result
                if None in pending:
                    default_result = result
                pending = []
            return default_result
        return None


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _statements(node: Node) -> list[Node]:
    if node.type in ("compound_statement", "case_statement", "else_clause", "labeled_statement"):
        return [c for c in node.named_children if c.type != "comment"]
    if node.type in ("while_statement", "for_statement", "do_statement", "switch_statement"):
        b = node.child_by_field_name("body")
        return _statements(b) if b is not None else []
    return [node]


def _returns(node: Node) -> bool:
    """The branch ends the function: a ``return`` among its statements."""
    return any(s.type == "return_statement" for s in _statements(node))


def _is_null_guard(st: Node) -> bool:
    cond = st.child_by_field_name("condition")
    inner = cond.named_children[0] if cond is not None and cond.named_children else None
    return (inner is not None and inner.type == "unary_expression"
            and text(inner.child_by_field_name("operator")) == "!"
            and (a := inner.child_by_field_name("argument")) is not None and a.type == "identifier")


def _declared_name(d: Node) -> str:
    while d.type in ("init_declarator", "pointer_declarator", "array_declarator", "parenthesized_declarator"):
        nxt = d.child_by_field_name("declarator")
        if nxt is None:
            return ""
        d = nxt
    return text(d) if d.type == "identifier" else ""


def _function(rel: str, node: Node) -> Function | None:
    d = node.child_by_field_name("declarator")
    while d is not None and d.type != "function_declarator":
        d = d.child_by_field_name("declarator")
    if d is None:
        return None
    name_node = d.child_by_field_name("declarator")
    if name_node is None or name_node.type != "identifier":
        return None
    params: list[tuple[str, str]] = []
    plist = d.child_by_field_name("parameters")
    for p in plist.named_children if plist is not None else []:
        if p.type == "parameter_declaration":
            pd = p.child_by_field_name("declarator")
            params.append((_declared_name(pd) if pd is not None else "", text(p.child_by_field_name("type"))))
    return Function(rel, text(name_node), node, tuple(params))
