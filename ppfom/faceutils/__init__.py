"""Face utilities: detection (``face_detection``), and the face-aware crop/paste built on it."""
