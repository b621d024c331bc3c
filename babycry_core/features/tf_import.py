"""The ONE place TensorFlow is imported. Everything that needs TF (YAMNet) goes through here.

Importing TensorFlow before torchvision segfaults the process (a clash of bundled native libraries), and so does
importing pylibsrtp (streamlit-webrtc's SRTP, which the Listen page loads) after TensorFlow; so `tensorflow()`
imports torch, torchvision and pylibsrtp first, whatever the caller imported before. TensorFlow is
imported only when YAMNet is actually used: no page or command that does not need it pays its ~2-10 s.
"""
from __future__ import annotations

import os
import threading
import warnings

_LOCK = threading.Lock()


def tensorflow():
    """The `tensorflow` module, imported safely (torch, torchvision and pylibsrtp first)."""
    with _LOCK:
        import torch  # noqa: F401
        import torchvision  # noqa: F401

        try:  # a Listen page opened after YAMNet's TensorFlow would otherwise crash the server
            import pylibsrtp  # noqa: F401
        except ImportError:  # streamlit-webrtc is not installed: nothing to protect
            pass

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # fewer C++ notices (TF 2.21 still prints a few)
        import tensorflow as tf

        return tf


def tensorflow_hub():
    """The `tensorflow_hub` module (needs setuptools<82: it imports pkg_resources), imported after `tensorflow()`."""
    tensorflow()
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "pkg_resources is deprecated" from tensorflow_hub's own import
        import tensorflow_hub as hub

        return hub
