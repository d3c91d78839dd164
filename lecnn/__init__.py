"""lecnn: backpropagation from the lecture derivation to LeCun's handwritten-digit networks."""

__version__ = "0.1.0"
