"""Command-line tools of libai-data: ``python -m libai.data.tools.preprocess`` (see that module)."""
