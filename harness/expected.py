# ruff: noqa: E501  (one MIGRATION sequence per line, as in real-qemu.md)
"""MIGRATION status sequences observed in ``docs/real-qemu.md``.

Extracted mechanically from that document's per-pairing tables ("State sequences") and its
shared-disk table (h with one raw image, 7.2 and 11.1 only); "[on quit: ...]" parts are left out
because the harness puts teardown events after its teardown marker. Statuses are
space-separated. Used by the trace tests and ``tests/fixtures/traces/README.md`` to compare
what the harness recorded with what real-qemu.md reports.
"""

from __future__ import annotations

#: pairing -> scenario -> (src statuses, dst statuses)
REAL_QEMU_MD: dict[str, dict[str, tuple[str, str]]] = {
    "7.2-to-7.2": {
        "a2_kill_dst_in_postcopy_active": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-active",
        ),
        "a_kill_dst_after_start_postcopy": (
            "setup active failed",
            "setup active",
        ),
        "b_pause_recover": (
            "setup active postcopy-active postcopy-paused postcopy-recover postcopy-active completed",
            "setup active postcopy-active postcopy-paused setup postcopy-recover postcopy-active completed",
        ),
        "c2_cancel_postcopy": (
            "setup active postcopy-active cancelling cancelled",
            "setup active postcopy-active postcopy-paused",
        ),
        "c_cancel_precopy": (
            "setup active cancelling cancelled",
            "setup active failed",
        ),
        "d2_devload_fail_precopy": (
            "setup active failed",
            "setup active failed",
        ),
        "d4_ram_size_mismatch": (
            "setup active failed",
            "setup active failed",
        ),
        "d_devload_fail_postcopy": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-active",
        ),
        "e_kill_dst_precopy": (
            "setup active failed",
            "setup active",
        ),
        "f_kill_src_postcopy": (
            "setup active postcopy-active",
            "setup active postcopy-active postcopy-paused",
        ),
        "g_dst_pause_while_src_postcopy_device": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-active postcopy-paused",
        ),
        "h_partition_lost_pong": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-active postcopy-paused",
        ),
        "h_partition_lost_pong_shared_disk": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-active postcopy-paused",
        ),
        "postcopy_ok": (
            "setup active postcopy-active completed",
            "setup active postcopy-active completed",
        ),
        "precopy_ok": (
            "setup active completed",
            "setup active completed",
        ),
    },
    "11.1-to-11.1": {
        "a2_kill_dst_in_postcopy_active": (
            "setup active device postcopy-device postcopy-active postcopy-paused",
            "setup active postcopy-device postcopy-active",
        ),
        "a3_kill_dst_on_postcopy_device_event": (
            "setup active device postcopy-device failing failed",
            "setup active",
        ),
        "a_kill_dst_after_start_postcopy": (
            "setup active device failing failed",
            "setup active",
        ),
        "b_pause_recover": (
            "setup active device postcopy-device postcopy-active postcopy-paused postcopy-recover-setup postcopy-recover postcopy-active completed",
            "setup active postcopy-device postcopy-active postcopy-paused postcopy-recover postcopy-active completed",
        ),
        "c2_cancel_postcopy": (
            "setup active device postcopy-device postcopy-active completed",
            "setup active postcopy-device postcopy-active completed",
        ),
        "c_cancel_precopy": (
            "setup active cancelling cancelled",
            "setup active failed",
        ),
        "d2_devload_fail_precopy": (
            "setup active device failing failed",
            "setup active failed",
        ),
        "d3_devload_fail_postcopy_noexit": (
            "setup active device postcopy-device failing failed",
            "setup active postcopy-device failed",
        ),
        "d4_ram_size_mismatch": (
            "setup active failing failed",
            "setup active failed",
        ),
        "d_devload_fail_postcopy": (
            "setup active device postcopy-device failing failed",
            "setup active postcopy-device failed",
        ),
        "e_kill_dst_precopy": (
            "setup active failing failed",
            "setup active",
        ),
        "f_kill_src_postcopy": (
            "setup active device postcopy-device postcopy-active",
            "setup active postcopy-device postcopy-active postcopy-paused",
        ),
        "g_dst_pause_while_src_postcopy_device": (
            "setup active device postcopy-device postcopy-active postcopy-paused",
            "setup active postcopy-device postcopy-active postcopy-paused",
        ),
        "h_partition_lost_pong": (
            "setup active device postcopy-device failing failed",
            "setup active postcopy-device postcopy-active postcopy-paused",
        ),
        "h_partition_lost_pong_shared_disk": (
            "setup active device postcopy-device failing failed",
            "setup active postcopy-device postcopy-active postcopy-paused",
        ),
        "postcopy_ok": (
            "setup active device postcopy-device postcopy-active completed",
            "setup active postcopy-device postcopy-active completed",
        ),
        "precopy_ok": (
            "setup active device completed",
            "setup active completed",
        ),
    },
    "11.1-to-7.2": {
        "a2_kill_dst_in_postcopy_active": (
            "setup active device postcopy-device postcopy-active postcopy-paused",
            "setup active postcopy-active",
        ),
        "a3_kill_dst_on_postcopy_device_event": (
            "setup active device postcopy-device failing failed",
            "setup active",
        ),
        "a_kill_dst_after_start_postcopy": (
            "setup active device failing failed",
            "setup active",
        ),
        "b_pause_recover": (
            "setup active device postcopy-device postcopy-active postcopy-paused postcopy-recover-setup postcopy-recover postcopy-active completed",
            "setup active postcopy-active postcopy-paused setup postcopy-recover postcopy-active completed",
        ),
        "c2_cancel_postcopy": (
            "setup active device postcopy-device postcopy-active completed",
            "setup active postcopy-active completed",
        ),
        "c_cancel_precopy": (
            "setup active cancelling cancelled",
            "setup active failed",
        ),
        "d2_devload_fail_precopy": (
            "setup active device failing failed",
            "setup active failed",
        ),
        "d4_ram_size_mismatch": (
            "setup active failing failed",
            "setup active failed",
        ),
        "d_devload_fail_postcopy": (
            "setup active device postcopy-device failing failed",
            "setup active postcopy-active",
        ),
        "e_kill_dst_precopy": (
            "setup active failing failed",
            "setup active",
        ),
        "f_kill_src_postcopy": (
            "setup active device postcopy-device postcopy-active",
            "setup active postcopy-active postcopy-paused",
        ),
        "g_dst_pause_while_src_postcopy_device": (
            "setup active device postcopy-device postcopy-active postcopy-paused",
            "setup active postcopy-active postcopy-paused",
        ),
        "h_partition_lost_pong": (
            "setup active device postcopy-device failing failed",
            "setup active postcopy-active postcopy-paused",
        ),
        "postcopy_ok": (
            "setup active device postcopy-device postcopy-active completed",
            "setup active postcopy-active completed",
        ),
        "precopy_ok": (
            "setup active device completed",
            "setup active completed",
        ),
    },
    "7.2-to-11.1": {
        "a2_kill_dst_in_postcopy_active": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-device postcopy-active",
        ),
        "a_kill_dst_after_start_postcopy": (
            "setup active failed",
            "setup active",
        ),
        "b_pause_recover": (
            "setup active postcopy-active postcopy-paused postcopy-recover postcopy-active completed",
            "setup active postcopy-device postcopy-active postcopy-paused postcopy-recover postcopy-active completed",
        ),
        "c2_cancel_postcopy": (
            "setup active postcopy-active cancelling cancelled",
            "setup active postcopy-device postcopy-active postcopy-paused",
        ),
        "c_cancel_precopy": (
            "setup active cancelling cancelled",
            "setup active failed",
        ),
        "d2_devload_fail_precopy": (
            "setup active failed",
            "setup active failed",
        ),
        "d3_devload_fail_postcopy_noexit": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-device failed",
        ),
        "d4_ram_size_mismatch": (
            "setup active failed",
            "setup active failed",
        ),
        "d_devload_fail_postcopy": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-device failed",
        ),
        "e_kill_dst_precopy": (
            "setup active failed",
            "setup active",
        ),
        "f_kill_src_postcopy": (
            "setup active postcopy-active",
            "setup active postcopy-device postcopy-active postcopy-paused",
        ),
        "g_dst_pause_while_src_postcopy_device": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-device postcopy-active postcopy-paused",
        ),
        "h_partition_lost_pong": (
            "setup active postcopy-active postcopy-paused",
            "setup active postcopy-device postcopy-active postcopy-paused",
        ),
        "postcopy_ok": (
            "setup active postcopy-active completed",
            "setup active postcopy-device postcopy-active completed",
        ),
        "precopy_ok": (
            "setup active completed",
            "setup active completed",
        ),
    },
}


def expected(pairing: str, scenario: str) -> tuple[list[str], list[str]] | None:
    """(src, dst) MIGRATION statuses that real-qemu.md reports, or None if it has no row."""
    row = REAL_QEMU_MD.get(pairing, {}).get(scenario)
    if row is None:
        return None
    return row[0].split(), row[1].split()
