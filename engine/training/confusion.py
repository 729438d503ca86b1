"""Confusion matrices of an evaluated split: counted where the predictions are (engine/training/evaluation.py,
into the `eval` event's `confusion` field) and drawn where TensorBoard is written (engine/review/sinks.py)
as RGB images drawn on matplotlib's Agg canvas as scikit-learn's ConfusionMatrixDisplay draws
them (no window, no pyplot state; class names, a title and a colour bar; scikit-learn itself is not
imported: 1.5 s of a run's start): the test split's counts, written in the
cells, and each validation's shares of each true class, without numbers in the cells (a figure
redrawn, a few tenths of a second a picture)."""
from __future__ import annotations

import numpy as np

# Splits of more classes than this carry no confusion matrices: the event line would grow with
# the square of the classes and the picture would be unreadable.
MAX_CLASSES = 50
DPI = 80


def counts(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> list[list[int]]:
    """Row i, column j: the samples of class i predicted as class j."""
    from engine.training.metrics import confusion_counts

    return confusion_counts(labels, predicted, num_classes).tolist()


def side_inches(num_classes: int) -> float:
    """The side of the (square) picture of a matrix of `num_classes`, in inches."""
    return float(min(12.0, max(4.0, 2.0 + 0.45 * num_classes)))


def image_size(num_classes: int) -> int:
    """The side of the picture, in pixels."""
    return round(side_inches(num_classes) * DPI)


def well_formed(matrix, num_classes: int) -> bool:
    """A square table of `num_classes` rows of non-negative counts."""
    return (isinstance(matrix, list) and len(matrix) == num_classes
            and all(isinstance(r, list) and len(r) == num_classes for r in matrix)
            and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for r in matrix for x in r))


class Painter:
    """Draws the confusion matrices of one list of classes as RGB arrays of shape (side, side, 3),
    uint8, side = image_size(len(class_names)): true class down, predicted across, each named,
    a title and a colour bar. Counts (`shares=False`, the test split: the number in each cell,
    zeros left blank) or the share of each true class's samples predicted as each class
    (`shares=True`, every validation: each row sums to one, the diagonal is each class's recall,
    no numbers, so that a picture every epoch stays cheap). One figure, laid out once, is redrawn
    with each new matrix, of whichever head: every render sets all that differs (data, limits,
    texts, title, colour bar label), and making and laying out a figure costs several renders."""

    def __init__(self, class_names: list[str]):
        self.names = [n if len(n) <= 12 else n[:11] + "…" for n in class_names]
        self.shared: tuple | None = None

    def figure(self, head: str):
        """The Figure as last rendered (of `head`'s matrix where that was the last drawn)."""
        return self._figure(head)[0].figure

    def _figure(self, head: str) -> tuple:  # noqa: ARG002  (every head is drawn on the one figure)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if self.shared is None:
            n = len(self.names)
            side = side_inches(n)
            fig = Figure(figsize=(side, side), dpi=DPI)
            canvas = FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            shown = Matrix(ax, n, self.names, include_values=n <= 20)
            fig.colorbar(shown.im_, ax=ax, fraction=0.046, pad=0.04)  # as tall as the matrix
            shown.im_.colorbar.set_label("share of the true class's samples")  # the longer label, for the layout
            ax.set_title(" ", fontsize=10)
            fig.tight_layout()
            self.shared = (canvas, ax, shown)
        return self.shared

    def render(self, head: str, matrix: list[list[int]], title: str, shares: bool = False) -> np.ndarray:
        cm = np.asarray(matrix, dtype=float if shares else int)
        if shares:
            rows = cm.sum(1, keepdims=True)
            cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
        canvas, ax, shown = self._figure(head)
        shown.im_.set_data(cm)
        shown.im_.set_clim(0, 1) if shares else shown.im_.set_clim(cm.min(), max(cm.max(), cm.min() + 1))
        shown.im_.colorbar.set_label("share of the true class's samples" if shares else "samples")
        if shown.text_ is not None:  # dark text on light cells, light on dark (as sklearn does)
            dark, light = shown.im_.cmap(1.0), shown.im_.cmap(0.0)
            middle = (cm.max() + cm.min()) / 2.0
            for (i, j), text in np.ndenumerate(shown.text_):
                text.set_text(str(cm[i, j]) if cm[i, j] and not shares else "")
                text.set_color(dark if cm[i, j] < middle else light)
        ax.set_title(title, fontsize=10)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


class Matrix:
    """A matrix of n classes on `ax` as scikit-learn's ConfusionMatrixDisplay.plot lays it out:
    the image (`im_`, Blues, nearest), a text per cell where `include_values` (`text_`, else
    None), the class names on both axes (predicted across, turned vertical; true down)."""

    def __init__(self, ax, n: int, names: list[str], include_values: bool):
        self.im_ = ax.imshow(np.zeros((n, n)), interpolation="nearest", cmap="Blues")
        self.text_ = None
        if include_values:
            self.text_ = np.empty((n, n), dtype=object)
            for i in range(n):
                for j in range(n):
                    self.text_[i, j] = ax.text(j, i, "", ha="center", va="center")
        ax.set(xticks=np.arange(n), yticks=np.arange(n), xticklabels=names, yticklabels=names,
               ylabel="True label", xlabel="Predicted label")
        ax.set_ylim((n - 0.5, -0.5))
        ax.tick_params(axis="x", labelrotation=90)
