"""Samplers behind one signature (Gibbs, parallel tempering, mean-field) and inpainting."""
