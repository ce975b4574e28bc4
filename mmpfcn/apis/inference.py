"""Inference API: build a Panoptic FCN model from a config (and checkpoint)
and run it on image files or arrays, without any annotation file."""
import copy
import warnings
from pathlib import Path
from typing import (
    Callable,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
import torch
from mmcv.transforms import Compose
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner.checkpoint import _load_checkpoint

from mmpfcn.registry import DATASETS, MODELS, TRANSFORMS
from mmpfcn.utils import register_all_modules
from mmpfcn.utils.checkpoint_fit import (
    CheckpointMismatchError,
    checkpoint_mismatches,
    mismatch_message,
    model_state_of,
)

from .inputs import UnreadableImageError, read_image

ImageInput = Union[str, np.ndarray]
# transforms that read or derive ground truth: not part of inference
ANNOTATION_TRANSFORMS = ('LoadAnnotations', 'LoadPanopticAnnotations',
                         'LoadPanopticFCNAnnotations', 'GenerateStuffMap')
LOAD_TRANSFORMS = ('LoadImageFromFile', 'LoadImageFromNDArray')
# reading options of LoadImageFromFile that read_image honours
READ_ARGS = ('color_type', 'imdecode_backend', 'to_float32')
# images above this many pixels get a warning: the results are made at
# the image's full size (docs/inference.md, "Large images")
LARGE_IMAGE_PIXELS = 50_000_000


def _type_name(transform: dict) -> str:
    """Class name of a transform config (without its ``scope.`` prefix)."""
    kind = transform['type']
    return kind.split('.')[-1] if isinstance(kind, str) else kind.__name__


def build_inference_pipeline(cfg: Config) -> Tuple[Compose, dict]:
    """The test pipeline without its loading and annotation transforms.

    Images are read by :func:`~mmpfcn.apis.inputs.read_image` (so that an
    unreadable file can be skipped) with the reading options of the
    config's ``LoadImageFromFile``; annotation loaders and the stuff-map
    transform are dropped and ``PackDetInputs`` keeps no ``gt_`` meta key.

    Args:
        cfg (Config): Config with ``test_dataloader.dataset.pipeline`` (or
            ``test_pipeline``).

    Returns:
        tuple[Compose, dict]: The transforms after loading, and the reading
        options (``color_type``, ``imdecode_backend``, ``to_float32``).
    """
    if 'test_dataloader' in cfg:
        pipeline = cfg.test_dataloader.dataset.get('pipeline')
    else:
        pipeline = cfg.get('test_pipeline')
    if not pipeline:
        raise KeyError('the config has no test pipeline '
                       '(test_dataloader.dataset.pipeline or test_pipeline)')
    pipeline = copy.deepcopy(list(pipeline))
    if _type_name(pipeline[0]) not in LOAD_TRANSFORMS:
        raise ValueError('the test pipeline must start with one of '
                         f'{LOAD_TRANSFORMS}, got {pipeline[0]["type"]!r}')
    read_args = {k: v for k, v in pipeline[0].items() if k in READ_ARGS}
    transforms = []
    for step in pipeline[1:]:
        name = _type_name(step)
        if name in ANNOTATION_TRANSFORMS:
            continue
        if name == 'PackDetInputs' and 'meta_keys' in step:
            keys = [k for k in step['meta_keys'] if not k.startswith('gt_')]
            step['meta_keys'] = tuple(dict.fromkeys(
                keys + ['img_id', 'img_path', 'ori_shape', 'img_shape']))
        transforms.append(TRANSFORMS.build(step))
    return Compose(transforms), read_args


def dataset_meta_of(cfg: Config, checkpoint_meta: Optional[dict],
                    num_things: int, num_stuff: int) -> dict:
    """Class names and palette: the checkpoint's, else the config's.

    The config's test dataset gives its ``metainfo`` merged over its
    class's ``METAINFO``. Missing or mismatching names (e.g. a dataset of
    another size) become ``thing_i`` / ``stuff_i`` with a warning.

    Returns:
        dict: ``classes``, ``thing_classes``, ``stuff_classes``,
        ``palette`` (one RGB triple per class).
    """
    meta = dict((checkpoint_meta or {}).get('dataset_meta') or {})
    if not meta.get('classes'):
        dataset = cfg.get('test_dataloader', {}).get('dataset', {})
        kind = dataset.get('type')
        cls = DATASETS.get(kind) if isinstance(kind, str) else kind
        meta = copy.deepcopy(dict(getattr(cls, 'METAINFO', {}) or {}))
        meta.update(dataset.get('metainfo') or {})
    things = tuple(meta.get('thing_classes', ()))
    stuff = tuple(meta.get('stuff_classes', ()))
    if len(things) != num_things or len(stuff) != num_stuff:
        warnings.warn(f'dataset meta has {len(things)} thing and '
                      f'{len(stuff)} stuff classes but the model '
                      f'{num_things} and {num_stuff}: classes are named '
                      'thing_i / stuff_i')
        things = tuple(f'thing_{i}' for i in range(num_things))
        stuff = tuple(f'stuff_{i}' for i in range(num_stuff))
        meta = {}
    palette = [tuple(int(v) for v in c) for c in meta.get('palette', ())]
    if len(palette) < num_things + num_stuff:
        rng = np.random.default_rng(0)
        palette = [tuple(int(v) for v in c) for c in rng.integers(
            40, 256, size=(num_things + num_stuff, 3))]
    return dict(classes=things + stuff, thing_classes=things,
                stuff_classes=stuff,
                palette=palette[:num_things + num_stuff])


def load_model_weights(model: torch.nn.Module,
                       checkpoint: str,
                       strict: bool = True) -> dict:
    """Load a checkpoint, listing every key that does not fit the model.

    ``state_dict`` (or the whole file) is read on the CPU; a ``module.``
    prefix (DataParallel) is removed. Missing keys ignore BN's
    ``num_batches_tracked``.

    Args:
        model (nn.Module): The built model.
        checkpoint (str): Path or URL of the checkpoint.
        strict (bool): Raise on missing or unexpected keys (else warn and
            load the rest). Shape mismatches always raise. Defaults to True.

    Returns:
        dict: The checkpoint's ``meta`` (empty if it has none).

    Raises:
        CheckpointMismatchError: Listing the missing and unexpected keys
            and the keys whose shapes differ.
        CheckpointLoadError: The file is corrupt, or refused
            (:class:`~mmpfcn.utils.UntrustedCheckpointError`).
    """
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise CheckpointMismatchError(
            f'checkpoint {checkpoint!r} does not hold a state dict')
    state = model_state_of(ckpt)
    mismatches = checkpoint_mismatches(model, state)
    message = mismatch_message(checkpoint, mismatches)
    if message:
        if strict or mismatches['shapes']:
            raise CheckpointMismatchError(message)
        warnings.warn(message + '\n(strict=False: loaded the matching keys)')
    own = model.state_dict()
    model.load_state_dict(
        {k: v for k, v in state.items() if k in own}, strict=False)
    return ckpt.get('meta') or {}


def _class_counts(model) -> Tuple[int, int]:
    """(things, stuff) classes of a panoptic model: Panoptic FCN keeps
    them on its head, mmdet's panoptic segmentors on themselves."""
    for owner in (getattr(model, 'panoptic_head', None), model,
                  getattr(model, 'panoptic_fusion_head', None)):
        if hasattr(owner, 'num_things_classes') and \
                hasattr(owner, 'num_stuff_classes'):
            return owner.num_things_classes, owner.num_stuff_classes
    raise TypeError(f'{type(model).__name__} is not a panoptic model: no '
                    'num_things_classes / num_stuff_classes')


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> torch.nn.Module:
    """Build a Panoptic FCN model for inference.

    The backbone's ``init_cfg`` is dropped (no pretrained download);
    without a checkpoint the weights are the layers' default
    initialisation, which is only useful for testing.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Checkpoint path or URL.
        device (str): Torch device. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config.
        strict (bool): See :func:`load_model_weights`. Defaults to True.

    Returns:
        nn.Module: The model in eval mode with ``cfg`` and
        ``dataset_meta`` attributes.
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError('config must be a file path or a Config, got '
                        f'{type(config).__name__}')
    cfg = copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    register_all_modules()
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    meta = {}
    if checkpoint is not None:
        meta = load_model_weights(model, checkpoint, strict=strict)
    model.cfg = cfg
    model.dataset_meta = dataset_meta_of(cfg, meta, *_class_counts(model))
    return model.to(device).eval()


def _inference_pipeline(model) -> Tuple[Compose, dict]:
    """The model's inference pipeline, built once and cached."""
    if getattr(model, '_inference_pipeline', None) is None:
        model._inference_pipeline = build_inference_pipeline(model.cfg)
    return model._inference_pipeline


def read_input(item: ImageInput, index: int, read_args: dict
               ) -> Tuple[np.ndarray, Optional[str]]:
    """The image of an input and its path (None for an array).

    Args:
        item (str | np.ndarray): Image path, or an (H, W, 3) BGR array.
        index (int): Position among the inputs (named in errors).
        read_args (dict): Options of :func:`read_image`.

    Raises:
        UnreadableImageError: A file that cannot be read or an array that
            is not (H, W, 3).
    """
    if isinstance(item, (str, Path)):
        return read_image(str(item), **read_args), str(item)
    if isinstance(item, np.ndarray):
        if item.ndim != 3 or item.shape[2] != 3 or item.size == 0:
            raise UnreadableImageError(
                f'input array {index} must be (H, W, 3) BGR, got shape '
                f'{item.shape}')
        return item, None
    raise TypeError(f'input {index}: expected an image path or array, '
                    f'got {type(item).__name__}')


def prepare_image(img: np.ndarray, path: Optional[str], index: int,
                  pipeline: Compose) -> dict:
    """Transform one image read by :func:`read_input`.

    Returns:
        dict: ``inputs`` and ``data_samples`` of the pipeline
        (``img_id`` = ``index``).
    """
    warn_if_large(img.shape[:2], path or f'input array {index}')
    results = dict(img=img, img_path=path, img_id=index,
                   img_shape=img.shape[:2], ori_shape=img.shape[:2])
    return pipeline(results)


def warn_if_large(shape: Sequence[int], name: str) -> None:
    """Warn that an image above ``LARGE_IMAGE_PIXELS`` pixels gets its
    results at its full size, whatever the test scale of the network."""
    pixels = int(shape[0]) * int(shape[1])
    if pixels > LARGE_IMAGE_PIXELS:
        warnings.warn(
            f'{name} is {shape[1]} x {shape[0]} ({pixels / 1e6:.0f} '
            'megapixels): the panoptic, semantic and instance results are '
            'made at this size (the network runs at the test scale), so '
            'memory grows with the pixels; full-size instance bitmaps '
            'unless the fusion head\'s test_cfg.instance_masks is \'rle\' '
            "or 'none' (the Inferencer and the demos use 'rle'); see "
            'docs/inference.md, "Large images"')


def iter_batches(model,
                 items: Iterable[ImageInput],
                 batch_size: int,
                 skip_unreadable: bool = True,
                 on_skip: Optional[Callable[[int, str], None]] = None,
                 with_images: bool = False) -> Iterator:
    """Collated batches of up to ``batch_size`` readable images.

    Args:
        model (nn.Module): From :func:`init_model`.
        items (Iterable): Image paths or (H, W, 3) BGR arrays (may be a
            lazy stream, such as the frames of a video).
        batch_size (int): Images per batch.
        skip_unreadable (bool): Skip an unreadable image (else raise
            :class:`UnreadableImageError`). Defaults to True.
        on_skip (callable, optional): Called with the input index and the
            message of every skipped image; by default a warning naming
            the file is issued.
        with_images (bool): Yield ``(images, batch)``, ``images`` the
            batch's original (H, W, 3) BGR images. Defaults to False.

    Yields:
        dict | tuple[list, dict]: ``inputs`` and ``data_samples`` lists of
        the batch (with its images if ``with_images``).
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    pipeline, read_args = _inference_pipeline(model)
    images, batch = [], []

    def collated():
        data = pseudo_collate(batch)
        return (images, data) if with_images else data

    for index, item in enumerate(items):
        try:
            img, path = read_input(item, index, read_args)
        except UnreadableImageError as err:
            if not skip_unreadable:
                raise
            if on_skip is None:
                warnings.warn(f'{err}; skipped')
            else:
                on_skip(index, str(err))
            continue
        images.append(img)
        batch.append(prepare_image(img, path, index, pipeline))
        if len(batch) == batch_size:
            yield collated()
            images, batch = [], []
    if batch:
        yield collated()


def inference_model(
    model, images: Union[ImageInput, Sequence[ImageInput]],
    batch_size: int = 1
) -> Union[DetDataSample, List[DetDataSample]]:
    """Panoptic, instance and semantic results of one or many images.

    Images go through the test pipeline (resize) and, ``batch_size`` at a
    time, through the data preprocessor (normalise, pad) and the model.

    Args:
        model (nn.Module): From :func:`init_model`.
        images (str | np.ndarray | Sequence): One image (path or (H, W, 3)
            BGR uint8 array) or a sequence of them.
        batch_size (int): Images per forward pass. Defaults to 1.

    Returns:
        DetDataSample | list[DetDataSample]: For one image its result
        (an unreadable image raises
        :class:`~mmpfcn.apis.inputs.UnreadableImageError`); for a sequence
        the results of the readable images in input order (the others are
        named in a warning and skipped; ``metainfo['img_id']`` is the
        input index). Each has ``pred_panoptic_seg.sem_seg`` (1, H, W)
        (``label + id * INSTANCE_OFFSET``, void = number of classes),
        ``pred_instances`` (``masks``, ``labels``, ``scores``, ``bboxes``)
        and ``pred_sem_seg.sem_seg`` (1, H, W), at the original size.
    """
    return run_batches(model, images, batch_size, model.test_step)


def run_batches(model, images: Union[ImageInput, Sequence[ImageInput]],
                batch_size: int, step: Callable[[dict], list]):
    """Shared loop of :func:`inference_model` and the ONNX predictor:
    ``step`` turns a collated batch into its data samples."""
    single = isinstance(images, (str, Path, np.ndarray))
    items = [images] if single else list(images)
    results = []
    with torch.no_grad():
        for data in iter_batches(model, items, batch_size,
                                 skip_unreadable=not single):
            results.extend(step(data))
    return results[0] if single else results
