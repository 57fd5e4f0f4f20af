"""LiBai's training engine.

Attributes are imported lazily (PEP 562) so that ``libai.engine.cli`` -- and
with it ``libai-engine --help``, ``list``, ``check`` -- never imports OneFlow.
"""
