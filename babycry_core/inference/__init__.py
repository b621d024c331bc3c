"""Answers: the predictors, the two-step answer, when a reason may be named, caregiver wording, explanations, the ONNX engine."""
