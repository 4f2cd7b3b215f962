"""Normalizing flows (NICE, RealNVP, Glow, MAF): transforms, models, their data space,
training and inpainting."""
