"""Write the deterministic synthetic COCO-panoptic dataset.

``python tools/misc/make_synthetic_panoptic.py --out-dir data/synthetic``
gives ``train/``, ``val/`` and ``annotations/panoptic_{train,val}{.json,/}``;
the same arguments always give byte-identical files.
"""
import argparse

from mmpfcn.datasets.synthetic import make_synthetic_panoptic


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write the synthetic COCO-panoptic dataset')
    parser.add_argument('--out-dir', required=True, help='dataset root')
    parser.add_argument('--num-train', type=int, default=300,
                        help='number of training images')
    parser.add_argument('--num-val', type=int, default=50,
                        help='number of validation images')
    parser.add_argument('--seed', type=int, default=0, help='master seed')
    parser.add_argument('--height', type=int, default=192,
                        help='image height')
    parser.add_argument('--width', type=int, default=256, help='image width')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    summary = make_synthetic_panoptic(
        args.out_dir, num_train=args.num_train, num_val=args.num_val,
        seed=args.seed, height=args.height, width=args.width)
    print(f"synthetic panoptic dataset written to {summary['out_dir']}")
    for split in ('train', 'val'):
        info = summary[split]
        print(f"  {split}: {info['num_images']} images, "
              f"{info['num_segments']} segments ({info['num_crowd']} crowd), "
              f"annotations {info['ann_file']}")


if __name__ == '__main__':
    main()
