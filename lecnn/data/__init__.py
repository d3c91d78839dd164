"""Data: verified MNIST-format loading, network inputs on a device, and device-side batching."""

from lecnn.data.batches import (
    DigitsDataset,
    batch_indices,
    derived_seed,
    make_generator,
    pass_order,
)
from lecnn.data.derived import (
    INPUTS,
    MNIST_MEAN,
    MNIST_STD,
    ZIP_TEST,
    ZIP_TRAIN,
    Prepared,
    Split,
    lenet28,
    lenet32,
    lush32,
    prepare,
    standardize,
    zip16,
)
from lecnn.data.mnist import DATA_ENV, DATASETS, Digits, default_data_dir, load_mnist

__all__ = [
    "DATA_ENV",
    "DATASETS",
    "INPUTS",
    "MNIST_MEAN",
    "MNIST_STD",
    "ZIP_TEST",
    "ZIP_TRAIN",
    "Digits",
    "DigitsDataset",
    "Prepared",
    "Split",
    "batch_indices",
    "derived_seed",
    "default_data_dir",
    "lenet28",
    "lenet32",
    "lush32",
    "load_mnist",
    "make_generator",
    "pass_order",
    "prepare",
    "standardize",
    "zip16",
]
