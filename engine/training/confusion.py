"""Confusion matrices of an evaluated split: counted where the predictions are (engine/training/evaluation.py,
into the `eval` event's `confusion` field) and drawn where TensorBoard is written (engine/review/sinks.py)
as RGB images: the test split's with scikit-learn's ConfusionMatrixDisplay on matplotlib's Agg
canvas (no window, no pyplot state; counts, class names, about 0.2 s a picture), each
validation's as a plain heat map drawn with numpy (about a millisecond), so that a picture
every epoch costs nothing next to the epoch."""
from __future__ import annotations

import numpy as np

# Splits of more classes than this carry no confusion matrices: the event line would grow with
# the square of the classes and the picture would be unreadable.
MAX_CLASSES = 50
DPI = 80


def counts(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> list[list[int]]:
    """Row i, column j: the samples of class i predicted as class j."""
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(labels, predicted, labels=list(range(num_classes)))
    return cm.astype(int).tolist()


def side_inches(num_classes: int) -> float:
    """The side of the (square) picture of a matrix of `num_classes`, in inches."""
    return float(min(12.0, max(4.0, 2.0 + 0.45 * num_classes)))


def image_size(num_classes: int) -> int:
    """The side of the picture, in pixels."""
    return round(side_inches(num_classes) * DPI)


def heatmap_cell(num_classes: int) -> int:
    """The side of a cell of the heat map, in pixels."""
    return max(4, 320 // max(num_classes, 1))


def heatmap_size(num_classes: int) -> int:
    """The side of the heat map, in pixels: the cells and a one-pixel grid around each."""
    return num_classes * (heatmap_cell(num_classes) + 1) + 1


BLUE_LOW, BLUE_HIGH = np.array([247.0, 251.0, 255.0]), np.array([8.0, 48.0, 107.0])  # the ends of "Blues"


def heatmap(matrix: list[list[int]]) -> np.ndarray:
    """(side, side, 3) uint8, side = heatmap_size(n): cell (i, j) from white to dark blue by
    the share of class i's samples predicted as class j (each row sums to one: the diagonal is
    each class's recall), on a grey grid; true class down, predicted across."""
    cm = np.asarray(matrix, dtype=float)
    n, c = len(cm), heatmap_cell(len(cm))
    rows = cm.sum(1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    colours = (BLUE_LOW + share[..., None] * (BLUE_HIGH - BLUE_LOW)).round().astype(np.uint8)
    side = heatmap_size(n)
    img = np.full((side, side, 3), 160, dtype=np.uint8)
    cells = np.repeat(np.repeat(colours, c, axis=0), c, axis=1)  # (n c, n c, 3)
    keep = np.ones(side, dtype=bool)
    keep[:: c + 1] = False  # the grid lines: every (c + 1)-th pixel from 0
    img[np.ix_(keep, keep)] = cells
    return img


def well_formed(matrix, num_classes: int) -> bool:
    """A square table of `num_classes` rows of non-negative counts."""
    return (isinstance(matrix, list) and len(matrix) == num_classes
            and all(isinstance(r, list) and len(r) == num_classes for r in matrix)
            and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for r in matrix for x in r))


class Painter:
    """Draws the confusion matrices of one list of classes as RGB arrays of shape (side, side, 3),
    uint8, side = image_size(len(class_names)): counts on a colour scale, true class down,
    predicted across, zeros left blank. A figure per head is made once and redrawn with each
    new matrix (about twice as fast as making one each time)."""

    def __init__(self, class_names: list[str]):
        self.names = [n if len(n) <= 12 else n[:11] + "…" for n in class_names]
        self.figures: dict[str, tuple] = {}

    def _figure(self, head: str, cm: np.ndarray) -> tuple:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from sklearn.metrics import ConfusionMatrixDisplay

        if head not in self.figures:
            side = side_inches(len(self.names))
            fig = Figure(figsize=(side, side), dpi=DPI)
            canvas = FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            shown = ConfusionMatrixDisplay(cm, display_labels=self.names).plot(
                ax=ax, colorbar=False, include_values=len(self.names) <= 20, values_format="d", cmap="Blues",
                xticks_rotation="vertical")
            ax.set_title(" ", fontsize=10)
            fig.tight_layout()
            self.figures[head] = (canvas, ax, shown)
        return self.figures[head]

    def render(self, head: str, matrix: list[list[int]], title: str) -> np.ndarray:
        cm = np.asarray(matrix)
        canvas, ax, shown = self._figure(head, cm)
        shown.im_.set_data(cm)
        shown.im_.set_clim(cm.min(), max(cm.max(), cm.min() + 1))
        if shown.text_ is not None:  # dark text on light cells, light on dark (as sklearn does)
            dark, light = shown.im_.cmap(1.0), shown.im_.cmap(0.0)
            middle = (cm.max() + cm.min()) / 2.0
            for (i, j), text in np.ndenumerate(shown.text_):
                text.set_text(str(cm[i, j]) if cm[i, j] else "")
                text.set_color(dark if cm[i, j] < middle else light)
        ax.set_title(title, fontsize=10)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()
