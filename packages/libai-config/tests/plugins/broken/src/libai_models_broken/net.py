"""Imports a dependency that is not installed, as a plugin with a bad release would."""

import libai_missing_dependency_for_tests  # noqa: F401


class BrokenNet:
    pass
