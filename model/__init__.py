"""The executable model of QEMU live migration: what QEMU does, as data and pure functions.

Start with ``status.py`` (the QAPI names), ``messages.py`` (what travels on the wire), ``config.py``
(which QEMU, which capabilities, which faults), ``world.py`` (the global state), then the two sides'
transition tables ``source.py`` and ``destination.py``, the operator's commands ``management.py``,
the fault kinds and injector ``faults.py``, and ``system.py``, which puts them together as
``initial_states`` and ``successors``. ``machines.py`` builds ``transitions`` machines from the same tables.
"""
