"""The figure class of cxrkeras and one place that saves figures as PNG files.

Figures are built without ``pyplot``: nothing is registered globally, nothing is shown
twice, and the Agg backend works. A bare ``matplotlib.figure.Figure`` would print as
``<Figure size ...>`` in a notebook that never imported ``pyplot``; :class:`Figure` adds
``_repr_png_`` so Jupyter draws it in every case.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib.figure


class Figure(matplotlib.figure.Figure):
    """A ``matplotlib.figure.Figure`` that Jupyter displays as a PNG."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


def save_figure(
    fig: matplotlib.figure.Figure, path: str | os.PathLike | None, *, dpi: int = 120
) -> matplotlib.figure.Figure:
    """Save ``fig`` as a PNG at ``path`` (when given) and return it.

    Raises:
        FileNotFoundError: if the folder of ``path`` does not exist.
    """
    if path is not None:
        folder = Path(path).expanduser().resolve().parent
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Cannot save the figure to {str(path)!r}: folder {str(folder)!r} does not "
                "exist. Create it first (Path(...).mkdir(parents=True))."
            )
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return fig
