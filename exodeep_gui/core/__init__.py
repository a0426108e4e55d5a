"""Pure numpy/scipy science and state: no Qt, no TensorFlow, no Keras."""
