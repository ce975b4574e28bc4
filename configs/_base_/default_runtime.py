# Runtime shared by every Panoptic FCN config: iteration-based logging and
# checkpointing, the panoptic visualiser, mmpfcn as the default registry scope.
default_scope = 'mmpfcn'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's checkpoint hook, saving atomically (a kill or a full disk
    # leaves the previous checkpoints and last_checkpoint intact)
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=10000,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # mmdet's visualisation hook, with --show-dir names that replace no image
    visualization=dict(type='PanopticVisualizationHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # timeout: seconds a collective waits for a dead or stuck rank
    dist_cfg=dict(backend='nccl', timeout=1800))

vis_backends = [dict(type='LocalVisBackend')]
# ground truth | predicted panoptic map, side by side
visualizer = dict(
    type='PanopticFCNVisualizer', vis_backends=vis_backends,
    name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)

log_level = 'INFO'
load_from = None
resume = False

# `tools/test.py --tta`: merges the views of the dataset config's
# tta_pipeline (docs/evaluation.md)
tta_model = dict(type='PanopticFCNTTAModel')
