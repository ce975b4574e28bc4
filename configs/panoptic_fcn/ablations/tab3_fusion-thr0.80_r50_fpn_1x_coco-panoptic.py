# Ablation Table 3 (kernel fusion), row "class-aware, threshold 0.80" (paper PQ
# 39.7, PQ_th 44.3, PQ_st 32.9, AP 29.9, mIoU 41.7): kernels of one class merge
# at cosine similarity >= 0.80.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(test_cfg=dict(fusion_sim_thr=0.8))
