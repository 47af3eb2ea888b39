"""backend.inputs: the input types (featurizers, default models) and backend.models."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline

from backend import inputs, tasktypes
from backend.inputs import featurize
from backend.inputs.estimators import CalibratedSVC
from backend.labelstudio.dataset import TaskKind
from backend.models import make_model
from backend.settings import load_settings
from core.count import estimate_cv_predicted_probabilities
from core.filter import find_label_issues

CLASSES = ("cat", "dog")


def kind(input_type: str, classes: tuple[str, ...] = CLASSES) -> TaskKind:
    return TaskKind("label", "obj", input_type, ("field",), classes)


def settings(**overrides):
    return load_settings(overrides, environ={})


def png(color, size=(10, 6), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def blobs():
    """Two well-separated Gaussian blobs in 4 dimensions, 30 rows each."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (30, 4)), rng.normal(4, 1, (30, 4))])
    y = np.repeat([0, 1], 30)
    return X, y


@pytest.fixture
def topics():
    """Short texts on two topics with five labels flipped; returns texts, given, flipped."""
    rng = np.random.default_rng(1)
    words = {
        0: "cat kitten purr meow whiskers litter mouse claws".split(),
        1: "dog puppy bark woof leash fetch bone kennel".split(),
    }
    true = np.repeat([0, 1], 40)
    texts = [" ".join(rng.choice(words[int(t)], size=6)) for t in true]
    given = true.copy()
    flipped = np.zeros(len(true), dtype=bool)
    flipped[[3, 17, 44, 58, 71]] = True
    given[flipped] = 1 - given[flipped]
    return texts, given, flipped


# --- text -------------------------------------------------------------------------------


def test_text_rows_are_the_strings_and_bad_rows_are_reported():
    X, ok, failures = featurize(kind("text"), ["a cat", "  ", 3, None, "a dog"], settings())
    assert X.dtype == object and X.shape == (5,)
    assert X[[0, 4]].tolist() == ["a cat", "a dog"]
    assert ok.tolist() == [True, False, False, False, True]
    assert [row for row, _ in failures] == [1, 2, 3]
    assert "empty" in failures[0][1] and "got int" in failures[1][1]


def test_text_default_model_vectorizes_inside_the_pipeline(topics):
    texts, given, _ = topics
    model = make_model(kind("text"), settings(), n_samples=len(texts))
    assert isinstance(model, Pipeline) and isinstance(model[-1], ComplementNB)
    X, ok, _ = featurize(kind("text"), texts, settings())
    probs = model.fit(X[ok], given).predict_proba(X[:3])
    assert probs.shape == (3, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_text_default_model_finds_flipped_labels(topics):
    texts, given, flipped = topics
    X, _, _ = featurize(kind("text"), texts, settings())
    model = make_model(kind("text"), settings(), n_samples=len(texts))
    probs = estimate_cv_predicted_probabilities(X, given, clf=model, seed=0)
    filter_by = tasktypes.get("single_choice").filter_by(settings().filter_by)
    issues = find_label_issues(given, probs, filter_by=filter_by)
    assert issues[flipped].all()
    assert issues.sum() <= flipped.sum() + 2


def test_text_model_handles_a_tiny_fold():
    model = make_model(kind("text"), settings(), n_samples=4)
    model.fit(np.array(["a b", "c d", "e f", "g h"], dtype=object), [0, 0, 1, 1])


# --- images -----------------------------------------------------------------------------


def test_images_decode_png_bytes_from_fetch():
    store = {"red.png": png((255, 0, 0)), "grey.png": png(128, mode="L")}
    seen: list[tuple[int, int]] = []
    X, ok, failures = featurize(
        kind("image"),
        ["red.png", "grey.png"],
        settings(image_size=4),
        fetch=store.__getitem__,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert ok.all() and failures == []
    assert X.shape == (2, 3 * 4 * 4) and X.dtype == np.float32
    np.testing.assert_allclose(X[0].reshape(4, 4, 3)[..., 0], 1.0)
    np.testing.assert_allclose(X[0].reshape(4, 4, 3)[..., 1:], 0.0)
    np.testing.assert_allclose(X[1], 128 / 255, atol=1e-6)
    assert seen[-1] == (2, 2)


def test_transparent_pixels_become_white():
    X, ok, _ = featurize(
        kind("image"),
        ["clear.png"],
        settings(image_size=2),
        fetch=lambda ref: png((0, 0, 0, 0), mode="RGBA"),
    )
    assert ok.all()
    np.testing.assert_allclose(X[0], 1.0)


def test_bad_image_bytes_and_references_are_reported_rows():
    store = {"ok.png": png((0, 255, 0)), "bad.png": b"not an image", "cut.png": png(1)[:30]}
    X, ok, failures = featurize(
        kind("image"),
        ["ok.png", "bad.png", "", None, "cut.png"],
        settings(image_size=3),
        fetch=store.__getitem__,
    )
    assert ok.tolist() == [True, False, False, False, False]
    reasons = dict(failures)
    assert set(reasons) == {1, 2, 3, 4}
    assert "cannot decode image" in reasons[1]
    assert "non-empty string" in reasons[2]
    assert not X[1:].any()


def test_images_read_local_paths_and_file_urls_without_fetch(tmp_path):
    (tmp_path / "a.png").write_bytes(png((0, 0, 255)))
    refs = [str(tmp_path / "a.png"), (tmp_path / "a.png").as_uri(), str(tmp_path / "gone.png")]
    refs.append("http://example.invalid/a.png")
    X, ok, failures = featurize(kind("image"), refs, settings(image_size=2))
    assert ok.tolist() == [True, True, False, False]
    reasons = dict(failures)
    assert "cannot read image file" in reasons[2]
    assert "fetch function" in reasons[3]
    np.testing.assert_array_equal(X[0], X[1])


def test_fetch_errors_are_reported_unless_every_image_fails_for_the_server():
    def flaky(ref: str) -> bytes:
        if ref == "down":
            raise ConnectionError("fetching down failed: HTTP 503")
        return png((9, 9, 9))

    _, ok, failures = featurize(kind("image"), ["up", "down"], settings(), fetch=flaky)
    assert ok.tolist() == [True, False] and "503" in failures[0][1]
    with pytest.raises(ConnectionError, match="503"):
        featurize(kind("image"), ["down", "down"], settings(), fetch=flaky)


# --- numeric and embeddings ---------------------------------------------------------------


@pytest.mark.parametrize("input_type", ["numeric", "embedding"])
def test_vectors_are_stacked_and_bad_rows_reported(input_type):
    rows = [[1, 2.5], [3, 4], [1, 2, 3], [float("nan"), 1], "x", [], [True, 1]]
    X, ok, failures = featurize(kind(input_type), rows, settings())
    assert X.shape == (7, 2) and X.dtype == np.float64
    assert ok.tolist() == [True, True, False, False, False, False, False]
    reasons = dict(failures)
    assert "length 3" in reasons[2] and "non-finite" in reasons[3]
    assert "list of numbers" in reasons[4] and "empty" in reasons[5]
    assert "non-number" in reasons[6]
    np.testing.assert_array_equal(X[:2], [[1, 2.5], [3, 4]])


def test_wrong_length_embedding_is_the_odd_one_out():
    rows = [[1.0, 2.0, 3.0], [4.0, 5.0], [6.0, 7.0, 8.0]]
    _, ok, failures = featurize(kind("embedding"), rows, settings())
    assert ok.tolist() == [True, False, True]
    assert failures == [(1, "embedding input has length 2; the other rows have 3")]


def test_unknown_input_type_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown input type 'audio'; known: embedding, image"):
        featurize(kind("audio"), ["a"], settings())


# --- models -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_type", "last"),
    [("text", ComplementNB), ("numeric", ExtraTreesClassifier), ("image", CalibratedSVC)],
)
def test_auto_picks_the_measured_default(input_type, last):
    model = make_model(kind(input_type), settings(), n_samples=100)
    final = model[-1] if isinstance(model, Pipeline) else model
    assert isinstance(final, last)


def test_large_image_and_embedding_projects_avoid_the_kernel_svc():
    for input_type in ("image", "embedding"):
        model = make_model(kind(input_type), settings(), n_samples=50_000)
        assert type(model[-1]).__name__ == "LogisticRegression"


@pytest.mark.parametrize("input_type", ["numeric", "embedding", "image"])
def test_default_models_fit_clone_and_give_probabilities(input_type, blobs):
    X, y = blobs
    if input_type == "image":
        X = np.abs(np.tile(X, 12)) / 8  # 48 = 3 * 4**2 "pixels"
    model = make_model(kind(input_type), settings(image_size=4), n_samples=len(y))
    probs = clone(model).fit(X, y).predict_proba(X)
    assert probs.shape == (60, 2)
    assert (probs.argmax(axis=1) == y).mean() > 0.9


def test_model_params_tune_the_default_by_nested_name():
    model = make_model(
        kind("text"), settings(model_params={"complementnb__alpha": 0.25}), n_samples=10
    )
    assert model.get_params()["complementnb__alpha"] == 0.25
    with pytest.raises(ValueError, match="model_params"):
        make_model(kind("numeric"), settings(model_params={"nope": 1}), n_samples=10)


def test_dotted_path_is_instantiated_with_params_and_seeded(blobs):
    s = settings(model="sklearn.linear_model.LogisticRegression", model_params={"C": 0.5}, seed=7)
    model = make_model(kind("numeric"), s, n_samples=60)
    assert model.get_params()["model__C"] == 0.5
    assert model.get_params()["model__random_state"] == 7
    assert type(model.steps[0][1]).__name__ == "StandardScaler"
    X, y = blobs
    assert clone(model).fit(X, y).predict_proba(X).shape == (60, 2)


def test_dotted_path_for_text_gets_the_vectorizer(topics):
    texts, given, _ = topics
    s = settings(model="sklearn.linear_model.LogisticRegression")
    model = make_model(kind("text"), s, n_samples=len(texts))
    assert model.fit(np.asarray(texts, dtype=object), given).predict_proba(texts[:2]).shape == (
        2,
        2,
    )


@pytest.mark.parametrize(
    ("path", "params", "match"),
    [
        ("LogisticRegression", {}, "dotted path"),
        ("sklearn.linear_model.NoSuchModel", {}, "has no class"),
        ("no_such_package.Model", {}, "cannot import"),
        ("sklearn.svm.LinearSVC", {}, "not a probabilistic classifier"),
        ("sklearn.linear_model.LogisticRegression", {"Cee": 1}, "model_params"),
    ],
)
def test_bad_model_settings_raise_value_error(path, params, match):
    with pytest.raises(ValueError, match=match):
        make_model(kind("numeric"), settings(model=path, model_params=params), n_samples=10)


def test_seed_makes_models_deterministic(blobs):
    X, y = blobs
    y = y.copy()
    y[:5] = 1  # some noise, so the trees disagree between seeds

    def probs(seed: int) -> np.ndarray:
        model = make_model(kind("numeric"), settings(seed=seed), n_samples=len(y))
        return model.fit(X, y).predict_proba(X)

    np.testing.assert_array_equal(probs(3), probs(3))
    assert not np.array_equal(probs(3), probs(4))


def test_calibrated_svc_copes_with_a_class_seen_once(blobs):
    X, y = blobs
    X = np.vstack([X, [[10, -10, 10, -10]]])
    y = np.append(y, 2)
    model = CalibratedSVC().fit(X, y)
    probs = model.predict_proba(X)
    assert model.classes_.tolist() == [0, 1, 2] and probs.shape == (61, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert model.predict(X[:1]).tolist() == [0]


def test_default_model_is_a_fresh_unfitted_estimator():
    model = inputs.get("numeric").default_model(settings(), n_samples=10)
    assert not hasattr(model, "estimators_")
