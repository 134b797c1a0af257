"""One run of a model: random (seeded, reproducible) or replayed from a script.

A script is a text file with one action per line, written the way a timeline prints it
(``actor: action``), ``#`` comments and blank lines ignored; or a JSON list of such strings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from checker.cli_base import UsageError
from checker.explore import Step
from checker.spec import Action, Model


def action_text(model: Model, action: Action) -> str:
    d = model.describe_action(action)
    return f"{d.get('actor', '?')}: {d.get('action', action)}"


def read_script(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UsageError(f"cannot read script {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"script {path} is not UTF-8 text") from None
    except ValueError as e:  # e.g. a NUL in the path
        raise UsageError(f"cannot read script {path!r}: {e}") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"script {path}: invalid JSON: {e.msg} (line {e.lineno})") from None
        except RecursionError:
            raise UsageError(f"script {path}: JSON nested too deeply") from None
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise UsageError(f"script {path}: a JSON script must be a list of action strings")
        return [x.strip() for x in data]
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def run_script(model: Model, lines: Sequence[str]) -> list[Step]:
    """Replay ``lines`` from the (first) initial state; an action that is not enabled is an error
    that says what was enabled instead."""
    state = model.init_states()[0]
    steps = [Step(None, state)]
    for n, line in enumerate(lines, 1):
        options = {action_text(model, a): (a, s) for a, s in model.successors(state)}
        if line not in options:
            enabled = "; ".join(sorted(options)) or "nothing"
            raise UsageError(f"script step {n}: {line!r} is not enabled here (enabled: {enabled})")
        action, state = options[line]
        steps.append(Step(action, state))
    return steps


def run_random(model: Model, *, seed: int, max_steps: int) -> list[Step]:
    """A seeded random walk: at each step one enabled action, uniformly, until a final state,
    a state with no successor, or ``max_steps``. Self-loops (refused commands) are skipped so the
    walk moves on."""
    if max_steps < 0:
        raise UsageError("--steps must be >= 0")
    rng = random.Random(seed)
    state = model.init_states()[0]
    steps = [Step(None, state)]
    for _ in range(max_steps):
        moves = [(a, s) for a, s in model.successors(state) if s != state]
        if not moves or model.is_final(state):
            break
        action, state = moves[rng.randrange(len(moves))]
        steps.append(Step(action, state))
    return steps
