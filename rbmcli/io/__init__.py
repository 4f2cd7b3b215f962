"""Files: HDF5 data sets and model files, MNIST, the embedded synthetic digits, PNG and
GIF pictures, atomic writes."""
