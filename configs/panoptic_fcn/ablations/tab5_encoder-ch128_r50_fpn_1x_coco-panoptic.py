# Ablation Table 5 (feature encoder channels), row "C_e = 128" (paper PQ 41.3,
# PQ_th 47.0, PQ_st 32.6, AP 32.6, mIoU 41.7): the encoded feature and the
# kernel embeddings have 128 channels.
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(panoptic_head=dict(feature_encoder=dict(feat_channels=128)))
