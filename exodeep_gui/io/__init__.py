"""File formats (movies, annotations, results): no Qt, no TensorFlow, no Keras."""
