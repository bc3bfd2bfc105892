"""mmevad.utils.cli: what the command-line tools share (config loading, launcher flags)."""
import argparse
import os

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmevad.utils import load_config, parse_args_with_launcher

def write_config(tmp_path, text):
    path = tmp_path / 'cfg.py'
    path.write_text(text)
    return path

def test_load_config_merges_options_and_sets_the_config_scope(tmp_path):
    path = write_config(tmp_path, "default_scope = 'mmdet'\nmodel = dict(type='X', depth=2)\n")
    with DefaultScope.overwrite_default_scope('mmaction'):  # restored afterwards
        cfg = load_config(str(path), {'model.depth': 5})
        assert DefaultScope.get_current_instance().scope_name == 'mmdet'
    assert cfg.model.depth == 5 and cfg.model.type == 'X'

def test_load_config_defaults_to_the_mmaction_scope(tmp_path):
    load_config(write_config(tmp_path, 'model = dict(type="X")\n'))  # a pathlib.Path
    assert DefaultScope.get_current_instance().scope_name == 'mmaction'

def test_load_config_copies_a_loaded_config():
    cfg = Config(dict(model=dict(depth=2)))
    merged = load_config(cfg, {'model.depth': 3})
    assert merged.model.depth == 3 and cfg.model.depth == 2

def test_load_config_rejects_other_types():
    with pytest.raises(TypeError, match='file path or a Config'):
        load_config(dict(model=dict()))

def test_launcher_args_export_the_local_rank(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    monkeypatch.setattr('sys.argv', ['tool', '--launcher', 'pytorch', '--local-rank', '3'])
    args = parse_args_with_launcher(argparse.ArgumentParser())
    assert (args.launcher, args.local_rank) == ('pytorch', 3)
    assert os.environ['LOCAL_RANK'] == '3'
    # a rank set by the launcher wins over the flag's default
    monkeypatch.setenv('LOCAL_RANK', '1')
    monkeypatch.setattr('sys.argv', ['tool'])
    parse_args_with_launcher(argparse.ArgumentParser())
    assert os.environ['LOCAL_RANK'] == '1'
