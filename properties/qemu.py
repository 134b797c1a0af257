"""What must hold of a QEMU live migration: the claims the checker judges, each in one sentence.

Kinds (checker/spec.py): ``always`` (an invariant), ``sometimes`` (a witness that the situation an
``always`` guards is really reached, so a pass is not vacuous), ``always-possible`` (from every
state where it applies, the goal can still be reached), ``eventually`` (once faults stop, every run
gets there) and ``deadlock-free``.

"Via" edges: what may happen on the way to a goal. ``NO_FAULTS`` is every step but the fault
injector's: QEMU's own threads and the operator. Recovery by a further failure does not count.

Sources: the POSTCOPY_DEVICE commit message (7b842fe354), protocol.md section 12 (P1-P4) and
tests-and-bugs.md section 4 (P1-P8); P-numbers are cited in each property's ``reference``.
"""

from __future__ import annotations

from checker.spec import Kind, Property
from model.messages import PONG_0x42
from model.status import MigrationStatus as S
from model.status import PostcopyState
from model.system import Action, is_final
from model.world import LINK_UP, RP_ERR, World, dst_running, partitioned, src_running


def no_faults(a: Action) -> bool:
    return a.actor != "fault"


# ---------------------------------------------------------------------------------------------
# Predicates over one world.


def pre_pong_window(w: World) -> bool:
    """The switchover has begun and the source's return path has not received PONG 0x42 (the
    commit's "while the destination loads the device state")."""
    return w.h_postcopy and not w.s_loaded and w.s_alive


def pre_commit_window(w: World) -> bool:
    """The switchover has begun and the source has not acted on PONG 0x42 (S12): it has not
    committed to postcopy-active. Longer than ``pre_pong_window`` by the time between the PONG's
    arrival and the migration thread's next look at the flag."""
    return w.h_postcopy and not w.h_acted and w.s_alive


def migration_in_trouble(w: World) -> bool:
    """Something went wrong: a fault that makes something fail happened (a reset, a kill, a
    yank, a load or disk failure). A silent partition alone is not a failure, nor an operator's
    deliberate ``migrate-pause``."""
    return w.h_fault


def window_in_trouble(w: World) -> bool:
    """The commit's premise: the destination guest has not run, so the source holds the newest
    machine state, and the migration failed before PONG 0x42 reached the source."""
    return pre_pong_window(w) and migration_in_trouble(w) and not w.h_dst_ran


def commit_window_in_trouble(w: World) -> bool:
    """The same before the source acted on the PONG."""
    return pre_commit_window(w) and migration_in_trouble(w) and not w.h_dst_ran


def one_guest_with_all_state(w: World) -> bool:
    """Exactly one guest runs, and it has the whole machine: the source, or a destination whose
    migration completed."""
    s, d = src_running(w), dst_running(w)
    if s and not d:
        return True
    return d and not s and w.d_status is S.COMPLETED


def split_brain(w: World) -> bool:
    return src_running(w) and dst_running(w)


def rollback(w: World) -> bool:
    return src_running(w) and w.h_dst_ran


def _pong_on_its_way(w: World) -> bool:
    """PONG 0x42 was sent and not lost: it is queued on the return path or was received."""
    return w.s_loaded or PONG_0x42 in w.rp


# ---------------------------------------------------------------------------------------------
# The properties, in report order.

PROPERTIES: tuple[Property, ...] = (
    Property(
        "source-resumable-before-pong", Kind.ALWAYS_POSSIBLE,
        "Whenever the migration fails after the switchover began, before the source's return path "
        "received PONG 0x42 and before the destination guest ran, the source can still end with "
        "its guest running (it is never stuck there).",
        predicate=src_running, where=window_in_trouble, via=no_faults,
        partner="pre-pong-failure-reached",
        reference="7b842fe354 commit message (\"while the destination loads the device state\"); "
                  "tests-and-bugs.md P2, G1",
    ),
    Property(
        "pre-pong-failure-reached", Kind.SOMETIMES,
        "Some run fails after the switchover began and before the source received PONG 0x42.",
        predicate=window_in_trouble,
    ),
    Property(
        "source-resumable-until-committed", Kind.ALWAYS_POSSIBLE,
        "Whenever the migration fails after the switchover began, before the source acted on PONG "
        "0x42 (committed to postcopy-active) and before the destination guest ran, the source can "
        "still end with its guest running.",
        predicate=src_running, where=commit_window_in_trouble, via=no_faults,
        partner="pre-commit-failure-reached",
        reference="7b842fe354 (the source's state machine: postcopy-device until S12); protocol.md 7.3",
    ),
    Property(
        "pre-commit-failure-reached", Kind.SOMETIMES,
        "Some run fails after the switchover began and before the source acted on PONG 0x42.",
        predicate=commit_window_in_trouble,
    ),
    Property(
        "no-split-brain", Kind.ALWAYS,
        "The source and destination guests never run at the same time.",
        predicate=lambda w: not split_brain(w), partner="destination-guest-runs",
        reference="protocol.md P2, section 7.3; real-qemu.md finding 7",
    ),
    Property(
        "destination-guest-runs", Kind.SOMETIMES, "The destination guest starts in some run.",
        predicate=dst_running,
    ),
    Property(
        "no-split-brain-after-partition", Kind.ALWAYS,
        "After a silent partition that began after the postcopy switchover, the source and "
        "destination guests never run at the same time.",
        predicate=lambda w: not (w.h_partition and split_brain(w)), partner="partition-then-destination-runs",
        reference="real-qemu.md, 'The wait for PONG 0x42 when nothing is pending' (RST after the silent "
                  "partition: both guests run, 4 of 4)",
    ),
    Property(
        "partition-then-destination-runs", Kind.SOMETIMES,
        "In some run the destination guest runs after a silent partition that began after the "
        "postcopy switchover.",
        predicate=lambda w: w.h_partition and dst_running(w),
    ),
    Property(
        "no-rollback", Kind.ALWAYS,
        "Once the destination guest has run, the source guest never runs again.",
        predicate=lambda w: not rollback(w), partner="source-resumes-after-switchover",
        reference="tests-and-bugs.md P1; real-qemu.md (rollback after a silent partition)",
    ),
    Property(
        "no-rollback-after-partition", Kind.ALWAYS,
        "After a silent partition that began after the postcopy switchover, once the destination "
        "guest has run, the source guest never runs again.",
        predicate=lambda w: not (w.h_partition and rollback(w)), partner="partition-then-destination-runs",
        reference="real-qemu.md, 'The wait for PONG 0x42 when nothing is pending' (destination killed "
                  "after the silent partition: rollback, 4 of 4)",
    ),
    Property(
        "source-resumes-after-switchover", Kind.SOMETIMES,
        "In some run the source guest runs again after it was stopped for the postcopy switchover.",
        predicate=lambda w: src_running(w) and w.h_switched,
    ),
    Property(
        "no-vm-loss", Kind.ALWAYS_POSSIBLE,
        "From every reachable state before the source completed, QEMU and the operator can still get "
        "exactly one guest running with the whole machine state (the source, or a completed "
        "destination).",
        predicate=one_guest_with_all_state, where=lambda w: w.s_status is not S.COMPLETED, via=no_faults,
        partner="destination-guest-runs",
        reference="protocol.md P3",
    ),
    Property(
        "no-stuck-state", Kind.DEADLOCK_FREE,
        "Every reachable state is final or has a way forward by QEMU's own threads or the "
        "operator's migration commands (migrate_cancel, migrate-pause, migrate-recover, migrate "
        "resume, migrate-continue, cont, and quit of a destination after a failed migration); a "
        "state that only a fault, a healing network, a QMP yank or killing a process can end "
        "counts as stuck.",
        via=no_faults, reference="protocol.md P3; tests-and-bugs.md P4; docs/faults.md",
    ),
    Property(
        "migration-terminates", Kind.EVENTUALLY,
        "Once faults stop, every run ends with both sides finished (fair scheduling).",
        predicate=is_final, via=no_faults, partner="migration-completes",
    ),
    Property(
        "fault-free-runs-finish", Kind.ALWAYS_POSSIBLE,
        "As long as no fault has happened (a silent partition that healed before TCP gave up is "
        "only a delay), QEMU and "
        "the operator can always bring the migration to an end (no hang of QEMU's own making).",
        predicate=is_final, where=lambda w: not w.h_fault and not partitioned(w), via=no_faults,
        partner="migration-completes",
        reference="protocol.md R9 (the flush after the package, qemu-iotest 194)",
    ),
    Property(
        "completed-via-postcopy-active", Kind.ALWAYS,
        "A source that completes a postcopy migration passed through postcopy-active.",
        predicate=lambda w: not (w.s_status is S.COMPLETED and w.h_postcopy) or w.h_pca,
        partner="postcopy-completes", reference="protocol.md P4, R5; tests-and-bugs.md P5",
    ),
    Property(
        "postcopy-completes", Kind.SOMETIMES, "Some postcopy migration completes on the source.",
        predicate=lambda w: w.s_status is S.COMPLETED and w.h_postcopy,
    ),
    Property(
        "completed-after-clean-shut", Kind.ALWAYS,
        "A source reports completed only after the destination sent SHUT(0).",
        predicate=lambda w: w.s_status is not S.COMPLETED or w.h_shut == "0",
        partner="migration-completes", reference="protocol.md P4",
    ),
    Property(
        "migration-completes", Kind.SOMETIMES, "Some migration completes on the source.",
        predicate=lambda w: w.s_status is S.COMPLETED,
    ),
    Property(
        "postcopy-device-means-dst-not-run", Kind.ALWAYS,
        "While the source is in postcopy-device, the destination guest has never run.",
        predicate=lambda w: not (w.s_alive and w.s_status is S.POSTCOPY_DEVICE and w.h_dst_ran),
        partner="source-in-postcopy-device", reference="protocol.md P1, section 7.3",
    ),
    Property(
        "source-in-postcopy-device", Kind.SOMETIMES, "The source reaches postcopy-device.",
        predicate=lambda w: w.s_status is S.POSTCOPY_DEVICE,
    ),
    Property(
        "dst-pauses-only-after-run", Kind.ALWAYS,
        "The destination pauses (postcopy-paused) only after it processed RUN; earlier errors fail it.",
        predicate=lambda w: w.d_status is not S.POSTCOPY_PAUSED or w.d_pcs is PostcopyState.RUNNING,
        partner="destination-pauses", reference="tests-and-bugs.md P7; savevm.c qemu_loadvm_state_main",
    ),
    Property(
        "destination-pauses", Kind.SOMETIMES, "The destination reaches postcopy-paused.",
        predicate=lambda w: w.d_status is S.POSTCOPY_PAUSED,
    ),
    Property(
        "postcopy-never-cancelled", Kind.ALWAYS,
        "A migration that started postcopy never ends cancelled.",
        predicate=lambda w: not (w.s_status in (S.CANCELLED, S.CANCELLING) and w.h_postcopy),
        partner="migration-cancelled", reference="tests-and-bugs.md P3 (B6)",
    ),
    Property(
        "migration-cancelled", Kind.SOMETIMES, "Some migration is cancelled.",
        predicate=lambda w: w.s_status is S.CANCELLED,
    ),
    Property(
        "resumes-after-device-load-failure", Kind.ALWAYS_POSSIBLE,
        "After the destination failed to load the device state, the source can still end with its "
        "guest running.",
        predicate=src_running, where=lambda w: w.h_devload and w.h_postcopy and w.s_alive, via=no_faults,
        partner="device-load-failure-resumed", reference="7b842fe354; real-qemu.md finding 3; G1",
    ),
    Property(
        "device-load-failure-resumed", Kind.SOMETIMES,
        "In some run the destination fails to load the postcopy device state and the source guest "
        "runs again.",
        predicate=lambda w: w.h_devload and w.h_postcopy and src_running(w),
    ),
    # Added for the mutation analysis (issue 7): claims the model kept that no property above judged.
    Property(
        "dst-runs-only-after-pong", Kind.ALWAYS,
        "While the source is in postcopy-device and the connection is up, the destination guest has "
        "run only if PONG 0x42 is on its way to the source or was received (the PONG-in-flight "
        "window is the only way the destination runs during postcopy-device).",
        predicate=lambda w: not (w.s_alive and w.s_status is S.POSTCOPY_DEVICE and w.h_dst_ran
                                 and w.link == LINK_UP and not _pong_on_its_way(w)),
        partner="source-in-postcopy-device",
        reference="protocol.md 7.2 (implication A) and 7.3; 4.2 (V1 lost an early PONG)",
    ),
    Property(
        "rp-error-ends-postcopy-device", Kind.ALWAYS_POSSIBLE,
        "After the return path failed while the source is in postcopy-device, the source can still "
        "leave postcopy-device without another fault.",
        predicate=lambda w: not w.s_alive or w.s_status is not S.POSTCOPY_DEVICE,
        where=lambda w: w.s_alive and w.s_status is S.POSTCOPY_DEVICE and w.s_rp == RP_ERR,
        via=no_faults, partner="source-in-postcopy-device",
        reference="protocol.md section 6 (10.2 event wait) and its 11.1.3 note; R5",
    ),
)

__all__ = ["PROPERTIES", "no_faults"]
