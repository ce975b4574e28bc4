# Ablation Table 3 (kernel fusion), row "class-aware, threshold 1.00" (paper PQ
# 38.7, PQ_th 42.6, PQ_st 32.9, AP 25.4, mIoU 41.7): kernels of one class merge
# at cosine similarity >= 1.00.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(fusion_sim_thr=1.0))
