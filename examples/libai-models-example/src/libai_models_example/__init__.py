"""An example third-party LiBai model plugin (see the README for the guide).

Kept empty on purpose: the registry lists ``models:tiny_mlp`` from metadata
alone, and this package is imported only when a config resolves it.
"""
