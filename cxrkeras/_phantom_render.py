"""Drawing one synthetic chest X-ray phantom with vectorised NumPy (used by phantoms.py).

Coordinates are isotropic: lengths are fractions of the shorter image side, so a wide
image shows more background beside the same-shaped chest rather than a stretched one.
Brighter means more attenuation (bone, heart, consolidation); air-filled lungs are dark.
"""

from __future__ import annotations

import cv2
import numpy as np


def sample_patient(rng: np.random.Generator, subtype: str) -> dict:
    """Anatomy and lesion of one synthetic patient, shared by all of their images."""
    patient = {
        "subtype": subtype,
        "body": (rng.uniform(0.40, 0.46), rng.uniform(0.52, 0.60)),
        "lung_dx": rng.uniform(0.17, 0.195),
        "lung_cy": rng.uniform(-0.05, 0.0),
        "lung_ab": (rng.uniform(0.13, 0.15), rng.uniform(0.26, 0.31)),
        "heart": (
            rng.uniform(0.04, 0.07),
            rng.uniform(0.13, 0.16),
            rng.uniform(0.13, 0.16),
            rng.uniform(0.10, 0.125),
        ),
        "lung_dark": rng.uniform(0.28, 0.34),
        "rib_spacing": rng.uniform(0.075, 0.09),
        "rib_phase": rng.uniform(0.0, 1.0),
    }
    if subtype == "bacteria":
        side = -1.0 if rng.random() < 0.5 else 1.0
        # Centre inside the lung ellipse, in lung-normalised coordinates (radius < 0.55).
        radius, angle = 0.55 * float(np.sqrt(rng.random())), rng.uniform(0, 2 * np.pi)
        lobes = [(float(du), float(dv)) for du, dv in rng.normal(0.0, 0.025, size=(3, 2))]
        patient["lesion"] = {
            "side": side,
            "centre": (radius * float(np.cos(angle)), radius * float(np.sin(angle))),
            "offsets": lobes,
            "sigma": rng.uniform(0.05, 0.07),
            "strength": rng.uniform(0.4, 0.55),
        }
    elif subtype == "virus":
        patient["lesion"] = {
            "strength": rng.uniform(0.17, 0.24),
            "texture_seed": int(rng.integers(2**31)),
        }
    return patient


def _soft(distance: np.ndarray, edge: float) -> np.ndarray:
    """Soft inside indicator: 1 well inside (distance < 1), 0 outside, ramp of ``edge``."""
    return np.clip((1.0 - distance) / edge + 0.5, 0.0, 1.0)


def _lungs(patient: dict, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, list]:
    """Soft lung-field image in [0, 1] and each lung's normalised coordinates."""
    a, b = patient["lung_ab"]
    cy = patient["lung_cy"]
    fields, coords = np.zeros_like(u), []
    for side in (-1.0, 1.0):
        ny = (v - cy) / b
        # Lungs widen towards the diaphragm: the half-width grows with depth.
        width = a * (0.8 + 0.25 * np.clip(ny, -1.0, 1.0))
        nx = (u - side * patient["lung_dx"]) / width
        field = _soft(np.sqrt(nx * nx + ny * ny), 0.08)
        fields = np.maximum(fields, field)
        coords.append((side, nx, ny, field))
    return fields, coords


def _lesion(patient: dict, coords: list, lungs: np.ndarray, shape) -> np.ndarray:
    """Lesion opacity (before exposure) confined to the lung fields."""
    lesion = patient["lesion"]
    if patient["subtype"] == "bacteria":
        a, b = patient["lung_ab"]
        _, nx, ny, field = next(c for c in coords if c[0] == lesion["side"])
        # Back to isotropic units so the blob stays round: nx is scaled by ~a, ny by b.
        du, dv = (nx - lesion["centre"][0]) * a, (ny - lesion["centre"][1]) * b
        blob = np.zeros_like(lungs)
        for off_u, off_v in lesion["offsets"]:
            d2 = (du - off_u) ** 2 + (dv - off_v) ** 2
            blob = np.maximum(blob, np.exp(-d2 / (2 * lesion["sigma"] ** 2)))
        blob *= field  # confined to its own lung
        return lesion["strength"] * blob
    texture_rng = np.random.default_rng(lesion["texture_seed"])
    height, width = shape
    small = texture_rng.random((max(2, height // 4), max(2, width // 4)), dtype=np.float32)
    texture = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    # Bilateral, heavier in the lower and perihilar zones.
    weight = 0.0
    for _, nx, ny, _ in coords:
        weight = weight + np.clip(0.55 + 0.45 * ny, 0, 1) * np.clip(1.2 - 0.5 * np.abs(nx), 0, 1)
    haze = np.clip(weight, 0, 1) * lungs * (0.6 + 0.8 * texture)
    return lesion["strength"] * haze


def render_phantom(patient: dict, shape: tuple[int, int], rng: np.random.Generator):
    """``(image, lesion_mask, lung_mask)``: float32 ``(H, W)`` in [0, 1], two uint8 0/255."""
    height, width = shape
    side = float(min(height, width))
    y = (np.arange(height, dtype=np.float32) + 0.5 - height / 2) / side
    x = (np.arange(width, dtype=np.float32) + 0.5 - width / 2) / side
    xx, yy = np.meshgrid(x, y)
    # Pose jitter: small rotation, shift and scale of the chest.
    # Python floats keep every array below in float32.
    angle = float(np.deg2rad(rng.uniform(-5, 5)))
    shift_x, shift_y = (float(s) for s in rng.uniform(-0.03, 0.03, size=2))
    scale = rng.uniform(0.94, 1.06)
    cos, sin = float(np.cos(angle)) / scale, float(np.sin(angle)) / scale
    xs, ys = xx - shift_x, yy - shift_y
    u = cos * xs + sin * ys
    v = cos * ys - sin * xs

    body_a, body_b = patient["body"]
    # Superellipse |x|^2.5 + |y|^2.5 < 1 for the body outline (x^2.5 = x * x * sqrt(x)).
    bx, by = np.abs(u) / body_a, np.abs(v - 0.08) / body_b
    body = _soft(bx * bx * np.sqrt(bx) + by * by * np.sqrt(by), 0.15)
    lungs, coords = _lungs(patient, u, v)
    hx, hy, ha, hb = patient["heart"]
    heart = _soft(np.sqrt(((u - hx) / ha) ** 2 + ((v - hy) / hb) ** 2), 0.15)
    spine = np.exp(-((u / 0.035) ** 2)) * (0.85 + 0.15 * np.cos(2 * np.pi * v / 0.06))
    phase = (v - 0.9 * u * u) / patient["rib_spacing"] + patient["rib_phase"]
    ribs = np.clip((np.cos(2 * np.pi * phase) - 0.55) / 0.45, 0, 1)
    rib_zone = (np.abs(u) > 0.03) * _soft(np.abs(v - patient["lung_cy"]) / 0.34, 0.2)

    # The heart shadow hides the lung behind it.
    image = 0.06 + 0.5 * body - patient["lung_dark"] * lungs * (1 - 0.8 * heart) * body
    image += (0.06 * heart + 0.18 * spine + 0.08 * ribs * rib_zone * (0.5 + 0.5 * lungs)) * body
    mask = np.zeros(shape, np.uint8)
    if "lesion" in patient:
        lesion = _lesion(patient, coords, lungs, shape)
        image += lesion * body
        threshold = 0.5 * float(lesion.max()) if lesion.max() > 0 else np.inf
        mask[(lesion >= threshold) & (lungs > 0.5)] = 255

    # Exposure and contrast (windowing) vary per image, then gamma and quantum noise.
    gain, offset = rng.uniform(0.75, 1.25), rng.uniform(-0.12, 0.12)
    image = np.clip(gain * (image - 0.35) + 0.35 + offset, 0.0, 1.0)
    image = cv2.pow(image.astype(np.float32), rng.uniform(0.8, 1.25))
    image += rng.uniform(0.01, 0.035) * rng.standard_normal(shape, dtype=np.float32)
    image = cv2.GaussianBlur(image, (0, 0), 0.6)
    lung_mask = np.where(lungs > 0.5, 255, 0).astype(np.uint8)
    return np.clip(image, 0.0, 1.0).astype(np.float32), mask, lung_mask
