"""A plugin module that raises while it is imported."""

raise RuntimeError("libai-models-broken: plugin module failed on purpose")
