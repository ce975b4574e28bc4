# Ablation Table 3 (kernel fusion), row "class-aware, threshold 0.95" (paper PQ
# 41.3, PQ_th 47.0, PQ_st 32.9, AP 31.1, mIoU 41.7): kernels of one class merge
# at cosine similarity >= 0.95.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(fusion_sim_thr=0.95))
