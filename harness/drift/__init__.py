"""``migmodel drift``: a QEMU source tree against the model rows of its version.

``ctree`` reads the C (tree-sitter), ``qapi`` the QAPI schema, ``modelfacts`` the model's rows of a
version, ``compare`` puts them side by side with ``explained.toml``, ``cli`` is the subcommand.
"""
