"""The PQ engine on bad input: corrupt, inconsistent or mis-sized PNGs
and JSON are named, wrong ground-truth areas cannot move PQ."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmpfcn.evaluation.functional import (
    PanopticFormatError,
    encode_segments,
    evaluate_panoptic,
    write_panoptic_png,
)
from mmpfcn.evaluation.functional.panoptic_checks import check_png_pixels
from mmpfcn.evaluation.functional.panoptic_io import segment_areas
from mmpfcn.testing.panoptic_cases import (
    CASE_CATEGORIES,
    annotations,
    assert_same_pq,
    make_case,
    write_split,
)

ENGINES = ('hotcoco', 'panopticapi')


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
        assert_same_pq(
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
