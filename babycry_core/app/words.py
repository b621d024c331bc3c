"""The words every front end shows: class display names, what to try, the safety note (inference.wording)."""
from babycry_core.inference.wording import DISPLAY, SAFETY, TIPS, display, is_cry

__all__ = ["DISPLAY", "SAFETY", "TIPS", "display", "is_cry"]
