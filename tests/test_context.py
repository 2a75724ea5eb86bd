"""``ctx.config``: attribute access at every level, a plain dict underneath."""

from __future__ import annotations

import pytest

from mlxlaunch.running.context import AttrDict


def test_attribute_access_inside_lists():
    cfg = AttrDict({"layers": [{"size": 8}, {"size": 16}], "grid": [[{"x": 1}]], "lr": 0.1})
    assert [layer.size for layer in cfg.layers] == [8, 16]
    assert cfg.grid[0][0].x == 1
    assert isinstance(cfg.layers, list) and isinstance(cfg.layers[0], dict)
    assert cfg == {"layers": [{"size": 8}, {"size": 16}], "grid": [[{"x": 1}]], "lr": 0.1}


def test_unknown_attribute_suggests_a_key():
    cfg = AttrDict({"optimizer": {"lr": 0.1}})
    with pytest.raises(AttributeError, match="Did you mean 'lr'"):
        _ = cfg.optimizer.lrr
