"""The movie viewer: movie, frame bar, contrast, kymograph, movie list."""
