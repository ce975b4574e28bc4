"""The PQ engine: hand-computed values, hotcoco == panopticapi on generated
and real COCO cases, input checks and the PNG / RLE helpers."""
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
    PanopticFormatError,
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
from mmpfcn.evaluation.functional.panoptic_checks import check_png_pixels
from mmpfcn.evaluation.functional.panoptic_io import segment_areas
from mmpfcn.testing.panoptic_cases import (
    CASE_CATEGORIES,
    GT_ONLY_CATEGORY,
    PRED_ONLY_CATEGORY,
    annotations,
    make_case,
    perturb_prediction,
    write_split,
)

ENGINES = ('hotcoco', 'panopticapi')
TOL = 1e-9


def assert_same_results(actual: dict, expected: dict) -> None:
    """All/Things/Stuff and every category equal to ``TOL``."""
    for group in ('All', 'Things', 'Stuff'):
        assert actual[group]['n'] == expected[group]['n'], group
        for key in ('pq', 'sq', 'rq'):
            assert actual[group][key] == pytest.approx(
                expected[group][key], abs=TOL), (group, key)
    assert set(actual['per_class']) == set(expected['per_class'])
    for cat_id, res in expected['per_class'].items():
        for key in ('pq', 'sq', 'rq'):
            assert actual['per_class'][cat_id][key] == pytest.approx(
                res[key], abs=TOL), (cat_id, key)


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
        assert_same_results(
            evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir,
                              engine=engine, nproc=2), expected)
        assert_same_results(
            evaluate_panoptic(gt_rle, pred_rle, CASE_CATEGORIES,
                              engine=engine), expected)
        # the runner metric's path: segments from id maps, no checks
        assert_same_results(
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
        assert_same_results(res, expected)

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
    assert_same_results(res, expected)


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


# --- bad input --------------------------------------------------------------

@pytest.fixture
def small_split(tmp_path):
    """Four generated images written to ``tmp_path``; returns the
    annotations (fresh, safe to corrupt) and the two folders."""
    pairs = [make_case(seed) for seed in range(4)]
    _, gt_dir = write_split(str(tmp_path), 'gt', pairs)
    _, pred_dir = write_split(str(tmp_path), 'pred', pairs)
    return (annotations(pairs, 'gt'), annotations(pairs, 'pred'), gt_dir,
            pred_dir, pairs)


def _drop_json_segment(gt, pred, gt_dir, pred_dir, pairs):
    pred[2]['segments_info'].pop(0)


def _add_json_segment(gt, pred, gt_dir, pred_dir, pairs):
    pred[2]['segments_info'].append(dict(id=77, category_id=1))


def _duplicate_segment(gt, pred, gt_dir, pred_dir, pairs):
    pred[2]['segments_info'].append(dict(pred[2]['segments_info'][0]))


def _duplicate_gt_segment(gt, pred, gt_dir, pred_dir, pairs):
    gt[1]['segments_info'].append(dict(gt[1]['segments_info'][-1]))


def _unknown_category(gt, pred, gt_dir, pred_dir, pairs):
    pred[2]['segments_info'][0]['category_id'] = 999


def _unknown_gt_category(gt, pred, gt_dir, pred_dir, pairs):
    gt[2]['segments_info'][0]['category_id'] = 999


def _missing_png(gt, pred, gt_dir, pred_dir, pairs):
    pred[2]['file_name'] = 'missing.png'


def _extra_prediction(gt, pred, gt_dir, pred_dir, pairs):
    pred.append(dict(pred[0], image_id=4242))


def _missing_prediction(gt, pred, gt_dir, pred_dir, pairs):
    pred.pop(2)


def _size_mismatch(gt, pred, gt_dir, pred_dir, pairs):
    write_panoptic_png(osp.join(pred_dir, pred[2]['file_name']),
                       pairs[2].pred_map[:-1])


def _png_of_mode(mode):
    """A corruption that rewrites the ground-truth PNG of image 1 and the
    predicted one of image 2 in PIL ``mode`` (grey, RGBA, palette)."""
    def corrupt(gt, pred, gt_dir, pred_dir, pairs):
        for folder, ann in ((gt_dir, gt[1]), (pred_dir, pred[2])):
            path = osp.join(folder, ann['file_name'])
            Image.open(path).convert(mode).save(path)
    corrupt.__name__ = f'_{mode.lower()}_png'
    return corrupt


def _truncated_png(gt, pred, gt_dir, pred_dir, pairs):
    path = osp.join(pred_dir, pred[2]['file_name'])
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def _not_a_png(gt, pred, gt_dir, pred_dir, pairs):
    with open(osp.join(gt_dir, gt[3]['file_name']), 'w') as f:
        f.write('not a PNG')


BAD_INPUTS = [
    (_drop_json_segment, PanopticFormatError,
     ['prediction of image 2 (000002.png)', 'in the PNG but not in']),
    (_add_json_segment, PanopticFormatError,
     ['prediction of image 2 (000002.png)', '[77] in segments_info but not']),
    (_duplicate_segment, PanopticFormatError,
     ['prediction of image 2', 'duplicate segment ids']),
    (_duplicate_gt_segment, PanopticFormatError,
     ['ground truth of image 1 (000001.png)', 'duplicate segment ids']),
    (_unknown_category, PanopticFormatError,
     ['prediction of image 2', 'unknown category ids [999]']),
    (_unknown_gt_category, PanopticFormatError,
     ['ground truth of image 2', 'unknown category ids [999]']),
    (_missing_png, FileNotFoundError,
     ['prediction of image 2 (missing.png)', 'not found']),
    (_extra_prediction, PanopticFormatError,
     ['absent from the ground truth', '[4242]']),
    (_missing_prediction, PanopticFormatError,
     ['no prediction', 'image ids [2]']),
    (_size_mismatch, PanopticFormatError,
     ['prediction of image 2', '(47, 64) differs', '(48, 64)']),
    (_png_of_mode('L'), PanopticFormatError,
     ['ground truth of image 1 (000001.png): PNG ', 'gt/000001.png is (48, '
      "64), PIL mode 'L'", 'must be RGB', '(H, W, 3) = (48, 64, 3)']),
    (_png_of_mode('RGBA'), PanopticFormatError,
     ['ground truth of image 1', "is (48, 64, 4), PIL mode 'RGBA'",
      '(H, W, 3) = (48, 64, 3)']),
    (_png_of_mode('P'), PanopticFormatError,
     ['ground truth of image 1', "PIL mode 'P'", '(H, W, 3)']),
    (_truncated_png, PanopticFormatError,
     ['prediction of image 2 (000002.png): PNG ', 'pred/000002.png cannot '
      'be decoded: image file is truncated']),
    (_not_a_png, PanopticFormatError,
     ['ground truth of image 3 (000003.png): cannot identify image file',
      'gt/000003.png', 'expected a COCO panoptic PNG']),
]


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('corrupt,error,fragments', BAD_INPUTS,
                         ids=[case[0].__name__ for case in BAD_INPUTS])
def test_bad_png_input_names_the_image(small_split, engine, corrupt, error,
                                       fragments):
    gt, pred, gt_dir, pred_dir, pairs = small_split
    corrupt(gt, pred, gt_dir, pred_dir, pairs)
    with pytest.raises(error) as info:
        evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir,
                          engine=engine)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_check_pixels_catches_ground_truth_inconsistencies(small_split):
    gt, pred, gt_dir, pred_dir, pairs = small_split
    gt[1]['segments_info'][0]['area'] += 1
    # PQ counts the pixels (a wrong JSON area is harmless); only the pixel
    # check reports the disagreement.
    with pytest.raises(PanopticFormatError, match=r'ground truth of image 1 '
                       r'\(000001.png\): `area` of segments \[\d+\]'):
        evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir,
                          check_pixels=True)
    gt[1]['segments_info'][0]['area'] -= 1
    gt[3]['segments_info'].pop()
    with pytest.raises(PanopticFormatError,
                       match=r'ground truth of image 3 .* in the PNG but'):
        check_png_pixels(list(zip(gt, pred)), gt_dir, pred_dir, nproc=2)


@pytest.mark.parametrize('engine', ENGINES)
def test_wrong_ground_truth_areas_do_not_change_pq(small_split, engine):
    gt, pred, gt_dir, pred_dir, _ = small_split
    expected = evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir,
                                 engine='panopticapi')
    assert 0.1 < expected['All']['pq'] < 0.9
    # Too small (a tenth: panopticapi's IoU exceeds 1, PQ above 100 %),
    # too large, or absent from the PNG (0): PQ counts the PNG's pixels.
    for scale in (0.1, 3, 0):
        wrong = [dict(ann, segments_info=[
            dict(seg, area=int(seg['area'] * scale))
            for seg in ann['segments_info']]) for ann in gt]
        assert_same_results(
            evaluate_panoptic(wrong, pred, CASE_CATEGORIES, gt_dir,
                              pred_dir, engine=engine), expected)
    assert gt[0]['segments_info'][0]['area'] > 0  # the input is untouched


@pytest.mark.parametrize('engine', ENGINES)
def test_png_size_checked_against_the_image_entry(small_split, engine):
    gt, pred, gt_dir, pred_dir, pairs = small_split
    images = [dict(id=pair.image_id, height=48, width=64) for pair in pairs]
    images[2]['height'] = 50
    with pytest.raises(PanopticFormatError,
                       match=r'ground truth of image 2 \(000002.png\): PNG '
                       r'size \(h, w\) \(48, 64\) differs from the image '
                       r'entry \(height, width\) \(50, 64\)'):
        evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir,
                          engine=engine, images=images)
    # Entries without a size, or for other images, are not checked.
    images[2] = dict(id=2, file_name='000002.jpg')
    evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_dir, pred_dir,
                      engine=engine, images=images + [dict(id=99, height=1,
                                                           width=1)])


def test_segment_areas_are_the_pixel_counts():
    for seed in range(3):
        pair = make_case(seed, 37, 91, 10)
        for id_map in (pair.gt_map, pair.pred_map.astype(np.uint32)):
            ids, areas = segment_areas(id_map)
            expected_ids, expected_areas = np.unique(id_map,
                                                     return_counts=True)
            assert ids.tolist() == expected_ids.tolist()
            assert areas.tolist() == expected_areas.tolist()
            assert areas.dtype == np.int64
    ids, areas = segment_areas(np.zeros((0, 3), np.uint32))
    assert ids.shape == areas.shape == (0,)


# The JSON-level cases again on RLE segments (the runner metric's path).
RLE_BAD_INPUTS = [case for case in BAD_INPUTS if case[0] in (
    _duplicate_segment, _duplicate_gt_segment, _unknown_category,
    _unknown_gt_category, _extra_prediction, _missing_prediction)]


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('corrupt,error,fragments', RLE_BAD_INPUTS,
                         ids=[case[0].__name__ for case in RLE_BAD_INPUTS])
def test_bad_rle_json_names_the_image(engine, corrupt, error, fragments):
    pairs = [make_case(seed) for seed in range(4)]
    gt = annotations(pairs, 'gt', with_rle=True)
    pred = annotations(pairs, 'pred', with_rle=True)
    corrupt(gt, pred, None, None, pairs)
    with pytest.raises(error) as info:
        evaluate_panoptic(gt, pred, CASE_CATEGORIES, engine=engine)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize('engine', ENGINES)
def test_bad_rle_input(engine):
    pair = make_case(5)
    gt = annotations([pair], 'gt', with_rle=True)
    pred = annotations([pair], 'pred', with_rle=True)
    overlapping = [dict(pred[0], segments_info=pred[0]['segments_info'] + [
        dict(pred[0]['segments_info'][0], id=999)])]
    with pytest.raises(PanopticFormatError,
                       match='prediction of image 5 .*segments overlap'):
        evaluate_panoptic(gt, overlapping, CASE_CATEGORIES, engine=engine)
    small = encode_segments(pair.pred_map[:40], pair.pred_segments)
    with pytest.raises(PanopticFormatError,
                       match=r'image 5 .*\(40, 64\), \(48, 64\)'):
        evaluate_panoptic(gt, [dict(pred[0], segments_info=small)],
                          CASE_CATEGORIES, engine=engine)


def test_invalid_arguments():
    pair = make_case(0)
    gt, pred = annotations([pair], 'gt'), annotations([pair], 'pred')
    with pytest.raises(ValueError, match='engine must be one of'):
        evaluate_panoptic(gt, pred, CASE_CATEGORIES, 'a', 'b', engine='x')
    with pytest.raises(ValueError, match='both gt_folder and pred_folder'):
        evaluate_panoptic(gt, pred, CASE_CATEGORIES, gt_folder='a')
    with pytest.raises(ValueError, match='trusted applies to RLE input'):
        evaluate_panoptic(gt, pred, CASE_CATEGORIES, 'a', 'b', trusted=True)
    with pytest.raises(PanopticFormatError, match='duplicate category ids'):
        evaluate_panoptic(gt, pred, CASE_CATEGORIES + CASE_CATEGORIES[:1],
                          'a', 'b')


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
