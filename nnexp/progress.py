"""A progress bar over epochs (tqdm), shown only when stderr is a terminal.

It is a training callback, so the fit loop itself never prints.
"""

from __future__ import annotations

import sys
from typing import Any


class EpochProgress:
    """``on_epoch_end`` advances a tqdm bar and shows the latest train/val loss."""

    def __init__(self, total_epochs: int, description: str = "train", enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total_epochs
        self.description = description
        self._bar: Any = None

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total,
                desc=self.description,
                unit="epoch",
                leave=False,
                mininterval=0.2,
                dynamic_ncols=True,
            )
        self._bar.update(1)
        if self._bar.n == self.total or self._bar.n % 10 == 0:
            self._bar.set_postfix(
                train=f"{record['train_loss']:.4g}", val=f"{record['val_loss']:.4g}", refresh=False
            )

    def on_train_end(self, history: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
