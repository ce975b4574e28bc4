"""The PQ engine: hand-computed values, hotcoco == panopticapi on generated
and real COCO cases, the PNG / RLE helpers (bad input: test_pq_bad_input)."""
import contextlib
import io
import json
import os.path as osp
import sys

import numpy as np
import pytest
from panopticapi.evaluation import pq_compute as panopticapi_pq_compute
from PIL import Image

from mmpfcn.evaluation.functional import (
    PanopticConsistencyError,
    bgr2id,
    decode_segments,
    encode_segments,
    evaluate_panoptic,
    id2rgb,
    print_panoptic_table,
    read_panoptic_png,
    rgb2id,
    summarize_pq,
    write_panoptic_png,
)
from mmpfcn.evaluation.functional import engines as engines_module
from mmpfcn.testing.panoptic_cases import (
    CASE_CATEGORIES,
    GT_ONLY_CATEGORY,
    PRED_ONLY_CATEGORY,
    annotations,
    assert_same_pq,
    make_case,
    perturb_prediction,
    write_split,
)

ENGINES = ('hotcoco', 'panopticapi')


def reference_pq(gt_json, gt_dir, pred_json, pred_dir) -> dict:
    """panopticapi's own ``pq_compute``, its progress output muted."""
    with contextlib.redirect_stdout(io.StringIO()):
        return panopticapi_pq_compute(gt_json, pred_json, gt_dir, pred_dir)


# --- a case small enough to score by hand ---------------------------------

def hand_case():
    """4x10 maps. GT: thing 1 (cols 0-3), stuff 2 (rows 0-1, cols 4-7),
    crowd 3 of category 2 (rows 2-3, cols 4-7), void cols 8-9.

    Predictions: 11 covers cols 0-2 and the void col 8 -> IoU with GT 1 is
    12 / (16 + 16 - 12 - 4 void) = 0.75, a TP; 12 (row 0, cols 4-7) has
    IoU exactly 0.5 with stuff 2 -> not a match: FP for category 7 and FN
    for it; 13 lies inside the crowd of its category -> ignored; 14 lies
    in void -> ignored.
    """
    gt = np.zeros((4, 10), dtype=np.int64)
    gt[:, 0:4] = 1
    gt[0:2, 4:8] = 2
    gt[2:4, 4:8] = 3
    pred = np.zeros_like(gt)
    pred[:, 0:3] = 11
    pred[:, 8] = 11
    pred[0, 4:8] = 12
    pred[2:4, 4:7] = 13
    pred[0:3, 9] = 14
    gt_segments = [dict(id=1, category_id=1, iscrowd=0, area=16),
                   dict(id=2, category_id=7, iscrowd=0, area=8),
                   dict(id=3, category_id=2, iscrowd=1, area=8)]
    pred_segments = [dict(id=11, category_id=1), dict(id=12, category_id=7),
                     dict(id=13, category_id=2), dict(id=14, category_id=3)]
    return gt, gt_segments, pred, pred_segments


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('form', ['png', 'rle'])
def test_hand_computed_case(tmp_path, engine, form):
    gt, gt_segments, pred, pred_segments = hand_case()
    gt_ann = dict(image_id=1, file_name='a.png', segments_info=gt_segments)
    pred_ann = dict(image_id=1, file_name='a.png',
                    segments_info=pred_segments)
    if form == 'png':
        for side, id_map in (('gt', gt), ('pred', pred)):
            (tmp_path / side).mkdir()
            write_panoptic_png(str(tmp_path / side / 'a.png'), id_map)
        folders = dict(gt_folder=str(tmp_path / 'gt'),
                       pred_folder=str(tmp_path / 'pred'))
    else:
        gt_ann['segments_info'] = encode_segments(gt, gt_segments)
        pred_ann['segments_info'] = encode_segments(pred, pred_segments)
        folders = {}
    res = evaluate_panoptic([gt_ann], [pred_ann], CASE_CATEGORIES,
                            engine=engine, **folders)

    assert res['per_class'][1] == pytest.approx(
        dict(pq=0.75, sq=0.75, rq=1.0))
    assert res['per_class'][7] == dict(pq=0.0, sq=0.0, rq=0.0)
    # Only categories 1 and 7 have a TP, FP or FN.
    assert res['All'] == pytest.approx(dict(pq=0.375, sq=0.375, rq=0.5, n=2))
    assert res['Things'] == pytest.approx(dict(pq=0.75, sq=0.75, rq=1.0, n=1))
    assert res['Stuff'] == dict(pq=0.0, sq=0.0, rq=0.0, n=1)


def test_segment_ids_repeat_across_images():
    # Segment ids are unique per image only: two copies of the hand case
    # score like one, with every count doubled.
    gt, gt_segments, pred, pred_segments = hand_case()
    gt_anns = [dict(image_id=i, segments_info=encode_segments(
        gt, gt_segments)) for i in (1, 2)]
    pred_anns = [dict(image_id=i, segments_info=encode_segments(
        pred, pred_segments)) for i in (2, 1)]
    for engine in ENGINES:
        res = evaluate_panoptic(gt_anns, pred_anns, CASE_CATEGORIES,
                                engine=engine)
        assert res['All'] == pytest.approx(
            dict(pq=0.375, sq=0.375, rq=0.5, n=2))


def test_summarize_pq_empty_group_and_formulas():
    cats = [dict(id=1, isthing=1), dict(id=2, isthing=1)]
    # (iou sum, tp, fp, fn): PQ = 1.6 / (2 + 0.5 + 0.5) etc.
    counts = np.array([[1.6, 2, 1, 1], [0.0, 0, 0, 0]])
    res = summarize_pq(counts, cats)
    assert res['per_class'][1] == pytest.approx(
        dict(pq=1.6 / 3, sq=0.8, rq=2 / 3))
    assert res['per_class'][2] == dict(pq=0.0, sq=0.0, rq=0.0)
    assert res['All']['n'] == 1
    # No stuff category at all: zeros, where panopticapi divides by zero.
    assert res['Stuff'] == dict(pq=0.0, sq=0.0, rq=0.0, n=0)


def test_summarize_pq_refuses_scores_outside_0_1():
    cats = [dict(id=1, isthing=1), dict(id=7, isthing=0, name='sky')]
    # An IoU sum above TP (2.6 > 2) is what wrong areas give: SQ 130 %.
    with pytest.raises(PanopticConsistencyError,
                       match=r'category 7 \(sky\): PQ 86.7, SQ 130.0, RQ '
                       r'66.7 outside \[0, 100\]'):
        summarize_pq(np.array([[1.6, 2, 1, 1], [2.6, 2, 1, 1]]), cats)
    with pytest.raises(PanopticConsistencyError, match='category 1: PQ nan'):
        summarize_pq(np.array([[np.nan, 2, 1, 1], [0.0, 0, 0, 0]]), cats)
    with pytest.raises(PanopticConsistencyError, match='category 1: PQ -'):
        summarize_pq(np.array([[-0.5, 2, 1, 1], [0.0, 0, 0, 0]]), cats)
    # The bounds themselves are valid.
    assert summarize_pq(np.array([[2.0, 2, 0, 0], [0.0, 0, 0, 3]]),
                        cats)['All'] == dict(pq=0.5, sq=0.5, rq=0.5, n=2)


# --- hotcoco against panopticapi on generated cases ------------------------

# (height, width, segments) of the generated datasets.
GENERATED_SHAPES = [(48, 64, 6), (37, 91, 10), (64, 48, 14), (80, 120, 24)]


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """Four generated datasets of 10 images each (odd sizes included),
    written as PNG + JSON."""
    datasets = []
    for index, (height, width, num) in enumerate(GENERATED_SHAPES):
        root = str(tmp_path_factory.mktemp(f'generated{index}'))
        pairs = [make_case(100 * index + k, height, width, num)
                 for k in range(10)]
        gt_json, gt_dir = write_split(root, 'gt', pairs)
        pred_json, pred_dir = write_split(root, 'pred', pairs)
        datasets.append((pairs, gt_json, gt_dir, pred_json, pred_dir))
    return datasets


def test_generated_cases_cover_the_special_cases(generated):
    pairs = [pair for dataset in generated for pair in dataset[0]]
    gt_cats = {s['category_id'] for p in pairs for s in p.gt_segments}
    pred_cats = {s['category_id'] for p in pairs for s in p.pred_segments}
    assert GT_ONLY_CATEGORY in gt_cats - pred_cats
    assert PRED_ONLY_CATEGORY in pred_cats - gt_cats
    assert any(s['iscrowd'] for p in pairs for s in p.gt_segments)
    assert all((p.gt_map == 0).any() and (p.pred_map == 0).any()
               for p in pairs)


@pytest.mark.parametrize('index', range(len(GENERATED_SHAPES)))
def test_engines_agree_on_generated_cases(generated, index):
    pairs, gt_json, gt_dir, pred_json, pred_dir = generated[index]
    expected = reference_pq(gt_json, gt_dir, pred_json, pred_dir)
    gt, pred = annotations(pairs, 'gt'), annotations(pairs, 'pred')
    gt_rle = annotations(pairs, 'gt', with_rle=True)
    pred_rle = annotations(pairs, 'pred', with_rle=True)
    for engine in ENGINES:
        assert_same_pq(
            evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir,
                              engine=engine, nproc=2), expected)
        assert_same_pq(
            evaluate_panoptic(gt_rle, pred_rle, CASE_CATEGORIES,
                              engine=engine), expected)
        # the runner metric's path: segments from id maps, no checks
        assert_same_pq(
            evaluate_panoptic(gt_rle, pred_rle, CASE_CATEGORIES,
                              engine=engine, trusted=True), expected)
    # Sanity of the data itself: the gt-only / pred-only categories are
    # scored (n counts them) with PQ 0, the unused one is not.
    assert expected['All']['n'] == len(CASE_CATEGORIES) - 1
    assert expected['per_class'][GT_ONLY_CATEGORY]['pq'] == 0
    assert 0.1 < expected['All']['pq'] < 0.9


def test_engines_agree_on_real_coco_sample(coco_sample_dir, tmp_path):
    with open(osp.join(coco_sample_dir, 'panoptic_examples.json')) as f:
        gt_json = json.load(f)
    with open(osp.join(coco_sample_dir,
                       'panoptic_coco_categories.json')) as f:
        categories = json.load(f)
    gt_dir = osp.join(coco_sample_dir, 'panoptic')
    rng = np.random.default_rng(7)
    pred_anns = []
    (tmp_path / 'pred').mkdir()
    for ann in gt_json['annotations']:
        gt_map = read_panoptic_png(osp.join(gt_dir, ann['file_name']))
        pred_map, segments = perturb_prediction(
            rng, gt_map, ann['segments_info'], categories, gt_only=None,
            pred_only=None, unused=None)
        write_panoptic_png(str(tmp_path / 'pred' / ann['file_name']),
                           pred_map)
        pred_anns.append(dict(image_id=ann['image_id'],
                              file_name=ann['file_name'],
                              segments_info=segments))
    gt_file = tmp_path / 'gt.json'
    gt_file.write_text(json.dumps(dict(gt_json, categories=categories)))
    pred_file = tmp_path / 'pred.json'
    pred_file.write_text(json.dumps(dict(annotations=pred_anns)))
    expected = reference_pq(str(gt_file), gt_dir, str(pred_file),
                            str(tmp_path / 'pred'))
    # Non-trivial: some segments matched, many not.
    assert 0.03 < expected['All']['pq'] < 0.95
    assert sum(res['rq'] > 0 for res in expected['per_class'].values()) >= 3
    for engine in ENGINES:
        res = evaluate_panoptic(gt_json['annotations'], pred_anns,
                                categories, gt_dir, str(tmp_path / 'pred'),
                                engine=engine, check_pixels=True)
        assert_same_pq(res, expected)

    # Ground truth against itself: every category present scores 1.
    res = evaluate_panoptic(gt_json['annotations'], gt_json['annotations'],
                            categories, gt_dir, gt_dir)
    present = {s['category_id'] for a in gt_json['annotations']
               for s in a['segments_info'] if not s['iscrowd']}
    assert res['All'] == dict(pq=1.0, sq=1.0, rq=1.0, n=len(present))


def test_fallback_to_panopticapi_when_hotcoco_is_missing(
        generated, monkeypatch):
    pairs, gt_json, gt_dir, pred_json, pred_dir = generated[0]
    gt, pred = annotations(pairs, 'gt'), annotations(pairs, 'pred')
    expected = evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir)
    messages = []
    monkeypatch.setattr(engines_module, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    monkeypatch.setitem(sys.modules, 'hotcoco', None)  # import fails
    res = evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir)
    assert len(messages) == 1 and 'falling back to panopticapi' in messages[0]
    assert_same_pq(res, expected)


def test_print_panoptic_table():
    res = summarize_pq(np.array([[1.6, 2, 1, 1], [0.5, 1, 1, 0]]),
                       [dict(id=1, isthing=1), dict(id=9, isthing=0)])
    table = print_panoptic_table(res, classwise=True,
                                 category_names={9: 'sky'})
    lines = table.splitlines()
    assert lines[0].split() == ['|', 'PQ', 'SQ', 'RQ', 'N']
    # All = mean of (53.3, 33.3) PQ; Things = class 1; Stuff = class 9.
    assert lines[2].split() == ['All', '|', '43.3', '65.0', '66.7', '2']
    assert lines[3].split() == ['Things', '|', '53.3', '80.0', '66.7', '1']
    assert lines[4].split() == ['Stuff', '|', '33.3', '50.0', '66.7', '1']
    assert lines[6].split() == ['1', '|', '53.3', '80.0', '66.7']
    assert lines[7].split() == ['sky', '|', '33.3', '50.0', '66.7']
    only_sky = print_panoptic_table(res, classwise=True,
                                    category_names={9: 'sky'},
                                    category_ids=[9]).splitlines()
    assert only_sky[:6] == lines[:6] and len(only_sky) == 7
    assert only_sky[6] == lines[7]


# --- PNG / RLE helpers ------------------------------------------------------

def test_rgb_id_round_trip(tmp_path):
    ids = np.array([[0, 1, 256], [65536, 256**3 - 1, 1234567]])
    rgb = id2rgb(ids)
    assert rgb[0, 2].tolist() == [0, 1, 0]  # 256 = G 1
    assert rgb[1, 0].tolist() == [0, 0, 1]  # 65536 = B 1
    assert (rgb2id(rgb) == ids).all()
    # OpenCV's channel order, strided views and wider dtypes alike.
    assert (bgr2id(np.ascontiguousarray(rgb[..., ::-1])) == ids).all()
    assert (bgr2id(rgb[..., ::-1]) == rgb2id(rgb)).all()
    assert (rgb2id(rgb.astype(np.int64)) == ids).all()
    assert (bgr2id(rgb[..., ::-1].astype(np.int64)) == ids).all()
    assert rgb2id(rgb).dtype == np.uint32
    assert rgb2id(np.zeros((0, 4, 3), np.uint8)).shape == (0, 4)
    assert id2rgb(np.zeros((0, 4), np.int64)).shape == (0, 4, 3)
    assert (id2rgb(ids.T) == rgb.transpose(1, 0, 2)).all()  # strided input
    write_panoptic_png(str(tmp_path / 'x.png'), ids)
    assert (read_panoptic_png(str(tmp_path / 'x.png')) == ids).all()
    with pytest.raises(ValueError, match='256\\*\\*3 - 1'):
        id2rgb(np.array([[256**3]]))
    Image.new('L', (2, 2)).save(tmp_path / 'grey.png')
    with pytest.raises(ValueError, match='must be RGB'):
        read_panoptic_png(str(tmp_path / 'grey.png'))


def test_segments_rle_round_trip():
    pair = make_case(3)
    encoded = encode_segments(pair.gt_map, pair.gt_segments)
    assert [s['area'] for s in encoded] == [
        int((pair.gt_map == s['id']).sum()) for s in pair.gt_segments]
    assert isinstance(encoded[0]['segmentation']['counts'], str)
    assert (decode_segments(encoded) == pair.gt_map).all()
    assert decode_segments([], size=(2, 3)).tolist() == [[0] * 3] * 2
    with pytest.raises(ValueError, match='overlap'):
        decode_segments(encoded + [dict(encoded[0], id=5)])
