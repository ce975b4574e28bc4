"""demo/image_demo.py and demo/video_demo.py end to end on an initialised
demo model: pictures, COCO-panoptic PNG + JSON, bad input."""
import importlib.util
import json
import os
import os.path as osp
import shutil

import cv2
import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmpfcn.apis import panoptic_inferencer
from mmpfcn.evaluation.functional import read_panoptic_png
from mmpfcn.registry import MODELS
from mmpfcn.utils import register_all_modules
from mmpfcn.visualization import local_visualizer

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs/panoptic_fcn/'
                       'panoptic-fcn_r18_fpn_synthetic-panoptic.py')
IMAGES = osp.join(ROOT, 'tests/data/coco_panoptic_sample/images')


def load_demo(name):
    spec = importlib.util.spec_from_file_location(
        f'demo_{name}', osp.join(ROOT, 'demo', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """An initialised demo checkpoint and a config that keeps every
    segment of its predictions."""
    root = tmp_path_factory.mktemp('demo')
    register_all_modules()
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.test_cfg.update(merge_thing_thr=0.0, stuff_area_limit=1)
    config = str(root / 'config.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(root / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    return config, checkpoint


def test_image_demo_writes_overlay_png_and_json(setup, tmp_path, capsys):
    config, checkpoint = setup
    inputs = tmp_path / 'inputs'
    inputs.mkdir()
    for name in os.listdir(IMAGES):
        shutil.copy(osp.join(IMAGES, name), inputs / name)
    (inputs / 'zz_broken.jpg').write_bytes(b'truncated')
    out = tmp_path / 'out'
    code = load_demo('image_demo').main(
        [str(inputs), config, '--weights', checkpoint, '--out-dir',
         str(out), '--batch-size', '2'])
    assert code == 0
    captured = capsys.readouterr()
    assert 'zz_broken.jpg' in captured.err and 'skipped' in captured.err
    assert '2 image(s) written' in captured.out
    for stem in ('000000142238', '000000439180'):
        image = mmcv.imread(str(inputs / f'{stem}.jpg'))
        overlay = mmcv.imread(str(out / 'vis' / f'{stem}.jpg'))
        assert overlay.shape == image.shape
        ids = read_panoptic_png(
            str(out / 'preds' / f'{stem}_panoptic_seg.png'))
        record = json.loads((out / 'preds' / f'{stem}.json').read_text())
        segments = record['annotations'][0]['segments_info']
        assert record['annotations'][0]['file_name'] == \
            f'{stem}_panoptic_seg.png'
        assert len(record['categories']) == 8
        # mmdet's instance keys, masks as RLE
        assert len(record['masks']) == len(record['labels']) == \
            len(record['scores']) == len(record['bboxes'])
        assert record['masks'][0]['size'] == list(image.shape[:2])
        assert segments, 'the initialised model predicts segments'
        assert sorted(np.unique(ids[ids > 0]).tolist()) == \
            sorted(s['id'] for s in segments)
        for seg in segments:
            assert (ids == seg['id']).sum() == seg['area']
            assert ('score' in seg) == bool(seg['isthing'])


def test_image_demo_skips_zero_byte_and_truncated_images(setup, tmp_path,
                                                         capsys):
    config, checkpoint = setup
    good = osp.join(IMAGES, '000000142238.jpg')
    empty, cut = tmp_path / 'empty.jpg', tmp_path / 'cut.png'
    empty.write_bytes(b'')
    with open(good, 'rb') as f:
        cut.write_bytes(f.read()[:300])
    code = load_demo('image_demo').main(
        [str(empty), good, str(cut), config, '--weights', checkpoint,
         '--out-dir', str(tmp_path / 'out')])
    assert code == 0
    captured = capsys.readouterr()
    assert f"image_demo: warning: cannot decode image '{empty}' (empty " \
        'file); skipped' in captured.err
    assert f"image_demo: warning: cannot decode image '{cut}'" in \
        captured.err
    assert '1 image(s) written' in captured.out
    assert '2 unreadable skipped' in captured.out


def test_image_demo_refuses_unwritable_output_before_inference(
        setup, tmp_path, capsys, monkeypatch):
    config, checkpoint = setup
    demo = load_demo('image_demo')
    monkeypatch.setattr(panoptic_inferencer, 'init_model',
                        lambda *a, **k: pytest.fail('model built'))
    blocker = tmp_path / 'file'
    blocker.write_text('a file, not a folder')
    code = demo.main([IMAGES, config, '--weights', checkpoint,
                      '--out-dir', str(blocker / 'sub')])
    assert code == 1
    assert 'cannot be written' in capsys.readouterr().err
    code = demo.main([str(tmp_path / 'none*.jpg'), config, '--weights',
                      checkpoint, '--out-dir', str(tmp_path / 'o')])
    assert code == 1
    assert 'matches no image' in capsys.readouterr().err


def test_image_demo_reports_checkpoint_mismatch(setup, tmp_path, capsys):
    config, checkpoint = setup
    state = torch.load(checkpoint, weights_only=False)['state_dict']
    key = 'panoptic_head.stuff_generator.embed_extractor.weight'
    state.pop(key)
    bad = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=state), bad)
    code = load_demo('image_demo').main(
        [IMAGES, config, '--weights', bad, '--out-dir', str(tmp_path)])
    assert code == 1
    assert key in capsys.readouterr().err


def test_image_demo_reports_bad_categories_and_batch_size(
        setup, tmp_path, capsys):
    config, checkpoint = setup
    categories = tmp_path / 'categories.json'
    categories.write_text(json.dumps([dict(id=1, name='person')]))
    code = load_demo('image_demo').main(
        [IMAGES, config, '--weights', checkpoint, '--out-dir',
         str(tmp_path / 'out'), '--categories', str(categories)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith('image_demo: error: ') and str(categories) in err
    with pytest.raises(SystemExit):
        load_demo('image_demo').parse_args(
            [IMAGES, config, '--weights', checkpoint, '--batch-size', '0'])
    assert '--batch-size' in capsys.readouterr().err


def test_video_demo(setup, tmp_path, capsys, monkeypatch):
    config, checkpoint = setup
    drawn = []

    def counting_overlay(*args, **kwargs):
        drawn.append(args[0].shape)
        return draw(*args, **kwargs)

    # the one drawing, of the visualizer
    draw = local_visualizer.draw_panoptic_overlay
    monkeypatch.setattr(local_visualizer, 'draw_panoptic_overlay',
                        counting_overlay)
    frame = mmcv.imresize(mmcv.imread(osp.join(IMAGES, '000000439180.jpg')),
                          (160, 120))
    video = str(tmp_path / 'in.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (160, 120))
    for shift in range(3):
        writer.write(np.roll(frame, 10 * shift, axis=1))
    writer.release()
    out = str(tmp_path / 'out.avi')
    code = load_demo('video_demo').main(
        [video, config, '--weights', checkpoint, '--out', out, '--fourcc',
         'MJPG', '--out-dir', str(tmp_path / 'frames'), '--batch-size', '2'])
    assert code == 0
    assert '3 frame(s) written' in capsys.readouterr().out
    reader = mmcv.VideoReader(out)
    assert len(reader) == 3 and (reader.width, reader.height) == (160, 120)
    assert sorted(os.listdir(tmp_path / 'frames' / 'vis')) == [
        f'{i:08d}.jpg' for i in range(3)]
    assert sorted(os.listdir(tmp_path / 'frames' / 'preds')) == [
        f'{i:08d}{end}' for i in range(3)
        for end in ('.json', '_panoptic_seg.png')]
    # one overlay per frame, for the video and the frame files alike
    assert drawn == [(120, 160, 3)] * 3
    assert load_demo('video_demo').main(
        [str(tmp_path / 'missing.mp4'), config, '--weights', checkpoint,
         '--out', out]) == 1


def test_image_demo_never_replaces_an_input_nor_an_output(setup, tmp_path,
                                                          capsys):
    # out-dir = the input folder, which holds a.jpg and a.png; an input is
    # a picture of an earlier run there (vis/a.jpg); another folder holds
    # a second a.jpg
    config, checkpoint = setup
    image = mmcv.imresize(mmcv.imread(osp.join(IMAGES, '000000439180.jpg')),
                          (160, 120))
    here, there = tmp_path / 'here', tmp_path / 'there'
    inputs = (here / 'a.jpg', here / 'a.png', here / 'vis' / 'a.jpg',
              there / 'a.jpg')
    for path in inputs:
        mmcv.imwrite(image, str(path))
    before = {path: path.read_bytes() for path in inputs}
    code = load_demo('image_demo').main(
        [str(here), str(here / 'vis' / 'a.jpg'), str(there / 'a.jpg'),
         config, '--weights', checkpoint, '--out-dir', str(here)])
    assert code == 0
    captured = capsys.readouterr()
    assert '4 image(s) written' in captured.out
    assert 'named a-1 (a is taken)' in captured.err
    for path, data in before.items():
        assert path.read_bytes() == data, f'{path} was replaced'
    names = [f'a-{i}' for i in (1, 2, 3, 4)]
    assert sorted(os.listdir(here / 'vis')) == sorted(
        ['a.jpg'] + [f'{name}.jpg' for name in names])
    assert sorted(os.listdir(here / 'preds')) == sorted(
        f'{name}{end}' for name in names
        for end in ('.json', '_panoptic_seg.png'))
    records = [json.loads((here / 'preds' / f'{name}.json').read_text())
               for name in names]
    assert [r['annotations'][0]['file_name'] for r in records] == \
        [f'{name}_panoptic_seg.png' for name in names]


def test_video_demo_refuses_to_replace_its_input(setup, tmp_path, capsys):
    config, checkpoint = setup
    video = tmp_path / 'in.avi'
    video.write_bytes(b'the input video')
    code = load_demo('video_demo').main(
        [str(video), config, '--weights', checkpoint, '--out',
         str(tmp_path / '.' / 'in.avi')])
    assert code == 1
    assert 'is an input of this run' in capsys.readouterr().err
    assert video.read_bytes() == b'the input video'
