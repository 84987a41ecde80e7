"""The image family: real labelled images read offline (scikit-learn's digits, MNIST-format files)."""
