"""Static model-file scanning: what a pickle-based model would run when loaded, never loading it.

``containers`` finds every pickle program in a file by its bytes (raw and stacked pickles,
joblib with its inline arrays, compressed joblib, PyTorch zips and legacy files, ``.npy``),
``opcodes`` reads each one as opcodes and normalises it, ``engines`` runs the maintained
scanners (fickling and modelscan) on the result, ``scan`` combines them into one verdict
document and ``source`` records it as ``model-scan`` evidence bound to the file's digest.
"""
