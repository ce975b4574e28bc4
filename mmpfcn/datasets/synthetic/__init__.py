"""A deterministic synthetic dataset in real COCO panoptic format.

The project's embedded default: small images of coloured shapes (things) on
textured regions (stuff), written exactly like COCO panoptic (JPEG images,
RGB-encoded segment-id PNGs, one JSON per split) so that the whole pipeline
-- dataset, transforms, training, panoptic merge and PQ -- runs on a CPU in
minutes without downloading COCO.

What makes it learnable: every thing class has its own shape and hue, every
stuff class its own colour and texture statistics. What keeps it non-trivial:
sizes from ~6 px to ~half the image, occlusions and touching instances of the
same class (told apart only by shading and shape), instances cut by the image
border, crowd clusters annotated as one ``iscrowd=1`` segment, and unlabeled
(void) pixels along stuff boundaries and on grey clutter blobs.

Layout written by :func:`make_synthetic_panoptic` under ``out_dir``::

    train/*.jpg  val/*.jpg
    annotations/panoptic_{train,val}.json
    annotations/panoptic_{train,val}/*.png   (id = R + 256 G + 256^2 B)

Every image is drawn from its own generator seeded by ``(seed, split,
index)``, so the same arguments give byte-identical files, the splits use
different streams, and image ``i`` does not depend on how many are written.

Modules: :mod:`.categories` (the classes), :mod:`.drawing` (one image and
its annotation from a random generator), :mod:`.writer` (the splits on
disk).
"""
from .categories import SYNTHETIC_CATEGORIES, synthetic_metainfo
from .drawing import generate_sample
from .writer import make_synthetic_panoptic

__all__ = [
    'SYNTHETIC_CATEGORIES', 'generate_sample', 'make_synthetic_panoptic',
    'synthetic_metainfo'
]
