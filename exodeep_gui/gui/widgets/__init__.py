"""Small widgets shared by the features (plots)."""
