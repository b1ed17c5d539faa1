"""Face utilities: detection, face-aware cropping and pasting, and face enhancement."""
