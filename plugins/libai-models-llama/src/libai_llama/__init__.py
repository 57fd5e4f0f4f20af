"""libai-models-llama: the Llama family as a LiBai plugin.

Nothing is imported here: the registry finds the components through entry points
(``models:llama``, ``tokenizers:llama``, ``datasets:alpaca``) and imports their
modules only when a config resolves them.
"""
