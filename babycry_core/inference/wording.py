"""How class names read to a caregiver, and what to try for each. Class lists themselves come from the data."""
from __future__ import annotations

from babycry_core.data.corpora import NON_CRY, is_cry  # noqa: F401  (the pages read both from here)

DISPLAY = {
    "hungry": "Hunger cry",
    "tired": "Tired cry",
    "discomfort": "Discomfort cry",
    "belly_pain": "Belly-pain cry",
    "burping": "Needs burping",
    "cold_hot": "Too cold or too hot",
    "laugh": "Laugh",
    "silence": "Silence",
    "noise": "Noise",
    "cry_unknown": "Cry (reason unknown)",
    "cry": "Crying",
    "speech": "Speech",
}

TIPS = {
    "hungry": ["Offer a feed; look for rooting, hand-to-mouth and lip smacking.",
               "Check how long it has been since the last feed."],
    "tired": ["Dim the lights and lower the noise; try rocking, swaddling or a quiet room.",
              "Look for yawning, eye rubbing or looking away."],
    "discomfort": ["Check the nappy, clothing tags and tightness, and the room temperature.",
                   "Try a change of position or holding the baby upright."],
    "belly_pain": ["Hold the baby upright or tummy-down along your forearm; try gentle tummy massage or bicycle legs.",
                   "If crying is inconsolable, with fever, vomiting or a swollen belly, call a doctor."],
    "burping": ["Hold the baby upright against your shoulder and pat the back gently.",
                "Pause to burp during feeds, not only after."],
    "cold_hot": ["Feel the back of the neck or tummy: sweaty means too warm, cool means add a layer.",
                 "Keep the room at about 18-20 °C."],
}

SAFETY = ("babycry is not a medical device. If your baby seems unwell, has a fever, cries in an unusual way "
          "or cannot be settled, contact a doctor or your local health line.")


def display(label: str) -> str:
    return DISPLAY.get(label, label.replace("_", " ").capitalize())

