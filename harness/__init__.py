"""Real-QEMU harness for migmodel: record traces of real live migrations.

The harness starts a source and a destination QEMU on 127.0.0.1, drives them through QMP
(with the ``qemu.qmp`` library), injects faults (SIGKILL, ``migrate_cancel``, ``migrate-pause``,
device or RAM-size mismatches, a TCP fault proxy) and writes what it saw as a JSON Lines trace
(see ``harness/TRACE_FORMAT.md``). The model checker replays those traces against the model.

Modules:

* :mod:`harness.qmp` -- QMP connection and the trace recorder.
* :mod:`harness.proxy` -- the TCP fault proxy (drop one direction, reset with RST).
* :mod:`harness.scenarios` -- the scenario catalogue and the code that drives one run.
* :mod:`harness.record_cmd` -- the ``migmodel record`` subcommand (entry point ``migmodel.commands``).
* :mod:`harness.record` -- records one scenario (``main(argv)``, ``run(args)``).
* :mod:`harness.record_all` -- record the whole catalogue for a pairing.
* :mod:`harness.traces` -- read traces back (MIGRATION sequences, README table).
* :mod:`harness.expected` -- the sequences that docs/real-qemu.md reports.

Nothing here is imported by the model or the checker at import time; ``qemu.qmp`` is only
needed to record, not to read traces.
"""

from __future__ import annotations

__all__ = ["TRACE_FORMAT_VERSION"]

#: Bumped when the JSON Lines layout changes incompatibly.
TRACE_FORMAT_VERSION = 1
