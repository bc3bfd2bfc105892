"""tools/model_converters/evad_official_to_mmevad.py on a tiny checkpoint in the official layout."""
import argparse
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from _official_evad_reference import (TINY_ARCH, TINY_BASE_CONFIG, random_official_state_dict,
                                      tiny_model_overrides)
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmaction.registry import MODELS
from .conftest import ROOT, run_tool

TOOL = osp.join(ROOT, 'tools', 'model_converters', 'evad_official_to_mmevad.py')


def write_official_file(path, state_dict):
    """The official trainer's layout, but with the config pickled as an object (the trainer
    stores a YAML string) so that ``weights_only=True`` refuses the file."""
    torch.save(dict(epoch=12, model_state=state_dict, optimizer_state={},
                    cfg=argparse.Namespace(NUM_GPUS=8), amp=None), path)


def write_tiny_config(tmp_path):
    """A released config shrunk to the tiny architecture, as a config file."""
    path = tmp_path / 'tiny_evad.py'
    path.write_text(f'_base_ = [{osp.join(ROOT, TINY_BASE_CONFIG)!r}]\n'
                    f'model = {tiny_model_overrides()!r}\n')
    return str(path)


def test_converts_verifies_and_saves_what_mmengine_loads_strictly(tmp_path):
    official = random_official_state_dict(TINY_ARCH)
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    write_official_file(src, official)
    config = write_tiny_config(tmp_path)

    log = run_tool('model_converters/evad_official_to_mmevad.py', src, dst, '--verify', config,
                   cwd=tmp_path)
    assert 'weights_only=False' in log
    assert f'{len(official) - 1} renamed, 1 dropped, 0 unknown' in log
    assert 'dropped criterion.empty_weight' in log
    assert f'verified against {config}' in log

    # tools/test.py's path: mmengine's load_checkpoint of the file's state_dict
    model = MODELS.build(Config.fromfile(config).model)
    checkpoint = load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    assert checkpoint['meta']['converter'] == 'evad_official_to_mmevad'
    assert torch.equal(model.roi_head.decoder.action_heads[1].fc_cls.weight,
                       official['det_head.decoder.blocks.1.action_logits.weight'])
    assert torch.equal(model.neck.lateral_convs[0].conv.weight, official['fpn_lateral2.weight'])


def load_tool():
    spec = importlib.util.spec_from_file_location('evad_official_to_mmevad', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_unknown_key_stops_the_tool_before_saving(tmp_path, monkeypatch, capsys):
    official = random_official_state_dict(TINY_ARCH)
    official['det_head.extra_head.weight'] = torch.zeros(2)
    # the official trainer's file: config as a YAML string, optimizer state as a plain dict
    optimizer = torch.optim.AdamW([official['norm.weight'].clone().requires_grad_()])
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(dict(epoch=12, model_state=official, optimizer_state=optimizer.state_dict(),
                    cfg='TRAIN:\n  ENABLE: true\n', amp=None), src)
    monkeypatch.setattr(sys, 'argv', [TOOL, str(src), str(dst)])
    with pytest.raises(KeyError, match=r'det_head\.extra_head\.weight'):
        load_tool().main()
    assert 'weights_only=False' not in capsys.readouterr().out  # loaded with weights_only=True
    assert not dst.exists()
