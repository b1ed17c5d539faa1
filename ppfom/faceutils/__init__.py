"""Face utilities: detection (``face_detection``), enhancement (``face_enhancement``), and the
face-aware crop/paste (``crop``) and driving-face tracking (``tracking``) built on them."""
