"""What a reader needs around a counterexample's steps: which fields changed, and the final state.

Generic: fields are the keys of ``Model.describe_state``; the enabled actions come from
``Model.successors``; what each thread of the final state waits for comes from the suite's optional
``explain_state`` hook (``checker.spec.Suite``), so every renderer (terminal, Markdown, HTML,
sequence charts) shows the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from checker.spec import Model, State

__all__ = ("changed_keys", "final_state", "final_state_lines")


def changed_keys(steps: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Per step (``steps_to_json`` output), the state fields whose value differs from the step
    before, in field order (none for the first step)."""
    out: list[list[str]] = []
    prev: dict[str, Any] | None = None
    for step in steps:
        state = step["state"]
        out.append([] if prev is None else [k for k, v in state.items() if prev.get(k) != v])
        prev = state
    return out


def final_state(model: Model, state: State,
                explain_state: Callable[[Any], Sequence[tuple[str, str]]] | None) -> dict[str, Any]:
    """The end of a counterexample, explained: ``threads`` (thread, what it does or waits for;
    empty without the hook), ``moves`` (enabled actions that change the state), ``refused`` (commands
    the system refuses there) and ``idle`` (enabled actions that change nothing)."""
    moves: list[str] = []
    refused: list[str] = []
    idle: list[str] = []
    for action, after in model.successors(state):
        d = model.describe_action(action)
        label = f"{d.get('actor', '')}: {d.get('action', '')}".strip(": ")
        if d.get("refused"):
            refused.append(f"{label.removesuffix(': refused')} ({d['refused']})")
        elif after == state:
            idle.append(label)
        else:
            moves.append(label)
    threads = [{"thread": t, "doing": text} for t, text in (explain_state(state) if explain_state else ())]
    return {"threads": threads, "moves": moves, "refused": refused, "idle": idle}


def final_state_lines(final: dict[str, Any]) -> list[str]:
    """``final_state`` as plain lines (terminal, and the body of the charts' closing note)."""
    lines = [f"{t['thread']}: {t['doing']}" for t in final["threads"]]
    lines.append("enabled: " + ("; ".join(final["moves"]) if final["moves"]
                                else "nothing changes the state (every action is refused or a no-op)"))
    if final["refused"]:
        lines.append("refused: " + "; ".join(final["refused"]))
    if final["idle"]:
        lines.append("no effect: " + "; ".join(final["idle"]))
    return lines
