"""Weights: copy by layer name, and load keras.applications weight files."""

from __future__ import annotations

from typing import Any

import keras

from resnet.specs import ResNetSpec

_REFERENCE = {
    (False, 50): "ResNet50",
    (False, 101): "ResNet101",
    (False, 152): "ResNet152",
    (True, 50): "ResNet50V2",
    (True, 101): "ResNet101V2",
    (True, 152): "ResNet152V2",
}


def reference_name(spec: ResNetSpec) -> str:
    """The keras.applications model whose weights fit ``spec`` by name and shape."""
    key = (spec.preact, spec.depth)
    if key not in _REFERENCE:
        raise ValueError(
            f"no keras.applications weights for a depth-{spec.depth} ResNet; "
            "weight files exist for depths 50, 101 and 152"
        )
    return _REFERENCE[key]


def copy_weights(source: keras.Model, target: keras.Model) -> int:
    """Copy every weighted layer of ``target`` from the layer of the same name in
    ``source``.  Returns how many layers were copied; raises ValueError on a
    missing layer or a shape that does not match."""
    by_name = {layer.name: layer for layer in source.layers}
    copied = 0
    for layer in target.layers:
        if not layer.weights:
            continue
        src = by_name.get(layer.name)
        if src is None:
            raise ValueError(f"weights do not fit: no layer {layer.name!r} in {source.name!r}")
        values = src.get_weights()
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(v.shape) for v in values]
        if want != got:
            raise ValueError(
                f"weights do not fit: layer {layer.name!r} needs shapes {want}, {source.name!r} has {got}"
            )
        layer.set_weights(values)
        copied += 1
    return copied


def _reference_model(spec: ResNetSpec, model: keras.Model, weights: Any, top: bool) -> keras.Model:
    app = getattr(keras.applications, reference_name(spec))
    kwargs: dict[str, Any] = {"weights": weights, "include_top": top}
    if top:
        dense = next((la for la in model.layers if la.name == "predictions"), None)
        if dense is not None:
            kwargs["classes"] = int(dense.units)
    else:
        kwargs["input_shape"] = (None, None, int(model.input.shape[-1]))
    return app(**kwargs)


def load_weights(model: keras.Model, spec: ResNetSpec, weights: str) -> None:
    """Load ``weights`` ("imagenet" or a keras.applications weights file) into
    ``model`` by layer name."""
    has_top = any(la.name == "predictions" for la in model.layers)
    if weights == "imagenet":
        try:
            ref = _reference_model(spec, model, "imagenet", has_top)
        except (OSError, ValueError, Exception) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise RuntimeError(
                f"could not get the ImageNet weights of keras.applications."
                f"{reference_name(spec)} (offline?): {first}; pass a local weights file instead"
            ) from err
        copy_weights(ref, model)
        return
    import os

    if not os.path.isfile(str(weights)):
        raise ValueError(f"weights file {weights!r} not found; pass None, 'imagenet' or a path")
    errors = []
    for top in (has_top, not has_top):
        ref = _reference_model(spec, model, None, top)
        try:
            ref.load_weights(weights)
        except Exception as err:
            errors.append(str(err).strip().splitlines()[0] if str(err).strip() else repr(err))
            continue
        copy_weights(ref, model)
        return
    raise ValueError(
        f"weights file {weights!r} does not fit keras.applications.{reference_name(spec)}: {errors[0]}"
    )
