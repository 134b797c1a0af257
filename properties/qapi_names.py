"""The names QEMU's QMP interface can send: event names, ``MigrationStatus`` and ``RunState``.

Conformance (``properties/conformance.py``) needs them to tell a real QEMU event it does not model
(ignored and counted) from a name no QEMU sends (a rejection). Read from QEMU's QAPI schema:
``{ 'event': ... }`` in ``qapi/*.json`` of QEMU 7.2 and 10.2.2 (Debian's source trees), the enum
``MigrationStatus`` in ``qapi/migration.json`` and ``RunState`` in ``qapi/run-state.json``.
QEMU 11.1's schema was not read (no source tree here): its ``failing`` status is known from the
11.1.3 recordings (``tests/fixtures/traces/11.1-to-11.1``), and an 11.1 event newer than 10.2.2
would be reported as unknown.
"""

from __future__ import annotations

EVENTS_7_2 = frozenset([
    "ACPI_DEVICE_OST", "BALLOON_CHANGE", "BLOCK_EXPORT_DELETED", "BLOCK_IMAGE_CORRUPTED",
    "BLOCK_IO_ERROR", "BLOCK_JOB_CANCELLED", "BLOCK_JOB_COMPLETED", "BLOCK_JOB_ERROR",
    "BLOCK_JOB_PENDING", "BLOCK_JOB_READY", "BLOCK_WRITE_THRESHOLD", "COLO_EXIT", "DEVICE_DELETED",
    "DEVICE_TRAY_MOVED", "DEVICE_UNPLUG_GUEST_ERROR", "DUMP_COMPLETED", "FAILOVER_NEGOTIATED",
    "GUEST_CRASHLOADED", "GUEST_PANICKED", "JOB_STATUS_CHANGE", "MEMORY_DEVICE_SIZE_CHANGE",
    "MEMORY_FAILURE", "MEM_UNPLUG_ERROR", "MIGRATION", "MIGRATION_PASS", "NETDEV_STREAM_CONNECTED",
    "NETDEV_STREAM_DISCONNECTED", "NIC_RX_FILTER_CHANGED", "POWERDOWN", "PR_MANAGER_STATUS_CHANGED",
    "QUORUM_FAILURE", "QUORUM_REPORT_BAD", "RDMA_GID_STATUS_CHANGED", "RESET", "RESUME",
    "RTC_CHANGE", "SHUTDOWN", "SPICE_CONNECTED", "SPICE_DISCONNECTED", "SPICE_INITIALIZED",
    "SPICE_MIGRATE_COMPLETED", "STOP", "SUSPEND", "SUSPEND_DISK", "UNPLUG_PRIMARY",
    "VFU_CLIENT_HANGUP", "VNC_CONNECTED", "VNC_DISCONNECTED", "VNC_INITIALIZED", "VSERPORT_CHANGE",
    "WAKEUP", "WATCHDOG",
])
"""``{ 'event': ... }`` in QEMU 7.2's ``qapi/*.json``."""

EVENTS_10_2 = (EVENTS_7_2 - {"MEM_UNPLUG_ERROR", "RDMA_GID_STATUS_CHANGED"}) | frozenset([
    "CPU_POLARIZATION_CHANGE", "GUEST_PVSHUTDOWN", "HV_BALLOON_STATUS_REPORT",
    "NETDEV_VHOST_USER_CONNECTED", "NETDEV_VHOST_USER_DISCONNECTED", "SCLP_CPI_INFO_AVAILABLE",
    "VFIO_MIGRATION",
])
"""``{ 'event': ... }`` in QEMU 10.2.2's ``qapi/*.json``."""

EVENTS = EVENTS_7_2 | EVENTS_10_2
"""Every event name some modelled QEMU version sends."""

_STATUS_7_2 = frozenset({"none", "setup", "cancelling", "cancelled", "active", "postcopy-active",
                         "postcopy-paused", "postcopy-recover", "completed", "failed", "colo",
                         "pre-switchover", "device", "wait-unplug"})
_STATUS_10_2 = _STATUS_7_2 | {"postcopy-device", "postcopy-recover-setup"}

MIGRATION_STATUSES: dict[str, frozenset[str]] = {
    "7.2": _STATUS_7_2,
    "10.0": _STATUS_10_2 - {"postcopy-device"},  # postcopy-recover-setup since 9.1
    "10.0.5": _STATUS_10_2 - {"postcopy-device"},  # 10.0 with a stable fix (725a9e5f78)
    "10.2": _STATUS_10_2,
    "11.1": _STATUS_10_2 | {"failing"},
}
"""``MigrationStatus`` per model version (``qapi/migration.json``; 11.1: see the module doc)."""

RUN_STATES = frozenset({"debug", "inmigrate", "internal-error", "io-error", "paused", "postmigrate",
                        "prelaunch", "finish-migrate", "restore-vm", "running", "save-vm", "shutdown",
                        "suspended", "watchdog", "guest-panicked", "colo"})
"""``RunState`` (``qapi/run-state.json``, the same in 7.2 and 10.2.2)."""
