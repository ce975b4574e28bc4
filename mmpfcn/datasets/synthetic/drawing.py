"""Drawing one synthetic image and its panoptic annotation: textured stuff
regions with void seams, coloured shapes in paint order (crowds, occlusion,
touching instances, border cuts), grey clutter, and the COCO
``segments_info`` of what stays visible. All randomness comes from the
given generator."""
import numpy as np

from mmpfcn.datasets.synthetic.categories import (
    STUFF_CATEGORIES,
    THING_CATEGORIES,
)

_MAX_SEGMENT_ID = 256**3 - 1


def _smooth_noise(rng: np.random.Generator, num: int, height: int,
                  width: int, cells: int = 4) -> np.ndarray:
    """Low-frequency noise: a coarse N(0, 1) grid, bilinearly upsampled.

    Returns:
        np.ndarray: (num, height, width) float32.
    """
    coarse = rng.standard_normal(
        (num, cells + 1, cells + 1)).astype(np.float32)
    # separable linear interpolation of the (cells+1)^2 grid to full size
    ys = np.linspace(0, cells, height, dtype=np.float32)
    xs = np.linspace(0, cells, width, dtype=np.float32)
    y0 = np.minimum(ys.astype(np.int64), cells - 1)
    x0 = np.minimum(xs.astype(np.int64), cells - 1)
    wy = (ys - y0)[None, :, None]
    wx = (xs - x0)[None, None, :]
    rows = coarse[:, y0] * (1 - wy) + coarse[:, y0 + 1] * wy  # (n, H, c+1)
    return rows[:, :, x0] * (1 - wx) + rows[:, :, x0 + 1] * wx


def _stuff_layout(rng: np.random.Generator, height: int,
                  width: int) -> tuple[np.ndarray, np.ndarray]:
    """Large irregular stuff regions and the void band between them.

    A Voronoi partition of 3-6 random seeds whose distances are warped by
    smooth noise, so borders meander like real region borders.

    Returns:
        tuple: stuff index map (H, W) int64 in ``[0, num_stuff)`` and the
        boundary void mask (H, W) bool, 2 px wide between regions.
    """
    num_seeds = int(rng.integers(3, 7))
    seeds = rng.uniform((0, 0), (height, width), size=(num_seeds, 2))
    seed_class = rng.integers(0, len(STUFF_CATEGORIES), size=num_seeds)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dist = np.hypot(yy[None] - seeds[:, 0, None, None],
                    xx[None] - seeds[:, 1, None, None]) / np.hypot(
                        height, width)  # (K, H, W)
    dist = dist + 0.12 * _smooth_noise(rng, num_seeds, height, width)
    labels = seed_class[dist.argmin(0)]
    # void where a 4-neighbour belongs to another region, like the unlabeled
    # seams of COCO annotations
    void = np.zeros((height, width), dtype=bool)
    edge_y = labels[1:] != labels[:-1]
    edge_x = labels[:, 1:] != labels[:, :-1]
    void[1:] |= edge_y
    void[:-1] |= edge_y
    void[:, 1:] |= edge_x
    void[:, :-1] |= edge_x
    return labels, void


def _stuff_textures(rng: np.random.Generator, height: int,
                    width: int) -> np.ndarray:
    """One full-image texture per stuff class, in ``STUFF_CATEGORIES`` order.

    Returns:
        np.ndarray: (num_stuff, H, W, 3) float32 RGB in about [0, 255].
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    noise = rng.standard_normal((2, height, width)).astype(np.float32)
    # sky: smooth vertical gradient, barely any texture
    t = (yy / height)[..., None]
    top = np.array([110, 165, 230]) + rng.uniform(-15, 15, 3)
    sky = top * (1 - t) + np.array([200, 225, 250]) * t
    sky = sky + 2.0 * noise[0, ..., None]
    # grass: dark green with strong fine-grained noise, mostly in green
    grass = (np.array([70, 135, 45]) + rng.uniform(-10, 10, 3) +
             28.0 * noise[1, ..., None] * np.array([0.5, 1.0, 0.3]))
    # bricks: staggered rows of per-brick tinted tan blocks, grey mortar
    brick_h, brick_w = int(rng.integers(9, 13)), int(rng.integers(18, 26))
    row = (yy // brick_h).astype(np.int64)
    shifted = xx + (row % 2) * (brick_w // 2)
    col = (shifted // brick_w).astype(np.int64)
    tint = rng.normal(0, 12, size=(row.max() + 1, col.max() + 1, 3))
    bricks = np.array([180, 112, 72]) + tint[row, col]
    mortar = (yy % brick_h < 2) | (shifted % brick_w < 2)
    bricks[mortar] = np.array([205, 200, 190])
    # water: teal with horizontal sinusoidal ripples
    phase = rng.uniform(0, 2 * np.pi)
    ripple = np.sin(2 * np.pi * yy / 7.0 +
                    1.5 * np.sin(2 * np.pi * xx / 40.0 + phase))
    water = (np.array([35, 105, 135]) +
             22.0 * ripple[..., None] * np.array([0.6, 1.0, 1.0]))
    return np.stack([sky, grass, bricks, water]).astype(np.float32)


def _sample_things(rng: np.random.Generator, height: int,
                   width: int) -> dict:
    """Shape primitives in paint order, grouped into segments.

    Returns:
        dict of arrays over the M primitives: ``cls`` (M,) thing index,
        ``cy``, ``cx``, ``r`` (circumradius), ``angle`` (M,) float,
        ``segment`` (M,) segment index; and ``crowd`` (S,) bool per segment.
    """
    cls, cy, cx, r, segment, crowd = [], [], [], [], [], []
    # crowd: a cluster of tiny same-class shapes annotated as ONE segment,
    # painted first so that regular instances may occlude it
    if rng.random() < 0.35:
        count = int(rng.integers(6, 13))
        centre = rng.uniform((0, 0), (height, width))
        cls += [int(rng.integers(len(THING_CATEGORIES)))] * count
        offsets = rng.normal(0, rng.uniform(6, 11), size=(count, 2))
        cy += list(centre[0] + offsets[:, 0])
        cx += list(centre[1] + offsets[:, 1])
        r += list(rng.uniform(2.5, 4.5, size=count))
        segment += [0] * count
        crowd.append(True)
    r_max = 0.27 * min(height, width)
    for _ in range(int(rng.integers(3, 10))):
        # a few tiny shapes (~7-12 px) keep it non-trivial; most are medium
        # to large (log-uniform up to ~half the image) so a small CNN trained
        # for minutes on a CPU can still reach a high PQ
        if rng.random() < 0.15:
            radius = rng.uniform(3.5, 6.0)
        else:
            radius = float(np.exp(rng.uniform(np.log(6.0), np.log(r_max))))
        if r and rng.random() < 0.3:
            # touch / overlap an earlier shape, often of the same class:
            # the hard case where only shape and shading separate them
            j = int(rng.integers(len(r)))
            gap = (r[j] + radius) * rng.uniform(0.7, 1.0)
            theta = rng.uniform(0, 2 * np.pi)
            y, x = cy[j] + gap * np.sin(theta), cx[j] + gap * np.cos(theta)
            c = cls[j] if rng.random() < 0.6 else int(
                rng.integers(len(THING_CATEGORIES)))
        else:
            # centres may lie slightly outside: instances cut by the border
            y = rng.uniform(-0.3 * radius, height + 0.3 * radius)
            x = rng.uniform(-0.3 * radius, width + 0.3 * radius)
            c = int(rng.integers(len(THING_CATEGORIES)))
        cls.append(c)
        cy.append(y)
        cx.append(x)
        r.append(radius)
        segment.append(len(crowd))
        crowd.append(False)
    return dict(
        cls=np.array(cls), cy=np.array(cy), cx=np.array(cx), r=np.array(r),
        angle=rng.uniform(0, 2 * np.pi, size=len(cls)),
        segment=np.array(segment), crowd=np.array(crowd))


def _disc(u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    return u**2 + v**2 <= r**2


def _square(u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    # half side 0.8 r: about the area of the disc, so size means the same
    return np.maximum(abs(u), abs(v)) <= 0.8 * r


def _triangle(u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    # equilateral, circumradius 1.3 r: three half-planes at the inradius
    # 0.65 r along normals 120 degrees apart
    phi = 2 * np.pi * np.arange(3, dtype=np.float32) / 3
    proj = (u[:, None] * np.cos(phi)[:, None, None] +
            v[:, None] * np.sin(phi)[:, None, None])  # (n, 3, H, W)
    return (proj <= 0.65 * r[:, None]).all(1)


def _ring(u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    dist2 = u**2 + v**2
    return (dist2 <= r**2) & (dist2 >= (0.55 * r)**2)


# mask of each thing class from shape-aligned coordinates u, v (n, H, W) and
# circumradius r (n, 1, 1)
_SHAPES = dict(disc=_disc, square=_square, triangle=_triangle, ring=_ring)


def _shape_masks(prims: dict, height: int,
                 width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise every primitive over the whole image, before occlusion.

    Returns:
        tuple: masks (M, H, W) bool and a lighting factor (M, H, W) float32
        that darkens each shape from its top-left to its bottom-right.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    dy = yy[None] - prims['cy'][:, None, None].astype(np.float32)
    dx = xx[None] - prims['cx'][:, None, None].astype(np.float32)
    r = prims['r'][:, None, None].astype(np.float32)
    cos = np.cos(prims['angle'])[:, None, None].astype(np.float32)
    sin = np.sin(prims['angle'])[:, None, None].astype(np.float32)
    u, v = dx * cos + dy * sin, dy * cos - dx * sin  # shape-aligned frame
    masks = np.zeros(u.shape, dtype=bool)
    for k, category in enumerate(THING_CATEGORIES):
        idx = prims['cls'] == k
        if idx.any():
            masks[idx] = _SHAPES[category['name']](u[idx], v[idx], r[idx])
    shade = np.clip(1 - 0.18 * (dx + dy) / r, 0.6, 1.4)
    return masks, shade


def _void_blob(rng: np.random.Generator, height: int,
               width: int) -> np.ndarray:
    """An irregular unlabeled blob (grey clutter), or nothing.

    Returns:
        np.ndarray: (H, W) bool, empty for about 60% of the images.
    """
    if rng.random() >= 0.4:
        return np.zeros((height, width), dtype=bool)
    cy, cx = rng.uniform((0, 0), (height, width))
    ry, rx = rng.uniform(10, 0.15 * min(height, width) + 10, size=2)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ellipse = ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2
    return ellipse + 0.5 * _smooth_noise(rng, 1, height, width, 6)[0] <= 1


def generate_sample(rng: np.random.Generator, height: int,
                    width: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Draw one image and its panoptic annotation.

    Args:
        rng (np.random.Generator): source of all randomness for the image.
        height (int): image height in pixels.
        width (int): image width in pixels.

    Returns:
        tuple:
        - image (np.ndarray): (H, W, 3) uint8 RGB.
        - panoptic (np.ndarray): (H, W) int64 segment ids, 0 = void.
        - segments_info (list[dict]): COCO ``segments_info`` (``id``,
          ``category_id``, ``iscrowd``, ``bbox`` [x, y, w, h], ``area``) of
          exactly the segments visible in ``panoptic``.
    """
    num_stuff = len(STUFF_CATEGORIES)
    stuff, seam = _stuff_layout(rng, height, width)
    textures = _stuff_textures(rng, height, width)
    blob = _void_blob(rng, height, width)
    prims = _sample_things(rng, height, width)
    masks, shade = _shape_masks(prims, height, width)

    iy, ix = np.mgrid[0:height, 0:width]
    image = textures[stuff, iy, ix]  # (H, W, 3)
    grey = 120 + 25 * rng.standard_normal((height, width, 1))
    image[blob] = (grey + 6 * rng.standard_normal((height, width, 3)))[blob]

    # painter's order: the last primitive covering a pixel is visible
    num_prims = len(masks)
    covered = masks.any(0)
    top = num_prims - 1 - masks[::-1].argmax(0)  # (H, W)
    base = np.array([c['color'] for c in THING_CATEGORIES], dtype=np.float32)
    colour = (base[prims['cls']] * rng.uniform(0.8, 1.1, (num_prims, 1)) +
              rng.normal(0, 10, (num_prims, 3)))  # (M, 3)
    lit = colour[top] * np.take_along_axis(shade, top[None], 0)[0, ..., None]
    image[covered] = lit[covered]
    image += 3 * rng.standard_normal(image.shape)
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)

    # segment index: stuff classes first, then thing segments; -1 = void
    segment = np.where(seam | blob, -1, stuff)
    segment[covered] = num_stuff + prims['segment'][top][covered]
    num_segments = num_stuff + len(prims['crowd'])
    seg_cls = np.empty(len(prims['crowd']), dtype=np.int64)
    seg_cls[prims['segment']] = prims['cls']
    category = np.array([c['id'] for c in STUFF_CATEGORIES] +
                        [THING_CATEGORIES[k]['id'] for k in seg_cls])
    iscrowd = np.concatenate([np.zeros(num_stuff, bool), prims['crowd']])

    area = np.bincount(segment.ravel() + 1, minlength=num_segments + 1)[1:]
    kept = np.flatnonzero(area > 0)  # occluded segments vanish entirely
    kept_masks = segment[None] == kept[:, None, None]  # (K, H, W)
    rows, cols = kept_masks.any(2), kept_masks.any(1)
    y0 = rows.argmax(1)
    y1 = height - rows[:, ::-1].argmax(1)
    x0 = cols.argmax(1)
    x1 = width - cols[:, ::-1].argmax(1)
    ids = rng.choice(_MAX_SEGMENT_ID, size=len(kept), replace=False) + 1

    lut = np.zeros(num_segments + 1, dtype=np.int64)
    lut[kept + 1] = ids
    panoptic = lut[segment + 1]
    segments_info = [
        dict(id=int(ids[i]), category_id=int(category[s]),
             iscrowd=int(iscrowd[s]),
             bbox=[int(x0[i]), int(y0[i]), int(x1[i] - x0[i]),
                   int(y1[i] - y0[i])],
             area=int(area[s])) for i, s in enumerate(kept)
    ]
    return image, panoptic, segments_info
