"""configs/evad/metafile.yml agrees with the configs it lists."""
import glob
import os.path as osp
import re

import yaml
from _utils import ROOT
from mmengine.config import Config


def test_metafile_matches_configs():
    with open(osp.join(ROOT, 'configs', 'evad', 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    released = {
        osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs/evad/evad_vit-*.py'))
        if 'synthetic' not in p
    }
    assert {m['Config'] for m in models} == released
    for model in models:
        assert model['Name'] == osp.splitext(osp.basename(model['Config']))[0]
        gpus, batch, epochs = map(
            int, re.search(r'_(\d+)xb(\d+)-.*-(\d+)e_', model['Name']).groups())
        cfg = Config.fromfile(osp.join(ROOT, model['Config']))
        assert cfg.train_dataloader.batch_size == batch
        # mmaction2's metafiles give the total batch size (all GPUs)
        assert model['Metadata']['Batch Size'] == gpus * batch
        assert cfg.train_cfg.max_epochs == epochs == model['Metadata']['Epochs']
        assert model['Metadata']['Training Resources'] == f'{gpus} GPUs'
        assert cfg.auto_scale_lr.base_batch_size == gpus * batch
        # weights are a download link or absent, never prose (mim downloads them)
        links = [model.get('Weights'), *model.get('Converted From', {}).values()]
        assert all(link.startswith('https://') for link in links if link is not None)


def test_model_index_imports_every_metafile():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        imported = set(yaml.safe_load(f)['Import'])
    metafiles = {
        osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '*', 'metafile.yml'))
    }
    assert imported == metafiles
