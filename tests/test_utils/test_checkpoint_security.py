"""Checkpoints run no code: a pickle that would write a marker file is
refused, naming the file, the global and the opt-in, by every way a
checkpoint is loaded (mmengine's loaders, init_model, the Inferencer,
mmdet's init_detector, load_from, --resume, Pretrained init_cfg from a
file, a URL or open-mmlab://, the converter's .pth and .pkl, the tools),
and the marker is never written; real checkpoints still load, and
torch's allowlist is the same after a load as before."""
import fractions
import functools
import http.server
import importlib.util
import json
import os
import os.path as osp
import pickle
import re
import subprocess
import sys
import threading

import pytest
import torch
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from test_checkpoint import ToyModel, _runner

from mmpfcn.apis import PanopticFCNInferencer, init_model
from mmpfcn.engine import find_resumable_checkpoint
from mmpfcn.registry import MODELS
from mmpfcn.utils import (
    CheckpointLoadError,
    UntrustedCheckpointError,
    load_checkpoint_file,
    register_all_modules,
    safe_pickle_load,
)
from mmpfcn.utils.checkpoint import TRUST_ENV

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs', 'panoptic_fcn',
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
IMAGE = osp.join(ROOT, 'tests', 'data', 'coco_panoptic_sample', 'images',
                 '000000142238.jpg')
# the refusal of a planted call of open(): file, global, opt-in
REFUSED = re.compile(r"checkpoint '(?P<file>[^']+)' refused: it names the "
                     r'global (builtins|io)\.open, .*MMPFCN_TRUST_CHECKPOINTS'
                     r'=1 \(or pass --trust-checkpoint')


class Planted:
    """Pickles as ``open(marker, 'w')``: loading it with full pickle
    creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, 'w'))


class StatisticsLookup:
    """Pickles as ``getattr(HistoryBuffer, name)`` (mmengine checkpoints
    name HistoryBuffer's statistics methods so)."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return (getattr, (HistoryBuffer, self.name))


@pytest.fixture(scope='module')
def demo_state():
    register_all_modules()
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        model = MODELS.build(Config.fromfile(DEMO_CONFIG).model)
    return model.state_dict()


@pytest.fixture
def planted(tmp_path, demo_state):
    """``(path, marker)``: the demo model's weights with a planted call
    in ``meta``."""
    marker = tmp_path / 'MARKER'
    path = tmp_path / 'planted.pth'
    torch.save(dict(state_dict=demo_state, meta=dict(x=Planted(marker))),
               path)
    yield str(path), marker
    assert not marker.exists(), 'the planted code ran'


def assert_refused(err, path):
    message = str(err.value if hasattr(err, 'value') else err)
    match = REFUSED.search(message)
    assert match, message
    assert osp.basename(match['file']) == osp.basename(path), message


@pytest.fixture
def http_dir(tmp_path, monkeypatch):
    """``(folder, base_url)``: a local HTTP server of ``folder``; torch's
    download cache in tmp_path."""
    folder = tmp_path / 'served'
    folder.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_mmengine_load_checkpoint_init_model_and_inferencer(planted):
    path, _ = planted
    with pytest.raises(UntrustedCheckpointError) as err:
        load_checkpoint(ToyModel(), path)
    assert_refused(err, path)
    with pytest.raises(UntrustedCheckpointError) as err:
        init_model(DEMO_CONFIG, path)
    assert_refused(err, path)
    with pytest.raises(UntrustedCheckpointError) as err:
        PanopticFCNInferencer(DEMO_CONFIG, path, device='cpu')
    assert_refused(err, path)


def test_mmdet_init_detector_of_another_model(planted):
    import mmdet
    from mmdet.apis import init_detector
    config = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                      'retinanet', 'retinanet_r18_fpn_1x_coco.py')
    path, _ = planted
    with pytest.raises(UntrustedCheckpointError) as err:
        init_detector(config, path, device='cpu')
    assert_refused(err, path)


@pytest.mark.parametrize('resume', [False, True])
def test_runner_load_from_and_resume(planted, tmp_path, resume):
    path, _ = planted
    runner = _runner(tmp_path / 'work', max_iters=1, load_from=path,
                     resume=resume)
    with pytest.raises(UntrustedCheckpointError) as err:
        runner.train()
    assert_refused(err, path)


def test_resume_without_a_path_stops_at_a_planted_checkpoint(planted,
                                                             tmp_path):
    path, _ = planted
    work = tmp_path / 'work'
    work.mkdir()
    os.replace(path, work / 'iter_8.pth')
    (work / 'last_checkpoint').write_text(str(work / 'iter_8.pth'))
    with pytest.raises(UntrustedCheckpointError) as err:
        find_resumable_checkpoint(str(work))
    assert_refused(err, 'iter_8.pth')


def _pretrained_backbone(checkpoint):
    """A demo backbone whose init_cfg loads ``checkpoint``."""
    register_all_modules()
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                       checkpoint=checkpoint)
    with DefaultScope.overwrite_default_scope('mmpfcn'):
        return MODELS.build(cfg.model.backbone)


def test_pretrained_init_cfg_file_url_and_open_mmlab(planted, http_dir,
                                                     tmp_path, monkeypatch):
    path, _ = planted
    with pytest.raises(UntrustedCheckpointError) as err:
        _pretrained_backbone(path).init_weights()
    assert_refused(err, path)

    folder, base_url = http_dir
    os.replace(path, folder / 'served.pth')
    with pytest.raises(UntrustedCheckpointError) as err:
        _pretrained_backbone(f'{base_url}/served.pth').init_weights()
    assert_refused(err, 'served.pth')  # the downloaded copy, named

    # open-mmlab:// names: one a file of MMENGINE_HOME, one a URL
    home = tmp_path / 'mmengine_home'
    home.mkdir()
    os.replace(folder / 'served.pth', home / 'local.pth')
    (folder / 'url.pth').write_bytes((home / 'local.pth').read_bytes())
    (home / 'open_mmlab.json').write_text(json.dumps(
        dict(planted_local='local.pth', planted_url=f'{base_url}/url.pth')))
    monkeypatch.setenv('MMENGINE_HOME', str(home))
    for name, file_name in (('planted_local', 'local.pth'),
                            ('planted_url', 'url.pth')):
        with pytest.raises(UntrustedCheckpointError) as err:
            _pretrained_backbone(f'open-mmlab://{name}').init_weights()
        assert_refused(err, file_name)


def test_converter_pth_and_pkl(planted, load_tool, tmp_path):
    converter = load_tool('model_converters/panopticfcn_to_mmpfcn.py')
    path, marker = planted
    with pytest.raises(UntrustedCheckpointError) as err:
        converter.load_reference(path)
    assert_refused(err, path)
    pkl = tmp_path / 'planted.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump(dict(model=dict(x=Planted(marker))), f, protocol=2)
    with pytest.raises(UntrustedCheckpointError) as err:
        converter.load_reference(str(pkl))
    assert_refused(err, pkl)


def _run(args, cwd):
    return subprocess.run(
        [sys.executable] + args, cwd=str(cwd), capture_output=True,
        text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))


def test_tools_refuse_in_one_line(planted, tmp_path, synthetic_dataset_dir):
    path, _ = planted
    # the config's relative data_root, found from the working dir
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'synthetic_panoptic').symlink_to(
        synthetic_dataset_dir)
    no_workers = [f'{split}_dataloader.{key}'
                  for split in ('train', 'val', 'test')
                  for key in ('num_workers=0', 'persistent_workers=False')]
    # the line's prefix -> the command
    runs = {
        'tools/test.py: error:': [
            'tools/test.py', DEMO_CONFIG, path, '--work-dir',
            str(tmp_path / 'test'), '--cfg-options'] + no_workers[4:],
        'tools/train.py: error:': [
            'tools/train.py', DEMO_CONFIG, '--resume', path, '--work-dir',
            str(tmp_path / 'train'), '--cfg-options'] + no_workers[:4],
        'error:': ['tools/model_converters/panopticfcn_to_mmpfcn.py', path,
                   str(tmp_path / 'out.pth')],
    }
    for prefix, args in runs.items():
        args[0] = osp.join(ROOT, args[0])
        proc = _run(args, tmp_path)
        assert proc.returncode != 0, prefix
        assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(f'{prefix} checkpoint'), last
        assert_refused(last, path)
    assert not (tmp_path / 'out.pth').exists()


def test_image_demo_refuses_in_one_line(planted, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'image_demo_security', osp.join(ROOT, 'demo', 'image_demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    path, _ = planted
    code = demo.main([IMAGE, DEMO_CONFIG, '--weights', path, '--out-dir',
                      str(tmp_path / 'out')])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('image_demo: error: checkpoint'), err
    assert_refused(err[-1], path)


def test_mmengine_checkpoints_load_and_allowlist_is_unchanged(tmp_path):
    runner = _runner(tmp_path / 'work', max_iters=2)
    runner.train()
    path = str(tmp_path / 'work' / 'iter_2.pth')
    user_allowed = [fractions.Fraction]
    torch.serialization.add_safe_globals(user_allowed)
    try:
        before = set(torch.serialization.get_safe_globals())
        checkpoint = load_checkpoint_file(path, map_location='cpu')
        assert set(torch.serialization.get_safe_globals()) == before
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(
            [g for g in before if g not in user_allowed])
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and len(buffer.data[0]) == 2
    assert checkpoint['meta']['iter'] == 2
    # other torch.load calls get torch's plain allowlist
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path, weights_only=True)


def test_getattr_only_names_history_buffer_statistics(tmp_path):
    path = tmp_path / 'stats.pth'
    torch.save(dict(m=StatisticsLookup('mean')), path)
    assert load_checkpoint_file(str(path))['m'] is HistoryBuffer.mean
    torch.save(dict(m=StatisticsLookup('__init__')), path)
    with pytest.raises(UntrustedCheckpointError,
                       match='getattr:HistoryBuffer.__init__'):
        load_checkpoint_file(str(path))


def test_trusted_files_load_only_on_opt_in(tmp_path, monkeypatch):
    path = tmp_path / 'fraction.pth'
    torch.save(dict(meta=dict(ratio=fractions.Fraction(1, 3))), path)
    with pytest.raises(UntrustedCheckpointError,
                       match='global fractions.Fraction'):
        load_checkpoint_file(str(path))
    monkeypatch.setenv(TRUST_ENV, '1')
    assert load_checkpoint_file(str(path))['meta']['ratio'] == \
        fractions.Fraction(1, 3)
    monkeypatch.setenv(TRUST_ENV, 'maybe')
    with pytest.raises(ValueError, match='MMPFCN_TRUST_CHECKPOINTS'):
        load_checkpoint_file(str(path))


def test_numpy_pickles_load_and_broken_files_are_named(tmp_path):
    import numpy as np
    pkl = tmp_path / 'model.pkl'
    with open(pkl, 'wb') as f:
        pickle.dump(dict(model=dict(w=np.arange(3, dtype=np.float32)),
                         step=np.int64(4)), f, protocol=2)
    loaded = safe_pickle_load(str(pkl))
    assert loaded['model']['w'].tolist() == [0, 1, 2]
    (tmp_path / 'empty.pth').write_bytes(b'')
    (tmp_path / 'random.pth').write_bytes(b'\x00' + os.urandom(63))
    for name, reason in (('empty.pth', 'is empty'),
                         ('random.pth', 'is not a checkpoint')):
        with pytest.raises(CheckpointLoadError, match=reason) as err:
            load_checkpoint_file(str(tmp_path / name))
        assert name in str(err.value)
