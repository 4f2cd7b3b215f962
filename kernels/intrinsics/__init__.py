"""Hand-written LLVM intrinsics (vector gathers, bit-mask lists, tiled transposes) used by
the RBM kernels. Each module states the invariants its callers must keep."""
