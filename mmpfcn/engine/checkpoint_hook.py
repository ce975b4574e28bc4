"""Checkpoints that a kill or a full disk cannot break: each is written
under a temporary name, synced and renamed, ``last_checkpoint`` is updated
only after, and the checkpoint that drops out of ``max_keep_ckpts`` is
deleted only once the new one is complete."""
import os
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from mmpfcn.registry import HOOKS

# suffix of a checkpoint being written; a kill leaves it behind
TMP_SUFFIX = '.tmp'


def fsync_path(path: str) -> None:
    """Flush a written file (or a folder's entries) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp_path: str, path: str) -> None:
    """Make the complete, written ``tmp_path`` appear as ``path`` at once:
    sync it, rename it over ``path`` and sync the folder's entries."""
    fsync_path(tmp_path)
    os.replace(tmp_path, path)
    fsync_path(osp.dirname(osp.abspath(path)))


def write_text_atomically(path: str, text: str) -> None:
    """Replace ``path`` by a file holding ``text``, never by a partial
    one (the temporary file is removed if writing fails)."""
    tmp_path = path + TMP_SUFFIX
    try:
        with open(tmp_path, 'w') as f:
            f.write(text)
        publish(tmp_path, path)
    finally:
        if osp.exists(tmp_path):
            os.remove(tmp_path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with crash-safe saving.

    mmengine 0.10.7 deletes the oldest kept checkpoint before writing the
    new one and writes straight to ``iter_N.pth``: a kill or a full disk
    during the save leaves a truncated ``iter_N.pth``, ``last_checkpoint``
    naming it, and (with ``max_keep_ckpts=1``) nothing to resume from.
    Here a save

    1. writes ``iter_N.pth.tmp`` in the same folder, syncs it to the disk
       and renames it to ``iter_N.pth`` (a reader sees the whole file or
       none);
    2. then rewrites ``last_checkpoint`` the same way;
    3. then deletes the checkpoint that no longer fits ``max_keep_ckpts``.

    A failed write (e.g. ``ENOSPC``) removes its temporary file and raises;
    a kill leaves at most a ``*.pth.tmp``, removed when training starts
    again. Checkpoints go to a local folder; for other storage backends
    and for ``save_best`` checkpoints mmengine's saving is used unchanged.
    Arguments as ``CheckpointHook``'s.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._local() and is_main_process() and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):
                if name.endswith('.pth' + TMP_SUFFIX):
                    os.remove(osp.join(self.out_dir, name))
                    runner.logger.info(
                        f'removed {name}, a checkpoint whose save was '
                        'interrupted')

    def _local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        dropped: Optional[int] = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                dropped = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            # saved in the checkpoint: the ones kept once it is written
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        tmp_path = self.last_ckpt + TMP_SUFFIX
        try:
            runner.save_checkpoint(
                self.out_dir,
                filename + TMP_SUFFIX,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
            if is_main_process():
                publish(tmp_path, self.last_ckpt)
        finally:
            if is_main_process() and osp.exists(tmp_path):
                os.remove(tmp_path)
        if not is_main_process():
            return
        write_text_atomically(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if dropped is not None:
            old = osp.join(self.out_dir, self.filename_tmpl.format(dropped))
            if osp.isfile(old):
                os.remove(old)
