"""The resnet package: shapes, counts, equivalence with keras.applications."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import resnet

SMALL = (64, 64, 3)


def _logits(model, x):
    return np.asarray(model.predict_on_batch(x))


@pytest.fixture(scope="module")
def x64():
    return np.random.default_rng(0).standard_normal((2, *SMALL)).astype("float32")


def test_versions_listed():
    assert set(resnet.versions()) == {"v1", "v1.5", "v2"}
    assert all(resnet.versions().values())


@pytest.mark.parametrize("version", ["v1", "v1.5", "v2"])
def test_param_counts_match_keras_applications(version):
    model = resnet.build(version)
    expected = 25_613_800 if version == "v2" else 25_636_712
    assert resnet.count_params(model).total == expected


def test_v1_and_v1_5_differ_where_the_stride_went():
    v1 = resnet.build("v1", input_shape=SMALL)
    v15 = resnet.build("v1.5", input_shape=SMALL)
    for g, size in [(3, 8), (4, 4), (5, 2)]:
        name = f"conv{g}_block1_1_conv"
        # v1: the first 1x1 conv already halves the map; v1.5: it keeps the input size.
        assert v1.get_layer(name).output.shape[1] == size
        assert v15.get_layer(name).output.shape[1] == 2 * size
        assert v1.get_layer(f"conv{g}_block1_2_conv").output.shape[1] == size
        assert v15.get_layer(f"conv{g}_block1_2_conv").output.shape[1] == size
        assert v1.get_layer(name).strides == (2, 2)
        assert v15.get_layer(f"conv{g}_block1_2_conv").strides == (2, 2)
    assert resnet.count_params(v1) == resnet.count_params(v15)


def test_flops_at_224():
    v1 = resnet.count_flops(resnet.build("v1"))
    v15 = resnet.count_flops(resnet.build("v1.5"))
    assert v1.gmacs == pytest.approx(3.86, abs=0.01)
    assert v15.gmacs == pytest.approx(4.09, abs=0.01)
    assert v1.dense_macs == 2048 * 1000
    assert "BatchNormalization" in v1.other


def test_layer_names_follow_keras_applications():
    ours = [la.name for la in resnet.build("v1", input_shape=SMALL).layers]
    theirs = [la.name for la in keras.applications.ResNet50(weights=None, input_shape=SMALL).layers]
    assert ours == theirs


def test_v1_equals_keras_resnet50(x64):
    ref = keras.applications.ResNet50(weights=None, input_shape=SMALL, classifier_activation=None)
    ours = resnet.build("v1", input_shape=SMALL, classifier_activation=None)
    resnet.copy_weights(ref, ours)
    a, b = _logits(ref, x64), _logits(ours, x64)
    assert np.abs(a).max() > 0
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_v2_equals_keras_resnet50v2_in_keras_layout(x64):
    ref = keras.applications.ResNet50V2(weights=None, input_shape=SMALL, classifier_activation=None)
    ours = resnet.build(resnet.KERAS_V2_LAYOUT, input_shape=SMALL, classifier_activation=None)
    resnet.copy_weights(ref, ours)
    np.testing.assert_allclose(_logits(ours, x64), _logits(ref, x64), rtol=1e-5, atol=1e-5)
    # The same weights fit the first-block v2, which keeps strides 4/8/16/32.
    v2 = resnet.build("v2", input_shape=SMALL, outputs="pyramid")
    assert resnet.copy_weights(ref, v2) > 0
    out = v2.predict_on_batch(x64)
    assert {k: v.shape for k, v in out.items()} == {
        "C2": (2, 16, 16, 256),
        "C3": (2, 8, 8, 512),
        "C4": (2, 4, 4, 1024),
        "C5": (2, 2, 2, 2048),
    }


def test_perturbed_weights_change_the_output(x64):
    """The equivalence tests can fail: a different weight gives a different output."""
    ref = keras.applications.ResNet50(weights=None, input_shape=SMALL, classifier_activation=None)
    ours = resnet.build("v1", input_shape=SMALL, classifier_activation=None)
    resnet.copy_weights(ref, ours)
    kernel = ours.get_layer("conv1_conv").kernel
    kernel.assign(kernel.numpy() * 1.5)
    assert np.abs(_logits(ours, x64) - _logits(ref, x64)).max() > 1e-4


@pytest.mark.parametrize("version", ["v1", "v1.5", "v2"])
def test_pyramid_shapes_224_and_non_square(version):
    info = resnet.feature_info(version)
    assert [v["stride"] for v in info.values()] == [4, 8, 16, 32]
    assert [v["channels"] for v in info.values()] == [256, 512, 1024, 2048]
    for h, w in [(224, 224), (96, 160)]:
        model = resnet.build(version, input_shape=(h, w, 3), outputs="pyramid")
        shapes = {k: tuple(t.shape) for k, t in model.output.items()}
        assert shapes == {
            k: (None, h // v["stride"], w // v["stride"], v["channels"]) for k, v in info.items()
        }


def test_keras_v2_layout_strides():
    assert [v["stride"] for v in resnet.feature_info(resnet.KERAS_V2_LAYOUT).values()] == [
        8,
        16,
        32,
        32,
    ]


def test_features_output(x64):
    model = resnet.build("v1.5", input_shape=SMALL, outputs="features")
    assert model.predict_on_batch(x64).shape == (2, 2048)


@pytest.mark.parametrize(
    "depth,channels,params",
    [(18, 512, 11_689_512), (34, 512, 21_797_672), (101, 2048, None), (152, 2048, None)],
)
def test_other_depths(depth, channels, params, x64):
    model = resnet.build("v1.5", depth=depth, input_shape=SMALL, outputs="features")
    assert model.output.shape == (None, channels)
    if depth >= 101:
        ref_name = {101: "ResNet101", 152: "ResNet152"}[depth]
        ref = getattr(keras.applications, ref_name)(weights=None)
        assert resnet.count_params(resnet.build("v1", depth=depth)).total == ref.count_params()
    else:
        # torchvision's resnet18/34 counts (no conv bias) plus one bias per conv channel.
        full = resnet.build("v1.5", depth=depth)
        biases = sum(la.filters for la in full.layers if isinstance(la, keras.layers.Conv2D))
        assert resnet.count_params(full).total - biases == params + _bn_stats(full)


def _bn_stats(model):
    # torchvision's counts exclude BN running statistics (buffers); ours include them.
    return sum(
        2 * la.gamma.shape[0] for la in model.layers if isinstance(la, keras.layers.BatchNormalization)
    )


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_dtype_policy_is_local(policy, x64):
    before = keras.config.dtype_policy().name
    model = resnet.build("v1", input_shape=SMALL, dtype=policy)
    compute = "float32" if policy == "float32" else policy.split("_")[1]
    conv = model.get_layer("conv2_block1_2_conv")
    assert conv.compute_dtype == compute
    assert conv.kernel.dtype == "float32"
    assert keras.config.dtype_policy().name == before
    out = model.predict_on_batch(x64)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    nxt = resnet.build("v1", input_shape=SMALL)
    assert nxt.get_layer("conv2_block1_2_conv").compute_dtype == before


def test_save_and_load_keras_file(tmp_path, x64):
    model = resnet.build("v2", input_shape=SMALL)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict_on_batch(x64), model.predict_on_batch(x64), rtol=1e-6, atol=1e-6
    )


def test_transfer_learning_trains_only_the_head():
    rng = np.random.default_rng(1)
    n = 40
    labels = rng.integers(0, 10, n)
    x = rng.standard_normal((n, *SMALL)).astype("float32") * 0.1
    x[np.arange(n), labels, :, 0] += 3.0  # a learnable signal: a bright row per class
    backbone = resnet.build("v1.5", input_shape=SMALL, outputs="features")
    backbone.trainable = False
    head = keras.layers.Dense(10, name="head")
    model = keras.Sequential([backbone, head])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = [w.copy() for w in backbone.get_weights()]
    first = model.evaluate(x, labels, verbose=0)
    model.fit(x, labels, epochs=5, batch_size=8, verbose=0)
    last = model.evaluate(x, labels, verbose=0)
    assert last < first
    for a, b in zip(before, backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == 2


def test_weights_file_from_keras_applications(tmp_path, x64):
    ref = keras.applications.ResNet50(weights=None, classifier_activation=None)
    path = tmp_path / "resnet50.weights.h5"
    ref.save_weights(path)
    ours = resnet.build("v1", input_shape=SMALL, classifier_activation=None, weights=str(path))
    ref_small = keras.applications.ResNet50(weights=None, input_shape=SMALL, classifier_activation=None)
    ref_small.load_weights(path)
    np.testing.assert_allclose(_logits(ours, x64), _logits(ref_small, x64), rtol=1e-5, atol=1e-5)
    # Features-only models take the backbone part of the same file.
    feats = resnet.build("v1.5", input_shape=SMALL, outputs="features", weights=str(path))
    assert feats.predict_on_batch(x64).shape == (2, 2048)


def test_weights_file_that_does_not_fit(tmp_path):
    path = tmp_path / "v2.weights.h5"
    keras.applications.ResNet50V2(weights=None).save_weights(path)
    with pytest.raises(ValueError, match="does not fit"):
        resnet.build("v1", weights=str(path))
    with pytest.raises(ValueError, match="not found"):
        resnet.build("v1", weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="depth-18"):
        resnet.build("v1", depth=18, weights=str(path))


def test_imagenet_offline_gives_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    import keras.src.applications.resnet as kr

    monkeypatch.setattr(kr.file_utils, "get_file", offline)
    with pytest.raises(RuntimeError, match=r"ImageNet weights.*offline"):
        resnet.build("v1", weights="imagenet")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"version": "v3"}, "unknown version 'v3'; valid versions: v1, v1.5, v2"),
        ({"depth": 42}, "unknown depth 42; valid depths: 18, 34, 50, 101, 152"),
        ({"input_shape": (16, 16, 3)}, "too small"),
        ({"input_shape": (224, 31, 3)}, "at least 32"),
        ({"classes": 0}, "classes must be a positive integer"),
        ({"outputs": "logits"}, "unknown outputs 'logits'"),
        ({"pooling": "sum"}, "unknown pooling 'sum'"),
        ({"dtype": "float64"}, "unknown dtype 'float64'"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        resnet.build(**kwargs)
    assert "\n" not in str(info.value)


#: Where TensorFlow-specific code belongs: one class per backend, tf.data (TensorFlow's own
#: input pipeline, beside the PIL one), and the TFRecord shards of the generated data set.
BACKEND_SPECIFIC = {"engine/backends/tensorflow.py", "engine/kinds/pipelines.py", "data.py"}


def test_package_imports_nothing_tensorflow_specific():
    """Every module of the package, engine included, but the per-backend classes."""
    import pathlib

    root = pathlib.Path(resnet.__file__).parent
    modules = {p.relative_to(root).as_posix(): p for p in root.rglob("*.py")}
    assert BACKEND_SPECIFIC <= set(modules)  # renamed? then this check must follow it
    assert "engine/worker/core.py" in modules and "runs/reading.py" in modules
    for name, path in modules.items():
        if name in BACKEND_SPECIFIC:
            continue
        text = path.read_text()
        assert "import tensorflow" not in text, name
        assert "tf." not in text, name
