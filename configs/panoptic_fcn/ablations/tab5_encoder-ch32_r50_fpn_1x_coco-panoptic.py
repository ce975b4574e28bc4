# Ablation Table 5 (feature encoder channels), row "C_e = 32" (paper PQ 40.8,
# PQ_th 46.3, PQ_st 32.5, AP 31.7, mIoU 41.6): the encoded feature and the
# kernel embeddings have 32 channels.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(feature_encoder=dict(feat_channels=32)))
