"""What a training run leaves behind besides weights: results.csv, TensorBoard, results.png."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from tracknet_cli.fileio import atomic_path


class RunLog:
    """Epoch rows to `results.csv` (rewritten whole each epoch, so it is never half a row),
    scalars and heatmap images to TensorBoard, and the curves to `results.png`."""

    def __init__(self, run_dir: Path, start_rows: list[dict] | None = None):
        from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when training

        self.run_dir = Path(run_dir)
        self.rows: list[dict] = list(start_rows or [])
        self.writer = SummaryWriter(log_dir=str(self.run_dir))

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def heatmaps(self, frames: torch.Tensor, targets: torch.Tensor, logits: torch.Tensor, step: int) -> None:
        """First sample of a batch: its last input frame, target and predicted heatmaps side by side."""
        frame = frames[0, -1].float()  # [3, H, W] uint8 or normalised
        frame = (frame - frame.min()) / (frame.max() - frame.min()).clamp(min=1e-6)
        size = frame.shape[-2:]

        def as_rgb(heatmap: torch.Tensor) -> torch.Tensor:
            resized = torch.nn.functional.interpolate(heatmap[None, None].float(), size=size, mode="bilinear")
            return resized[0].expand(3, -1, -1)

        panel = torch.cat([frame, as_rgb(targets[0, -1]), as_rgb(torch.sigmoid(logits[0, -1]))], dim=2)
        self.writer.add_image("train/input_target_prediction", panel.clamp(0, 1).cpu(), step)

    def epoch(self, row: dict) -> None:
        self.rows.append(row)
        with atomic_path(self.run_dir / "results.csv") as tmp:
            pd.DataFrame(self.rows).to_csv(tmp, index=False)
        self.scalars({key: value for key, value in row.items()
                      if key not in ("epoch", "time") and isinstance(value, (int, float))}, row["epoch"])
        self.writer.flush()
        self.plot()

    def plot(self) -> None:
        """One panel per curve (losses, metrics, learning rate) against the epoch."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        table = pd.DataFrame(self.rows)
        curves = [c for c in table.columns if c not in ("epoch", "time") and table[c].notna().any()]
        columns = min(4, len(curves))
        rows = -(-len(curves) // columns)
        figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
        for axis, curve in zip(axes.flat, curves):
            axis.plot(table["epoch"], table[curve], marker="o", markersize=3)
            axis.set_title(curve)
            axis.set_xlabel("epoch")
            axis.grid(alpha=0.3)
        for axis in list(axes.flat)[len(curves):]:
            axis.axis("off")
        figure.tight_layout()
        with atomic_path(self.run_dir / "results.png") as tmp:
            figure.savefig(tmp, dpi=100, format="png")
        plt.close(figure)

    def close(self) -> None:
        self.writer.close()
