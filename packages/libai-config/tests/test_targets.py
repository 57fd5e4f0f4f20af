"""Target strings to objects and back."""

from __future__ import annotations

import collections
import json
import os.path

import pytest
from libai.config.targets import dotted_path, locate, resolve_target


def test_locate_dotted_and_colon_paths():
    assert locate("collections.OrderedDict") is collections.OrderedDict
    assert locate("collections:OrderedDict") is collections.OrderedDict
    assert locate("os.path.join") is os.path.join
    assert locate("json.decoder.JSONDecoder") is json.decoder.JSONDecoder


def test_locate_builtins():
    assert locate("dict") is dict
    assert locate("builtins.dict") is dict


def test_locate_missing_attribute_suggests_nearest():
    with pytest.raises(LookupError, match="OrderedDict"):
        locate("collections.OrderDict")


def test_locate_missing_module():
    with pytest.raises(LookupError, match="no module named 'nonexistent_pkg_xyz'"):
        locate("nonexistent_pkg_xyz.Thing")


def test_dotted_path_prefers_shortest_reexport():
    assert dotted_path(collections.OrderedDict) == "collections.OrderedDict"
    assert dotted_path(json.JSONDecoder) == "json.JSONDecoder"
    assert dotted_path(dict) == "dict"


def test_dotted_path_none_for_lambda_and_local():
    def local():
        return None

    assert dotted_path(lambda: 0) is None
    assert dotted_path(local) is None


def test_resolve_target_dotted_path_goes_to_locate():
    assert resolve_target("collections.Counter") is collections.Counter
