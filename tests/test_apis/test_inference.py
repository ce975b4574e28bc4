"""The inference API: models from a config and checkpoint, inference on
paths and arrays without annotation files, batching, bad input."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmdet.evaluation import INSTANCE_OFFSET
from mmengine.config import Config

from mmpfcn.apis import (
    CheckpointMismatchError,
    UnreadableImageError,
    build_inference_pipeline,
    inference_model,
    init_model,
    list_images,
    read_image,
)
from mmpfcn.registry import MODELS
from mmpfcn.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
COCO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r50_fpn_3x_coco-panoptic.py')
IMAGES = osp.join(ROOT, 'tests/data/coco_panoptic_sample/images')
THING_BIAS = 'panoptic_head.thing_generator.embed_extractor.bias'
# paint every thing and keep every stuff segment of an untrained model
KEEP_ALL = {'model.test_cfg.merge_thing_thr': 0.0,
            'model.test_cfg.stuff_area_limit': 1}


def save_checkpoint(path, seed=0, edit=None):
    """A seeded, initialised demo model saved as an mmengine checkpoint."""
    register_all_modules()
    cfg = Config.fromfile(DEMO_CONFIG)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = model.state_dict()
    if edit is not None:
        edit(state)
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(
        classes=('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'),
        thing_classes=('a', 'b', 'c', 'd'),
        stuff_classes=('e', 'f', 'g', 'h'),
        palette=[(i * 30, 0, 0) for i in range(8)]))), path)
    return str(path), model


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'model.pth')


@pytest.fixture(scope='module')
def model(checkpoint):
    return init_model(DEMO_CONFIG, checkpoint[0], cfg_options=KEEP_ALL)


def test_weights_and_meta_come_from_the_checkpoint(model, checkpoint):
    reference = checkpoint[1].state_dict()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, reference[key], rtol=0, atol=0)
    assert model.dataset_meta['thing_classes'] == ('a', 'b', 'c', 'd')
    assert not model.training


def test_inference_pipeline_needs_no_annotations():
    pipeline, read_args = build_inference_pipeline(
        Config.fromfile(COCO_CONFIG))
    names = [type(t).__name__ for t in pipeline.transforms]
    assert names == ['PanopticResize', 'PackDetInputs']
    assert read_args == {}
    pack = pipeline.transforms[-1]
    assert not [k for k in pack.meta_keys if k.startswith('gt_')]


def test_paths_and_arrays_give_the_same_result(model):
    path = osp.join(IMAGES, '000000439180.jpg')
    image = mmcv.imread(path)
    from_path = inference_model(model, path)
    from_array = inference_model(model, image)
    pan = from_path.pred_panoptic_seg.sem_seg
    assert pan.shape == (1, *image.shape[:2])
    torch.testing.assert_close(pan, from_array.pred_panoptic_seg.sem_seg)
    labels = pan % INSTANCE_OFFSET
    # classes 0..7 or void (8); an initialised model paints something
    assert labels.max() <= 8 and (labels < 8).any()
    assert from_path.pred_sem_seg.sem_seg.shape == (1, *image.shape[:2])
    masks = from_path.pred_instances.masks
    assert masks.shape[1:] == image.shape[:2] and masks.dtype == torch.bool
    assert from_path.metainfo['img_path'] == path
    assert from_array.metainfo['img_path'] is None


def test_batches_equal_single_images(model):
    path = osp.join(IMAGES, '000000142238.jpg')
    single = inference_model(model, [path])
    batched = inference_model(model, [path, path, path], batch_size=2)
    assert len(batched) == 3
    for sample in batched:
        torch.testing.assert_close(sample.pred_panoptic_seg.sem_seg,
                                   single[0].pred_panoptic_seg.sem_seg)
    assert [s.metainfo['img_id'] for s in batched] == [0, 1, 2]


def test_unreadable_image_is_named_and_skipped(model, tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'not a jpeg')
    good = osp.join(IMAGES, '000000142238.jpg')
    with pytest.warns(UserWarning, match='broken.jpg.*skipped'):
        results = inference_model(model, [good, str(bad), good],
                                  batch_size=2)
    assert [s.metainfo['img_id'] for s in results] == [0, 2]
    with pytest.raises(UnreadableImageError, match='broken.jpg'):
        inference_model(model, str(bad))
    with pytest.raises(UnreadableImageError, match='shape'):
        inference_model(model, np.zeros((4, 4), np.uint8))


def test_zero_byte_image_is_named_and_skipped(model, tmp_path):
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    good = osp.join(IMAGES, '000000142238.jpg')
    with pytest.warns(UserWarning, match=r"empty.png' \(empty file\); "
                      'skipped'):
        results = inference_model(model, [str(empty), good])
    assert [s.metainfo['img_id'] for s in results] == [1]
    for backend in ('cv2', 'pillow'):
        with pytest.raises(UnreadableImageError, match='empty.png'):
            read_image(str(empty), imdecode_backend=backend)


def test_checkpoint_mismatch_lists_keys(tmp_path):
    def edit(state):
        state.pop(THING_BIAS)
        state['extra.weight'] = torch.zeros(1)

    path, _ = save_checkpoint(tmp_path / 'bad.pth', edit=edit)
    with pytest.raises(CheckpointMismatchError) as err:
        init_model(DEMO_CONFIG, path)
    message = str(err.value)
    assert f'missing keys (1): {THING_BIAS}' in message
    assert 'unexpected keys (1): extra.weight' in message
    with pytest.warns(UserWarning, match='missing keys'):
        init_model(DEMO_CONFIG, path, strict=False)

    def reshape(state):
        state[THING_BIAS] = torch.zeros(3)

    path, _ = save_checkpoint(tmp_path / 'shape.pth', edit=reshape)
    with pytest.raises(CheckpointMismatchError, match='shape mismatches'):
        init_model(DEMO_CONFIG, path, strict=False)


def test_list_images(tmp_path):
    for name in ('b.jpg', 'a.png', 'notes.txt'):
        (tmp_path / name).write_bytes(b'x')
    folder = [osp.basename(p) for p in list_images(str(tmp_path))]
    assert folder == ['a.png', 'b.jpg']
    assert [osp.basename(p) for p in list_images(
        str(tmp_path / '*'))] == ['a.png', 'b.jpg']
    assert [osp.basename(p) for p in list_images(
        str(tmp_path / '*.txt'))] == ['notes.txt']
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        list_images(str(tmp_path / 'missing.jpg'))
    with pytest.raises(FileNotFoundError, match='matches no image'):
        list_images(str(tmp_path / '*.gif'))


def test_large_image_warns_and_names_it(model, monkeypatch):
    """Above LARGE_IMAGE_PIXELS the results' full size is announced."""
    import warnings

    from mmpfcn.apis import inference
    monkeypatch.setattr(inference, 'LARGE_IMAGE_PIXELS', 64 * 80 - 1)
    img = np.zeros((64, 80, 3), dtype=np.uint8)
    with pytest.warns(UserWarning, match='input array 0 is 80 x 64'):
        inference_model(model, [img])
    monkeypatch.setattr(inference, 'LARGE_IMAGE_PIXELS', 64 * 80)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        inference.warn_if_large(img.shape[:2], 'small')
