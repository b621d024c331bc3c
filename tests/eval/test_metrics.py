import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from babycry_core.eval.metrics import metric_fn, evaluate, expected_calibration_error, format_table, majority_baseline


def test_fast_metrics_agree_with_sklearn():
    rng = np.random.default_rng(0)
    for _ in range(100):
        t, p = rng.integers(0, 4, 40), rng.integers(0, 4, 40)
        assert metric_fn("macro_f1", 4)(t, p) == pytest.approx(f1_score(t, p, average="macro", zero_division=0))
        assert metric_fn("macro_f1", 4)(t[t < 3], p[t < 3] % 3) == pytest.approx(f1_score(t[t < 3], p[t < 3] % 3, average="macro"))
        assert metric_fn("balanced_accuracy", 4)(t, p) == pytest.approx(balanced_accuracy_score(t, p))


def test_evaluate_on_an_imbalanced_set():
    true = ["hungry"] * 80 + ["tired"] * 10 + ["burping"] * 10
    pred = ["hungry"] * 100
    m = evaluate(pred, true, n_boot=200)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["balanced_accuracy"] == pytest.approx(1 / 3)
    assert m["macro_f1"] == pytest.approx((2 * 80 / 180) / 3)
    assert m["baseline"]["label"] == "hungry" and m["baseline"]["macro_f1"] == pytest.approx(m["macro_f1"])
    lo, hi = m["accuracy_ci"]
    assert lo <= 0.8 <= hi and hi - lo > 0.01
    assert m["per_class"]["tired"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 10}
    assert np.array(m["confusion_matrix"]).sum() == 100
    assert "macro-F1" in format_table(m)


def test_perfect_predictions_and_unknown_labels():
    m = evaluate(list("aabbcc"), list("aabbcc"), n_boot=100)
    assert m["macro_f1"] == 1.0 and m["macro_f1_ci"][0] == 1.0
    m = evaluate(list("aaxbcc"), list("aabbcc"), classes=list("abc"), n_boot=100)
    assert m["accuracy"] == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        evaluate(["a"], ["a", "b"])


def test_majority_baseline_uses_training_labels_when_given():
    b = majority_baseline(["a", "b", "b"], ["a", "b"], train_labels=["a", "a", "b"])
    assert b["label"] == "a" and b["accuracy"] == pytest.approx(1 / 3)


def test_ece():
    y = np.array([0, 1] * 50)
    perfect = np.eye(2)[y]
    assert expected_calibration_error(perfect, y) == pytest.approx(0.0)
    overconfident = np.tile([0.99, 0.01], (100, 1))  # always 99 % sure of class 0, right half the time
    assert expected_calibration_error(overconfident, y) == pytest.approx(0.49, abs=1e-6)
