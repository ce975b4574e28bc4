# Ablation Table 5 (feature encoder channels), row "C_e = 16" (paper PQ 39.9,
# PQ_th 45.0, PQ_st 32.1, AP 30.8, mIoU 41.3): the encoded feature and the
# kernel embeddings have 16 channels.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(feature_encoder=dict(feat_channels=16)))
