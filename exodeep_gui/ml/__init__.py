"""Models: the only layer that imports Keras (lazily). No Qt."""
