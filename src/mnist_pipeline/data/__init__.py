"""The data: mirrored IDX archives (fetch and verify), IDX parsing, the prepared tensors, and the
Lightning data module that slices batches from them."""
