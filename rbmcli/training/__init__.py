"""Training: the trainers (CD-k, PCD-k, parallel tempering; greedy DBNs) and the
checkpointed run that the CLI and the Python API both drive."""
