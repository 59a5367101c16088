"""Shared constants and helpers for the Dongli district build scripts.

Every script in this folder is deterministic: run it with ``.venv/bin/python data/streets/build/<x>.py``
from the repository root (or anywhere) and it rewrites its files byte-identically.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

BUILD = Path(__file__).resolve().parent
OUT = BUILD.parent  # data/streets/
RAW = BUILD / "raw"  # the sourced inputs, unchanged (adcode by Vonng, CC BY 4.0; raw/README.md)
OUTLINE_GCJ = RAW / "district_outline_120110.json"
DIVISIONS = RAW / "divisions_120110.csv"

BASE_YEAR = 2020
LAST_YEAR = 2035
MAX_AGE = 100
SEXES = ("male", "female")

# census check figures (Tianjin 7th census bulletin, via zh.wikipedia; see SOURCES.md)
CENSUS_TOTAL = 857_027
MALE_SHARE = 0.5287
SHARE_0_14 = 0.1302
SHARE_15_59 = 0.6867
SHARE_60_PLUS = 0.1831
SHARE_65_PLUS = 0.1174

# Tianjin crude birth rate 2020 (facts: Tianjin statistical yearbook 2024 / 2020 bulletin, SOURCES.md
# [Tianjin births]); the fertility rates give Dongli this rate in the base year.
CBR_TIANJIN_2020 = 5.99 / 1000
# sex ratio at birth (boys per girl, NBS 7th census bulletin) and the infant death probabilities q_0
# of mortality.csv (assumed): the base year's age 0 are the births of the year times 1 - q_0.
SRB = 1.113
Q0 = {"male": 0.0030, "female": 0.0026}

STREETS = pd.DataFrame(
    [
        ("120110001", "张贵庄", "Zhangguizhuang"),
        ("120110002", "丰年村", "Fengniancun"),
        ("120110003", "万新", "Wanxin"),
        ("120110004", "无瑕", "Wuxia"),
        ("120110005", "新立", "Xinli"),
        ("120110006", "华明", "Huaming"),
        ("120110007", "金钟", "Jinzhong"),
        ("120110008", "军粮城", "Junliangcheng"),
        ("120110009", "金桥", "Jinqiao"),
        ("120110010", "华新", "Huaxin"),
        ("120110011", "东丽湖", "Donglihu"),
    ],
    columns=["street", "name_zh", "name_pinyin"],
)
STREET_IDS = tuple(STREETS["street"])
CODE = dict(zip(STREETS["name_zh"], STREETS["street"], strict=True))

# the plan's growth streets (new kindergartens: 华明, 金桥, 万新, 新立, 东丽湖; new primary and
# junior schools: 东丽湖, 金钟, 华新)
GROWTH = ("华明", "金桥", "万新", "新立", "东丽湖", "金钟", "华新")
OLD_URBAN = ("张贵庄", "丰年村")


# ------------------------------------------------------------------ GCJ-02 <-> WGS-84
_A = 6378245.0
_EE = 0.00669342162296594323


def _tlat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _tlon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lon, lat):
    """The published GCJ-02 forward transform (WGS-84 -> GCJ-02), vectorised."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlat = _tlat(lon - 105.0, lat - 35.0)
    dlon = _tlon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat, tol=1e-10, max_iter=30):
    """Inverse of :func:`wgs84_to_gcj02` by fixed-point iteration (converges to < 1e-9 degrees).

    The forward transform is itself a published reconstruction of the official algorithm, good to
    about a metre; the iteration adds no error of its own beyond ~1e-4 m.
    """
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = flon - glon, flat - glat
        wlon, wlat = wlon - dlon, wlat - dlat
        if max(np.max(np.abs(dlon)), np.max(np.abs(dlat))) < tol:
            break
    return wlon, wlat


def fmt_bool(series: pd.Series) -> pd.Series:
    return series.map({True: "true", False: "false"})


def write_csv(frame: pd.DataFrame, name: str, float_format: str | None = None) -> None:
    frame.to_csv(OUT / name, index=False, lineterminator="\n", float_format=float_format)
