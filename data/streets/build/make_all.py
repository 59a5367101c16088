"""Rebuild every file of data/streets/ in order (deterministic): .venv/bin/python data/streets/build/make_all.py"""

from __future__ import annotations

import make_district
import make_population
import make_rates
import make_streets
import make_supply

if __name__ == "__main__":
    for mod in (make_streets, make_district, make_population, make_rates, make_supply):
        mod.main()
