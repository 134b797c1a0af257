"""What must hold: named claims about QEMU live migration, judged by the generic checker."""
