"""One fine-tuned MobileNet 0.25 on held-out patients, and probes for the test-split shift.

The exploratory runs behind the presets: one network (no ensemble), a cosine schedule
over ``--epochs``, balanced class weights, and one of three augmentations. Binary runs
are scored on the held-out patients (threshold by Youden's J on validation patients, and
at 0.5) and on three altered copies of the held-out images that mimic a shift of the
NORMAL images: ``swap`` narrows NORMAL images by 0.81 and widens PNEUMONIA images by
1.23 (the ratio of the classes' median aspect ratios in the original radiographs, so a
model that read the class off the squashed anatomy would fail), ``blurN`` blurs NORMAL
images (Gaussian sigma 1.5 px) and ``gammaN`` brightens them (gamma 0.7). A model that
relied on aspect, sharpness or exposure would lose specificity on these.

    python benchmarks/finetune_probes.py --augment mild --epochs 4
    python benchmarks/finetune_probes.py --augment robust --epochs 4
    python benchmarks/finetune_probes.py --augment robust --epochs 6 --three-class
    python benchmarks/finetune_probes.py --backbone mobilenetv2 --epochs 1   # cost only
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import f1_score, recall_score, roc_auc_score, roc_curve  # noqa: E402

import cxrkeras  # noqa: E402
from cxrkeras.presets import weight_file_name  # noqa: E402

AUGMENTS = {
    "none": None,
    "mild": {"rotation_range": 10, "width_shift_range": 0.1, "height_shift_range": 0.1,
             "zoom_range": 0.1},
    "robust": {"rotation_range": 10, "width_shift_range": 0.1, "height_shift_range": 0.1,
               "zoom_range": (0.75, 1.3), "brightness_range": (0.7, 1.3)},
}  # fmt: skip
ALPHA = {"mobilenet": 0.25, "mobilenetv2": 1.0}
SUBTYPES = {"normal": 0, "bacteria": 1, "virus": 2}


def load(table, split: str, size: int) -> np.ndarray:
    rows = table[table["split"] == split]
    images = [cv2.resize(cv2.imread(p, cv2.IMREAD_GRAYSCALE), (size, size),
                         interpolation=cv2.INTER_AREA) for p in rows["path"]]  # fmt: skip
    return np.stack(images).astype("float32") / 255


def hscale(image: np.ndarray, factor: float) -> np.ndarray:
    """Scale the width by ``factor``, then crop or pad (edge pixels) back to square."""
    size = image.shape[0]
    width = int(round(size * factor))
    resized = cv2.resize(image, (width, size), interpolation=cv2.INTER_AREA)
    if width >= size:
        left = (width - size) // 2
        return resized[:, left : left + size]
    left = (size - width) // 2
    return cv2.copyMakeBorder(resized, 0, 0, left, size - width - left, cv2.BORDER_REPLICATE)


def figures(scores, labels, threshold) -> dict:
    pred = scores >= threshold
    return {
        "accuracy": float((pred == labels).mean()),
        "sensitivity": float(pred[labels == 1].mean()),
        "specificity": float((~pred)[labels == 0].mean()),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "specificity@0.5": float((scores < 0.5)[labels == 0].mean()),
        "accuracy@0.5": float(((scores >= 0.5) == labels).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data/chest_xray")
    parser.add_argument("--weights-dir", default="../shared/weights")
    parser.add_argument("--augment", default="mild", choices=list(AUGMENTS))
    parser.add_argument("--backbone", default="mobilenet", choices=list(ALPHA))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--three-class", action="store_true")
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    size, three = args.image_size, args.three_class
    stratify = "subtype" if three else "label"
    table = cxrkeras.holdout_split(
        cxrkeras.scan(args.data), test_fraction=0.2, seed=args.seed, stratify=stratify
    )
    label_mode = "three_class" if three else "binary"
    common = {"image_size": size, "label_mode": label_mode, "cache": True}
    train = cxrkeras.make_dataset(table, split="train", batch_size=32, shuffle=True,
                                  seed=args.seed, augment=AUGMENTS[args.augment], **common)  # fmt: skip
    val = cxrkeras.make_dataset(table, split="val", batch_size=64, **common)
    alpha = ALPHA[args.backbone]
    weights = os.path.join(args.weights_dir, weight_file_name(args.backbone, alpha))
    model = cxrkeras.transfer_classifier(
        args.backbone, input_shape=(size, size, 1), weights=weights, alpha=alpha,
        freeze_backbone=False, num_classes=3 if three else 1,
    )  # fmt: skip
    train_rows = table[table["split"] == "train"]
    steps = int(np.ceil(len(train_rows) / 32)) * args.epochs
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)
    loss = "categorical_crossentropy" if three else "binary_crossentropy"
    model.compile(keras.optimizers.Adam(schedule), loss, metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(train, validation_data=val, epochs=args.epochs, verbose=2, shuffle=False,
              class_weight=cxrkeras.class_weights(table, label_mode=label_mode, split="train"))  # fmt: skip
    result = {"args": vars(args), "train_seconds": round(time.perf_counter() - start)}

    def predict(images):
        return model.predict(images[..., None], batch_size=64, verbose=0)

    test = load(table, "test", size)
    test_rows = table[table["split"] == "test"]
    if three:
        truth = test_rows["subtype"].map(SUBTYPES).to_numpy()
        probs = predict(test)
        pred = probs.argmax(1)
        result.update(
            accuracy=float((pred == truth).mean()),
            macro_f1=float(f1_score(truth, pred, average="macro")),
            recall=recall_score(truth, pred, average=None).round(3).tolist(),
            normal_vs_pneumonia_auc=float(roc_auc_score(truth > 0, 1 - probs[:, 0])),
        )
    else:
        labels = (test_rows["label"] == "PNEUMONIA").to_numpy().astype(int)
        val_rows = table[table["split"] == "val"]
        y_val = (val_rows["label"] == "PNEUMONIA").to_numpy().astype(int)
        fpr, tpr, thresholds = roc_curve(y_val, predict(load(table, "val", size)).ravel())
        threshold = float(thresholds[np.argmax(tpr - fpr)])
        probes = {
            "held": test,
            "swap": np.stack([hscale(x, 0.81 if y == 0 else 1.23) for x, y in zip(test, labels, strict=True)]),
            "blurN": np.stack([cv2.GaussianBlur(x, (0, 0), 1.5) if y == 0 else x for x, y in zip(test, labels, strict=True)]),
            "gammaN": np.stack([x**0.7 if y == 0 else x for x, y in zip(test, labels, strict=True)]),
        }  # fmt: skip
        result["threshold"] = threshold
        for name, images in probes.items():
            result[name] = figures(predict(images).ravel(), labels, threshold)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
