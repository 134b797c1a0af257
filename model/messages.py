"""What travels between the two QEMUs: ``MIG_CMD_*`` on the main stream, ``MIG_RP_MSG_*`` back.

System: ``enum qemu_vm_cmd`` in ``migration/savevm.c`` and ``enum mig_rp_message_type`` in
``migration/migration.h``; PING values from ``migration/migration.c`` (``postcopy_start``) and
``migration/savevm.h`` (``QEMU_VM_PING_PACKAGED_LOADED``).

Abstractions:
* RAM is abstract. ``RAM`` stands for "some pages in flight"; only its presence matters (a reader
  blocked on the main stream wakes up when something arrives). Consecutive chunks are merged.
* Device state is one ``DEVICE_STATE`` item; whether loading it fails is a fault, not a byte.
* PING 2 and its PONG are left out: they only post ``rp_pong_acks``. PING 1 is kept with
  postcopy-preempt, whose ``migration_wait_main_channel`` waits for that first PONG. PING 3, 0x42 and 4 are kept:
  0x42 is the handshake, 3 comes before it in the package, and the destination's listen thread
  answers PING 4, which decides whether it is blocked reading when the device load fails.
* The package (``MIG_CMD_PACKAGED``) is one message; the destination walks through its contents
  (``PACKAGE``) one item per step, since interleavings between them matter.
"""

from __future__ import annotations

import enum


class MigCmd(enum.Enum):
    """``QEMU_VM_COMMAND`` sub-commands (numbers as in ``enum qemu_vm_cmd``)."""

    MIG_CMD_INVALID = 0
    MIG_CMD_OPEN_RETURN_PATH = 1
    MIG_CMD_PING = 2
    MIG_CMD_POSTCOPY_ADVISE = 3
    MIG_CMD_POSTCOPY_LISTEN = 4
    MIG_CMD_POSTCOPY_RUN = 5
    MIG_CMD_POSTCOPY_RAM_DISCARD = 6
    MIG_CMD_PACKAGED = 7
    MIG_CMD_ENABLE_COLO = 8
    MIG_CMD_POSTCOPY_RESUME = 9
    MIG_CMD_RECV_BITMAP = 10
    MIG_CMD_SWITCHOVER_START = 11


class RpMsg(enum.Enum):
    """Return-path message types (``enum mig_rp_message_type``)."""

    MIG_RP_MSG_INVALID = 0
    MIG_RP_MSG_SHUT = 1
    MIG_RP_MSG_PONG = 2
    MIG_RP_MSG_REQ_PAGES_ID = 3
    MIG_RP_MSG_REQ_PAGES = 4
    MIG_RP_MSG_RECV_BITMAP = 5
    MIG_RP_MSG_RESUME_ACK = 6
    MIG_RP_MSG_SWITCHOVER_ACK = 7


# PING values sent by postcopy_start(): 1 after OPEN_RETURN_PATH, 2 before the package, 3 and
# 0x42 inside it, 4 after it.
PING_OPEN_RETURN_PATH = 1
PING_BEFORE_PACKAGE = 2
PING_IN_PACKAGE = 3
QEMU_VM_PING_PACKAGED_LOADED = 0x42
PING_AFTER_PACKAGE = 4

# ---------------------------------------------------------------------------------------------
# Wire items, as the model carries them. Plain strings keep states small and readable in traces.

# Main stream (source -> destination).
OPEN_RETURN_PATH = "MIG_CMD_OPEN_RETURN_PATH"
POSTCOPY_ADVISE = "MIG_CMD_POSTCOPY_ADVISE"
PACKAGED = "MIG_CMD_PACKAGED"
PING_1 = "MIG_CMD_PING(1)"
PING_4 = "MIG_CMD_PING(4)"
POSTCOPY_RESUME = "MIG_CMD_POSTCOPY_RESUME"
RAM = "RAM"  # iterable sections: pages
DEVICE_STATE = "DEVICE_STATE"  # non-iterable device sections (precopy completion)
EOF = "QEMU_VM_EOF"

# Items inside MIG_CMD_PACKAGED, in the order postcopy_start() builds the package.
LISTEN = "MIG_CMD_POSTCOPY_LISTEN"
PKG_DEVICE_STATE = "DEVICE_STATE"
PING_3 = "MIG_CMD_PING(3)"
PING_0x42 = "MIG_CMD_PING(0x42)"
RUN = "MIG_CMD_POSTCOPY_RUN"

# Return path (destination -> source).
PONG_3 = "MIG_RP_MSG_PONG(3)"
PONG_0x42 = "MIG_RP_MSG_PONG(0x42)"
PONG_1 = "MIG_RP_MSG_PONG(1)"
PONG_4 = "MIG_RP_MSG_PONG(4)"
SHUT_0 = "MIG_RP_MSG_SHUT(0)"
SHUT_1 = "MIG_RP_MSG_SHUT(1)"
RESUME_ACK = "MIG_RP_MSG_RESUME_ACK"

PONG_FOR = {PING_1: PONG_1, PING_3: PONG_3, PING_0x42: PONG_0x42, PING_4: PONG_4}
