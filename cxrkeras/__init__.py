"""cxrkeras: deep learning on pediatric chest X-rays with Keras 3."""

__version__ = "0.1.0"
