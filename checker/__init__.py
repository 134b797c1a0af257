"""The generic checker: explores any ``checker.spec.Model`` and judges ``checker.spec.Property``s.

Nothing here knows about QEMU; a model plugs in through ``checker.spec``.
"""
