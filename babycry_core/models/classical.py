"""The `svm` and `xgboost` registry models (family "classical"): unfitted scikit-learn pipelines on clip embeddings.

Each is a Pipeline (StandardScaler + classifier), class-balanced (class_weight="balanced" for the SVM; balanced
sample weights at fit time for XGBoost), with the hyperparameter grid that grouped CV searches. Fitting, Platt
calibration, the run folder and the files they are stored in (svm.skops, xgboost.json + scaler.json) are
training/classical_fit.py; the fitted predictors are embedding_models.py.
"""
from __future__ import annotations

from babycry_core.models.spec import ModelSpec

FAMILY = "classical"
SVM_GRID = {"clf__C": [0.3, 1.0, 3.0, 10.0], "clf__kernel": ["rbf", "linear"]}
XGB_GRID = {"clf__max_depth": [2, 4], "clf__n_estimators": [60, 150]}
XGB_LEARNING_RATE = 0.1


def build_svm(n_classes: int, seed: int = 0, C: float = 1.0, kernel: str = "rbf", **_):
    """An unfitted StandardScaler + class-balanced SVC pipeline."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return Pipeline([("scaler", StandardScaler()),
                     ("clf", SVC(C=C, kernel=kernel, class_weight="balanced", random_state=seed))])


def build_xgboost(n_classes: int, seed: int = 0, max_depth: int = 3, n_estimators: int = 100, **_):
    """An unfitted StandardScaler + XGBoost pipeline (class balance via sample weights at fit time)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier

    return Pipeline([("scaler", StandardScaler()),
                     ("clf", XGBClassifier(max_depth=max_depth, n_estimators=n_estimators,
                                           learning_rate=XGB_LEARNING_RATE, tree_method="hist", n_jobs=1,
                                           random_state=seed))])


SPECS = (ModelSpec("svm", FAMILY, build_svm, "SVM (RBF/linear, class-balanced) on clip embeddings: handcrafted, "
                   "YAMNet or a CNN's penultimate layer", {"grid": SVM_GRID}),
         ModelSpec("xgboost", FAMILY, build_xgboost, "XGBoost (class-balanced, native JSON model) on clip embeddings: "
                   "handcrafted, YAMNet or a CNN's penultimate layer", {"grid": XGB_GRID}))
