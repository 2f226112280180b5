"""What the validations say about a run: whether it still improves, and whether it has begun to overfit.

Overfitting is validation loss rising while training loss falls: the model learns the training text at the
held-out text's expense. It is said once, when validation has not improved for OVERFIT_AFTER validations
and the training loss is below where it was at the best one. Patience stops the run after that many
validations without a new best (its best weights are in best.safetensors all along). No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

OVERFIT_AFTER = 2
"""Validations in a row without a new best before a falling training loss counts as overfitting."""


@dataclass
class ValidationWatch:
    patience: int
    """Validations without a new best after which the run stops; 0 never stops it."""
    since_best: int = 0
    best_step: int = 0
    train_loss_at_best: float | None = None
    overfitting: bool = False

    def observe(self, step: int, improved: bool, train_loss: float | None) -> bool:
        """Take one validation; True the first time it shows overfitting."""
        if improved:
            self.since_best, self.best_step, self.train_loss_at_best = 0, step, train_loss
            return False
        self.since_best += 1
        newly = (not self.overfitting and self.since_best >= OVERFIT_AFTER and train_loss is not None
                 and self.train_loss_at_best is not None and train_loss < self.train_loss_at_best)
        self.overfitting = self.overfitting or newly
        return newly

    def saved(self) -> dict[str, float | int | bool | None]:
        """What a checkpoint keeps of the watch, so that a resume counts on."""
        return {"since_best": self.since_best, "best_step": self.best_step,
                "train_loss_at_best": self.train_loss_at_best, "overfitting": self.overfitting}

    def restore(self, saved: dict[str, object]) -> None:
        """Take back what `saved` kept; values that are missing or of the wrong kind are left as they are."""
        for name, kind in (("since_best", int), ("best_step", int), ("train_loss_at_best", float),
                           ("overfitting", bool)):
            value = saved.get(name)
            if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
                setattr(self, name, value)

    @property
    def out_of_patience(self) -> bool:
        return self.patience > 0 and self.since_best >= self.patience


def overfitting_text(step: int, val_loss: float, best_val_loss: float, best_step: int, train_loss: float,
                     train_loss_at_best: float) -> str:
    """The warning every face shows, the same words."""
    return (f"overfitting: at step {step:,} validation loss is {val_loss:.4f}, up from its best {best_val_loss:.4f} "
            f"at step {best_step:,}, while training loss fell from {train_loss_at_best:.4f} to {train_loss:.4f}; "
            "the best weights stay in best.safetensors (more dropout, a smaller model or --patience help)")
