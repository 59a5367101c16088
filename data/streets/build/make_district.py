"""district.toml and levels.csv (sourced figures only; see SOURCES.md)."""

from __future__ import annotations

import pandas as pd
from common import (
    BASE_YEAR,
    CENSUS_TOTAL,
    LAST_YEAR,
    MALE_SHARE,
    OUT,
    SHARE_0_14,
    SHARE_15_59,
    SHARE_60_PLUS,
    SHARE_65_PLUS,
)

TOML = f'''# Dongli District (东丽区), Tianjin. Sources: SOURCES.md
name = "Dongli District"
name_zh = "东丽区"
code = "120110"
base_year = {BASE_YEAR}
last_year = {LAST_YEAR}
# NBS 7th census bulletin, China 2020: 111.3 boys per 100 girls
birth_sex_ratio = 1.113
crs_note = "EPSG:4326 (WGS-84), converted from the GCJ-02 coordinates of Vonng/adcode (CC BY 4.0) with the iterative inverse of the published GCJ-02 transform (~1 m); street polygons are approximate (Voronoi), the district outline is real"

# Dongli, 7th census, 1 Nov 2020 (Tianjin census bulletin, via zh.wikipedia)
[census]
total = {CENSUS_TOTAL}
male_share = {MALE_SHARE}
age_0_14 = {SHARE_0_14}
age_15_59 = {SHARE_15_59}
age_60_plus = {SHARE_60_PLUS}
age_65_plus = {SHARE_65_PLUS}
# modelling choice: population.csv may differ from each figure above by at most 5% (relative);
# capacity checks it on every load (an error beyond, a warning within)
tolerance = 0.05
'''


def main() -> None:
    (OUT / "district.toml").write_text(TOML, encoding="utf-8")
    # the senior stage (高中阶段) has two kinds of school for the same ages: general senior high
    # (普通高中, level "senior") and secondary vocational (中职, level "vocational"); the scenario's
    # enrolment rate of the stage is split between them by the scenario's vocational share
    pd.DataFrame(
        {"level": ["kindergarten", "primary", "junior", "senior", "vocational"],
         "name_zh": ["幼儿园", "小学", "初中", "普通高中", "中职"],
         "first_age": [3, 6, 12, 15, 15], "last_age": [5, 11, 14, 17, 17],
         "stage": ["kindergarten", "primary", "junior", "senior_stage", "senior_stage"]}
    ).to_csv(OUT / "levels.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
