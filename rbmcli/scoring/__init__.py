"""Scores of data under a model: log Z (exact and AIS), log-likelihood, reconstruction
error, free energies, pseudo-likelihood."""
