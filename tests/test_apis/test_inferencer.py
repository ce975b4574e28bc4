"""PanopticFCNInferencer: mmdet's DetInferencer on an initialised demo
model, from a config path or a model name of a model index; its pictures,
COCO-panoptic PNG + JSON, and the form of the instance masks."""
import json
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.infer.infer import BaseInferencer
from pycocotools import mask as mask_utils
from test_inference import DEMO_CONFIG, IMAGES, KEEP_ALL, save_checkpoint

from mmpfcn.apis import PanopticFCNInferencer, inference_model, init_model
from mmpfcn.evaluation.functional import read_panoptic_png
from mmpfcn.evaluation.functional.rle import encode_masks

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
IMAGE = osp.join(IMAGES, '000000439180.jpg')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'model.pth')[0]


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    """The demo config keeping every segment of an untrained model."""
    model = init_model(DEMO_CONFIG, cfg_options=KEEP_ALL)
    path = str(tmp_path_factory.mktemp('cfg') / 'config.py')
    model.cfg.dump(path)
    return path


@pytest.fixture(scope='module')
def inferencer(config, checkpoint):
    return PanopticFCNInferencer(config, checkpoint, device='cpu',
                                 show_progress=False)


def test_predictions_pictures_png_and_json(inferencer, config, checkpoint,
                                           tmp_path):
    out = tmp_path / 'out'
    results = inferencer([IMAGES], out_dir=str(out), no_save_pred=False,
                         batch_size=2, return_vis=True)
    assert len(results['predictions']) == 2
    # batched as by the inferencer (padding moves the outputs a little)
    reference = inference_model(init_model(config, checkpoint), sorted(
        osp.join(IMAGES, name) for name in os.listdir(IMAGES)),
        batch_size=2)[1]
    assert reference.img_path == IMAGE
    for stem in ('000000142238', '000000439180'):
        image = mmcv.imread(osp.join(IMAGES, f'{stem}.jpg'))
        assert mmcv.imread(str(out / 'vis' / f'{stem}.jpg')).shape == \
            image.shape
        ids = read_panoptic_png(str(out / 'preds' /
                                    f'{stem}_panoptic_seg.png'))
        record = json.loads((out / 'preds' / f'{stem}.json').read_text())
        segments = record['annotations'][0]['segments_info']
        assert segments and sorted(np.unique(ids[ids > 0]).tolist()) == \
            sorted(s['id'] for s in segments)
        for seg in segments:
            assert (ids == seg['id']).sum() == seg['area']
        assert record['panoptic_seg_path'].endswith(
            f'preds/{stem}_panoptic_seg.png')
    # the same segmentation as the functional API: one segment id per
    # panoptic value and back
    pan = reference.pred_panoptic_seg.sem_seg[0].numpy()
    pairs = np.unique(np.stack([ids.ravel().astype(np.int64), pan.ravel()]),
                      axis=1)
    assert pairs.shape[1] == len(np.unique(pan)) == len(np.unique(ids))
    # returned pictures: RGB, the size of the image
    assert results['visualization'][1].shape == image.shape


def test_without_out_dir_nothing_is_written(inferencer, tmp_path,
                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = inferencer(IMAGE)
    prediction = result['predictions'][0]
    assert prediction['panoptic_seg'].shape == (*mmcv.imread(IMAGE).shape[:2],
                                                3)
    assert 'panoptic_seg_path' not in prediction
    assert result['visualization'] == []
    assert list(tmp_path.iterdir()) == []


def test_arrays_are_numbered_and_bad_inputs_skipped(inferencer, tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'not a jpeg')
    skipped = []
    inferencer.on_skip = lambda index, message: skipped.append(message)
    start = inferencer.num_predicted_imgs
    try:
        results = inferencer([mmcv.imread(IMAGE), str(bad)],
                             out_dir=str(tmp_path / 'o'))
    finally:
        inferencer.on_skip = None
    assert len(results['predictions']) == 1
    assert 'broken.jpg' in skipped[0]
    assert (tmp_path / 'o' / 'vis' / f'{start:08d}.jpg').exists()


def test_score_threshold_hides_things_in_the_picture_only(inferencer):
    low = inferencer(IMAGE, return_vis=True, pred_score_thr=0.0)
    high = inferencer(IMAGE, return_vis=True, pred_score_thr=1.1)
    scores = [s['score'] for s in low['predictions'][0]['annotations'][0][
        'segments_info'] if 'score' in s]
    assert scores, 'the untrained model paints things'
    assert not np.array_equal(low['visualization'][0],
                              high['visualization'][0])
    assert low['predictions'][0]['annotations'] == \
        high['predictions'][0]['annotations']


def test_rle_masks_pass_through(inferencer):
    """The Inferencer asks the model for RLE masks (no full-size bitmap
    per instance); they are written as the bitmaps of mmdet's format are,
    and encoding those bitmaps gives the same RLEs."""
    fusion_cfg = inferencer.model.panoptic_fusion_head.test_cfg
    assert fusion_cfg.instance_masks == 'rle'
    data = next(inferencer.preprocess([IMAGE]))[1]
    sample = inferencer.forward(data)[0]
    from_rle = inferencer.pred2dict(sample)
    fusion_cfg.instance_masks = 'bitmap'
    try:
        # fresh data samples: predict writes its results into them
        bitmap_sample = inferencer.forward(
            next(inferencer.preprocess([IMAGE]))[1])[0]
    finally:
        fusion_cfg.instance_masks = 'rle'
    assert sample.pred_instances.masks == encode_masks(
        bitmap_sample.pred_instances.masks)
    dense = inferencer.pred2dict(bitmap_sample)
    assert from_rle['masks'] == dense['masks']
    # (the second call's output stem is another: compare the segments)
    assert [a['segments_info'] for a in from_rle['annotations']] == [
        a['segments_info'] for a in dense['annotations']]
    decoded = mask_utils.decode(dict(dense['masks'][0],
                                     counts=dense['masks'][0]['counts']))
    assert decoded.shape == mmcv.imread(IMAGE).shape[:2]


def test_model_name_of_the_model_index(tmp_path, checkpoint, monkeypatch):
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'model-index.yml').write_text(
        'Import:\n  - configs/metafile.yml\n')
    (tmp_path / 'configs' / 'metafile.yml').write_text(
        'Models:\n  - Name: tiny-panoptic-fcn\n'
        f'    Alias: tiny\n    Config: {DEMO_CONFIG}\n'
        '    Weights: https://example.invalid/none.pth\n')
    monkeypatch.setattr(BaseInferencer, '_get_repo_or_mim_dir',
                        staticmethod(lambda scope: str(tmp_path)))
    by_name = PanopticFCNInferencer('tiny', checkpoint, device='cpu',
                                    show_progress=False)
    assert by_name.model.dataset_meta['thing_classes'] == ('a', 'b', 'c',
                                                           'd')
    with pytest.raises(ValueError, match='no-such-model.*tiny-panoptic-fcn'):
        PanopticFCNInferencer('no-such-model', checkpoint)


@pytest.mark.skipif(not osp.isfile(osp.join(ROOT, 'model-index.yml')),
                    reason='the repository has no model-index.yml')
def test_the_repository_model_index_resolves_every_name(checkpoint):
    """Every model name of the repository's index gives its config (the
    weights are not fetched: the config alone is resolved)."""
    from mmengine.config import Config
    for entry in BaseInferencer._get_models_from_metafile(ROOT):
        config, weights = PanopticFCNInferencer._load_model_from_metafile(
            type('Probe', (), dict(scope='mmpfcn'))(), entry['Name'])
        assert isinstance(config, Config) and 'model' in config
        listed = entry.get('Weights')  # none: no mmpfcn checkpoint yet
        assert weights == (listed[0] if isinstance(listed, list) else
                           listed)


def test_bad_palette_and_weights_are_named(config, checkpoint):
    with pytest.raises(ValueError, match="palette 'nope'"):
        PanopticFCNInferencer(config, checkpoint, palette='nope')
    torch.save(dict(state_dict={'x': torch.zeros(1)}), checkpoint + '.bad')
    with pytest.raises(ValueError, match='unexpected keys'):
        PanopticFCNInferencer(config, checkpoint + '.bad')
