"""The trainer: one loop for CPU, one GPU and data-parallel GPUs, built from a resolved config.

    trainer = Trainer(cfg, task, run_dir)   # task: the config's entry of the task table
    result = trainer.fit()                  # Trainer(..., checkpoint=state) resumes a run

The task names the model's builder and the training task (`training/tasks/`: heatmap or refdet)
that supplies data, loss and validation. Each epoch: shuffled samples (the same order on every
process, dealt round-robin), AMP on CUDA (bf16 where supported), gradient accumulation and
clipping, a per-step cosine schedule, the backbone frozen for the first
`training.freeze_backbone_epochs`; then validation (ball F1 or detection AP@0.5),
`weights/last.pt`, `weights/best.pt` when the task's metric improves, a row in `results.csv`,
TensorBoard scalars and images, `results.png`. `training.max_minutes` ends the epoch under way
early and the run with it (validated and saved as usual). Ctrl-C saves a `last.pt` that resumes at the very
next batch; a non-finite loss stops the run and keeps the last good checkpoint.
"""

from __future__ import annotations

import math
import os
import random
import signal
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig
from rich import box
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader

from tracknet_cli import distributed
from tracknet_cli.config import save_config, to_container
from tracknet_cli.console import progress_bar
from tracknet_cli.datasets.card import read_card
from tracknet_cli.devices import autocast, autocast_dtype, select_device
from tracknet_cli.errors import TracknetError
from tracknet_cli.models.build import part_config
from tracknet_cli.training.checkpoint import load_initial_weights, restore_rng, save_checkpoint
from tracknet_cli.training.optim import build_optimizer, build_scheduler


class TrainingError(TracknetError):
    """Training cannot go on (a non-finite loss, an empty split)."""


@dataclass
class TrainResult:
    run_dir: Path | None
    epochs_done: int
    best_metric: float | None
    interrupted: bool = False
    metric: str = "val_f1"  # the column of results.csv that best.pt is chosen by
    out_of_time: bool = False  # `training.max_minutes` ended the run before its last epoch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    def __init__(self, cfg: DictConfig, task, run_dir: Path | None, console: Console | None = None,
                 checkpoint: dict | None = None):
        """`task` is the config's entry of the task table (its `training` class and `build_model`);
        `checkpoint`, a run's saved state, resumes that run."""
        self.cfg = cfg
        self.build_model = task.build_model
        self.train_cfg = cfg.training
        self.run_dir = Path(run_dir) if run_dir and distributed.is_main() else None
        self.console = console if distributed.is_main() else None
        self.device = select_device(self.train_cfg.device)
        seed_everything(self.train_cfg.seed)

        self.world = distributed.world_size()
        self.task = task.training(cfg)
        self._build_data()
        if self.val_set is None and self.console:
            self.console.print(f"[yellow]data config {cfg.data.name!r} has no val split: no validation, "
                               "and best.pt follows the last epoch[/]")
        self._build_model_and_optimisation(resuming=checkpoint is not None)
        self.epoch, self.step, self.batches_done, self.best_metric = 0, 0, 0, None
        self._deadline = math.inf  # time.monotonic() at which `training.max_minutes` runs out
        self._stop_flag = False  # set by the first Ctrl-C
        self._deferring = self._interrupt_deferred = False  # a second Ctrl-C waits for a step's end
        history = []
        if checkpoint is not None:
            self._restore(checkpoint)
            history = [row for row in _read_history(self.run_dir) if row["epoch"] <= self.epoch]
        self.backbone_frozen = False
        self._set_backbone_stage()
        if self.world > 1:
            self._sync_batch_norm()
            self._wrap_data_parallel()
        self.log = None
        if self.run_dir is not None:
            from tracknet_cli.training.run_log import RunLog

            (self.run_dir / "weights").mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.run_dir / "config.yaml")
            self.log = RunLog(self.run_dir, history)

    def _build_data(self) -> None:
        self.train_set, self.val_set = self.task.datasets()
        self.data_card = read_card(self.cfg.data.root)
        self.global_batch = int(self.train_cfg.batch_size)
        if self.global_batch % self.world:
            raise TracknetError(f"training.batch_size {self.global_batch} must split evenly over "
                                f"{self.world} processes")
        self.local_batch = self.global_batch // self.world
        self.accumulate = int(self.train_cfg.accumulate)
        # an epoch is whole optimizer steps: no micro-batch's gradient spills into the next epoch
        self.sampler = distributed.EpochSampler(len(self.train_set), self.train_cfg.seed,
                                                drop_last_to=self.global_batch * self.accumulate)
        self.batches_per_epoch = len(self.sampler) // self.local_batch
        if self.batches_per_epoch == 0:
            raise TrainingError(f"the train split has {len(self.train_set)} samples, fewer than one "
                                f"optimizer step of {self.global_batch} x {self.accumulate} (batch_size x accumulate)")

    def _sync_batch_norm(self) -> None:
        """BatchNorm over the global batch, as one process would compute it, so N processes follow
        one process's curve. PyTorch syncs BatchNorm on GPUs only: on CPUs each process
        normalises with its own share of the batch, which is said once."""
        if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in self.model.modules()):
            return
        if self.device.type == "cuda":
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        elif self.console:
            self.console.print("[yellow]BatchNorm statistics are per process on CPUs (PyTorch syncs "
                               "them on GPUs only): the curve differs slightly from one process.[/]")

    def _build_model_and_optimisation(self, resuming: bool) -> None:
        cfg = self.cfg
        start_from = self.train_cfg.init_weights if not resuming else None  # a resumed run has its own
        self.model = self.build_model(cfg.model, pretrained=not resuming and start_from is None)
        if start_from is not None:
            skipped = load_initial_weights(self.model, start_from, self.train_cfg.init_partial)
            if self.console:
                left = f"; skipped {len(skipped)} tensors that do not fit: {', '.join(skipped[:6])}" if skipped else ""
                self.console.print(f"Starting from the weights of {start_from} (a fresh optimizer and schedule){left}")
        self.model = self.model.to(self.device)
        if self.device.type == "cuda" and self.train_cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)  # faster convolutions on tensor cores
        steps_per_epoch = self.batches_per_epoch // self.accumulate
        self.optimizer = build_optimizer(self.model, self.train_cfg.optimizer,
                                         pretrained_backbone=part_config(cfg.model, "backbone").use_pretrained)
        self.scheduler = build_scheduler(self.optimizer, self.train_cfg.scheduler,
                                         steps_per_epoch * self.train_cfg.epochs, steps_per_epoch)
        self.amp_dtype = autocast_dtype(self.device, self.train_cfg.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    def _set_backbone_stage(self) -> None:
        """The two-stage schedule: the backbone is frozen (no gradients, norms in eval mode) for the
        first `freeze_backbone_epochs`, then trains with its own learning rate. Decided from the
        epoch alone, so a resumed run is in the right stage. The optimizer holds the backbone's
        parameters from the start; AdamW skips parameters without gradients."""
        frozen = self.epoch < self.train_cfg.freeze_backbone_epochs
        if frozen == self.backbone_frozen:
            return
        backbone = self._bare_model().backbone
        backbone.freeze() if frozen else backbone.unfreeze()
        self.backbone_frozen = frozen
        if self.world > 1 and isinstance(self.model, torch.nn.parallel.DistributedDataParallel):
            self._wrap_data_parallel()  # DDP fixes the set of parameters with gradients when built

    def _wrap_data_parallel(self) -> None:
        self.model = torch.nn.parallel.DistributedDataParallel(self._bare_model())

    # ------------------------------------------------------------------------------------ fit
    def fit(self) -> TrainResult:
        if self.train_cfg.max_minutes is not None:
            self._deadline = time.monotonic() + 60 * self.train_cfg.max_minutes
        try:
            with self._stop_on_ctrl_c():
                while self.epoch < self.train_cfg.epochs:
                    row = self._train_epoch()
                    row.update(self._validate() if self._validation_due() else {})
                    self._end_epoch(row)
                    if self._stop_requested():
                        raise KeyboardInterrupt
                    if self._out_of_time() and self.epoch < self.train_cfg.epochs:
                        return TrainResult(self.run_dir, self.epoch, self.best_metric, False, self.task.best_metric,
                                           out_of_time=True)
        except KeyboardInterrupt:
            # a partial accumulation is replayed on resume; an epoch stopped while validating (all
            # its batches done) is validated on resume
            self.batches_done -= self.batches_done % self.accumulate
            self._save("last.pt")
            return TrainResult(self.run_dir, self.epoch, self.best_metric, True, self.task.best_metric)
        finally:
            if self.log:
                self.log.close()
        return TrainResult(self.run_dir, self.epoch, self.best_metric, False, self.task.best_metric)

    def _train_epoch(self) -> dict:
        self._set_backbone_stage()
        self.sampler.set_epoch(self.epoch, skip=self.batches_done * self.local_batch)
        self.train_set.set_epoch(self.epoch)
        loader = DataLoader(self.train_set, batch_size=self.local_batch, sampler=self.sampler,
                            num_workers=self.train_cfg.num_workers, drop_last=True,
                            pin_memory=self.device.type == "cuda",
                            # its own RNG, not the global one, so a resumed run draws the same batches
                            generator=torch.Generator().manual_seed(self.train_cfg.seed + self.epoch))
        self.model.train()
        losses, started = [], time.perf_counter()
        with self._progress() as progress:
            epoch_name = f"Epoch {self.epoch + 1}/{self.train_cfg.epochs}"
            task = progress.add_task(epoch_name, total=self.batches_per_epoch * self.global_batch,
                                     completed=self.batches_done * self.global_batch) if progress else None
            for batch in loader:
                loss = self._train_step(batch)
                losses.append(loss)
                stepped = self.batches_done % self.accumulate == 0
                if stepped and self.batches_done < self.batches_per_epoch and self._stop_requested():
                    raise KeyboardInterrupt  # on the epoch's last step: validate and log it first
                if stepped and self._out_of_time():
                    break  # this epoch is the last: validated and saved as one
                if progress:
                    progress.update(task, advance=self.global_batch, description=f"{epoch_name} loss {loss:.3f}")
        return {"epoch": self.epoch + 1, "train_loss": float(np.mean(losses)) if losses else math.nan,
                "lr": self.optimizer.param_groups[0]["lr"], "time": round(time.perf_counter() - started, 2)}

    def _train_step(self, batch: dict) -> float:
        inputs = self.task.inputs(batch, self.device)
        last_micro = (self.batches_done + 1) % self.accumulate == 0
        sync = nullcontext() if last_micro or self.world == 1 else self.model.no_sync()
        with sync:
            with autocast(self.device, self.amp_dtype):
                outputs = self.model(*inputs)
            loss, global_loss = self._loss(self.task.losses(outputs, batch, self.device))
            if not torch.isfinite(global_loss):
                kept = f" in {self.run_dir / 'weights'}" if self.run_dir else ""
                raise TrainingError(
                    f"the loss became {global_loss.item()} at epoch {self.epoch + 1}, batch "
                    f"{self.batches_done + 1}; stopped without saving these weights. The last good "
                    f"checkpoint is kept{kept}; try a lower training.optimizer.lr or training.amp=false")
            self.scaler.scale(loss / self.accumulate).backward()
        with self._uninterruptible():
            self.batches_done += 1
            if last_micro:
                self._optimizer_step()
        if self.log and self.step % max(1, self.train_cfg.image_every) == 0 and last_micro:
            self.task.log_images(self.log, batch, outputs, self.step)
            self.log.scalars({"train/loss_step": global_loss.item(),
                              "train/lr": self.optimizer.param_groups[0]["lr"]}, self.step)
        return global_loss.item()

    def _loss(self, terms: list) -> tuple[torch.Tensor, torch.Tensor]:
        """(this process's loss to backpropagate, the global batch's loss to report) from the task's
        (weight, sum, count) terms. Each sum is divided by its count over all processes, so N
        processes take the step one process would take on the whole batch."""
        loss, global_loss = 0.0, 0.0
        for weight, total, count in terms:
            global_count = distributed.all_reduce_sum(count.detach()).clamp(min=1.0)
            loss = loss + weight * total / global_count * self.world
            global_loss = global_loss + weight * distributed.all_reduce_sum(total.detach()) / global_count
        return loss, global_loss

    def _optimizer_step(self) -> None:
        if self.train_cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.train_cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1

    # ------------------------------------------------------------------------ validation, epoch end
    def _out_of_time(self) -> bool:
        """`training.max_minutes` has run out (decided on the main process, so all stop together)."""
        late = torch.tensor(float(time.monotonic() > self._deadline), device=self.device)
        return bool(distributed.all_reduce_sum(late) > 0) if self.world > 1 else bool(late)

    def _validation_due(self) -> bool:
        last = self.epoch + 1 == self.train_cfg.epochs or self._out_of_time()
        return self.val_set is not None and ((self.epoch + 1) % self.train_cfg.val_every == 0 or last)

    def _validate(self) -> dict:
        return self.task.validate(self._bare_model(), self.val_set, self.device, self.local_batch,
                                  self.train_cfg.num_workers, self.amp_dtype)

    def _end_epoch(self, row: dict) -> None:
        with self._uninterruptible():
            self.epoch, self.batches_done = self.epoch + 1, 0  # also after an epoch cut short by time
            value = row.get(self.task.best_metric)
            improved = value is not None and (self.best_metric is None or value > self.best_metric)
            if improved:
                self.best_metric = value
            if self.run_dir is not None:  # rank 0 only
                self._save("last.pt", metrics=row)
                if improved or self.val_set is None:
                    self._save("best.pt", metrics=row)
                self.log.epoch(row)
        if self.console:
            self.console.print(_epoch_table(row, self.best_metric, self.task.headers))

    def _save(self, name: str, metrics: dict | None = None) -> None:
        if self.run_dir is None:
            return
        save_checkpoint(self.run_dir / "weights" / name, model=self.model, config=to_container(self.cfg),
                        epoch=self.epoch, step=self.step, batches_done=self.batches_done,
                        best_metric=self.best_metric, optimizer=self.optimizer, scheduler=self.scheduler,
                        scaler=self.scaler, metrics=metrics, data_card=self.data_card)

    def _restore(self, checkpoint: dict) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        if checkpoint["scaler"]:
            self.scaler.load_state_dict(checkpoint["scaler"])
        self.epoch, self.step = checkpoint["epoch"], checkpoint["step"]
        self.batches_done, self.best_metric = checkpoint["batches_done"], checkpoint["best_metric"]
        restore_rng(checkpoint)

    @contextmanager
    def _stop_on_ctrl_c(self):
        """The first Ctrl-C asks to stop after the current step (so last.pt resumes exactly);
        a second one stops at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        trainer_process = os.getpid()

        def request_stop(signum, frame):
            if os.getpid() != trainer_process:  # a data-loader worker forked with this handler
                return
            if self._stop_flag and self._deferring:
                self._interrupt_deferred = True
                return
            if self._stop_flag:
                raise KeyboardInterrupt
            self._stop_flag = True
            if self.console:
                self.console.print("[yellow]Stopping after this step and saving last.pt "
                                   "(Ctrl-C again to stop at once)[/]")

        previous = signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    @contextmanager
    def _uninterruptible(self):
        """A block a second Ctrl-C does not cut in two (an optimizer step with its counters, an
        epoch's checkpoints and log row): the interrupt waits for its end, so last.pt never holds
        half of it."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._interrupt_deferred:
            raise KeyboardInterrupt

    def _stop_requested(self) -> bool:
        """Every process stops at the same step: one process's Ctrl-C stops them all."""
        flag = torch.tensor(float(self._stop_flag), device=self.device)
        return bool(distributed.all_reduce_sum(flag) > 0) if self.world > 1 else bool(flag)

    def _bare_model(self) -> torch.nn.Module:
        return getattr(self.model, "module", self.model)

    def _progress(self):
        return progress_bar("samples") if self.console else nullcontext()

    # ------------------------------------------------------------------------------------ dry run
    def dry_run(self) -> dict:
        """One training step and one validation batch; no run is written (a dataset without an
        index gets one, as for any run)."""
        batch = next(iter(DataLoader(self.train_set, batch_size=self.local_batch, shuffle=True)))
        self.model.train()
        started = time.perf_counter()
        loss = self._train_step(batch)
        result = {"train_loss": loss, "train_batch_seconds": round(time.perf_counter() - started, 3)}
        if self.val_set is not None:
            val_batch = next(iter(DataLoader(self.val_set, batch_size=self.local_batch)))
            with torch.no_grad():
                self.model.eval()
                outputs = self.model(*self.task.inputs(val_batch, self.device))
            result.update(self.task.shapes(val_batch, outputs))
        return result


def _read_history(run_dir: Path | None) -> list[dict]:
    path = run_dir / "results.csv" if run_dir else None
    return pd.read_csv(path).to_dict("records") if path and path.is_file() else []


_EPOCH_HEADERS = {"epoch": "epoch", "train_loss": "loss", "lr": "lr", "time": "sec"}


def _epoch_table(row: dict, best: float | None, task_headers: dict[str, str]) -> Table:
    """The epoch's row under short names, only the columns the task picks (results.csv has all),
    so the table fits an 80-column terminal."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", show_edge=False, pad_edge=False)
    headers = {**_EPOCH_HEADERS, **task_headers}
    shown = [key for key in row if key in headers]
    for key in shown:
        table.add_column(headers[key], justify="right")
    table.add_column("best", justify="right")
    formats = {"lr": ".1e", "time": ".1f", "val_median_l2": ".2f"}
    cells = [format(row[key], formats.get(key, ".3f")) if isinstance(row[key], float) else str(row[key])
             for key in shown]
    table.add_row(*cells, f"{best:.3f}" if best is not None else "-")
    return table
