"""Where the grid lies on a map: grid units to latitude/longitude, countries and cities.

The published design places customers and terminals on an abstract 100 x 100 square. Here
that square covers western and central Europe (latitude 43.5-54, longitude -1-17, about
1,300 km across, so the radius of 5 units is about 65 km), and each point takes the country
and name of its nearest city among the seeds below. Every seed country uses the euro, so
all amounts share one currency, as in the published design.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

LAT_RANGE: Final = (43.5, 54.0)
LON_RANGE: Final = (-1.0, 17.0)
CURRENCY: Final = "EUR"

# (country, city, latitude, longitude)
CITIES: Final[tuple[tuple[str, str, float, float], ...]] = (
    ("FR", "Paris", 48.857, 2.352), ("FR", "Lille", 50.629, 3.057),
    ("FR", "Orleans", 47.903, 1.909), ("FR", "Lyon", 45.764, 4.836),
    ("FR", "Dijon", 47.322, 5.041), ("FR", "Strasbourg", 48.573, 7.752),
    ("FR", "Reims", 49.258, 4.032), ("FR", "Clermont-Ferrand", 45.778, 3.087),
    ("FR", "Limoges", 45.833, 1.262), ("FR", "Bordeaux", 44.838, -0.579),
    ("FR", "Grenoble", 45.188, 5.724), ("FR", "Montpellier", 43.611, 3.877),
    ("DE", "Berlin", 52.520, 13.405), ("DE", "Hamburg", 53.551, 9.994),
    ("DE", "Munich", 48.137, 11.576), ("DE", "Frankfurt", 50.110, 8.682),
    ("DE", "Cologne", 50.938, 6.960), ("DE", "Stuttgart", 48.776, 9.183),
    ("DE", "Leipzig", 51.340, 12.375), ("DE", "Hanover", 52.376, 9.732),
    ("DE", "Nuremberg", 49.452, 11.077), ("DE", "Dresden", 51.050, 13.738),
    ("DE", "Dortmund", 51.514, 7.468), ("DE", "Bremen", 53.079, 8.801),
    ("BE", "Brussels", 50.850, 4.352), ("BE", "Antwerp", 51.219, 4.402),
    ("BE", "Liege", 50.633, 5.567), ("NL", "Amsterdam", 52.370, 4.895),
    ("NL", "Rotterdam", 51.924, 4.478), ("NL", "Eindhoven", 51.441, 5.470),
    ("NL", "Groningen", 53.219, 6.567), ("LU", "Luxembourg", 49.612, 6.130),
    ("AT", "Vienna", 48.208, 16.373), ("AT", "Salzburg", 47.809, 13.055),
    ("AT", "Innsbruck", 47.269, 11.404), ("AT", "Graz", 47.071, 15.439),
    ("AT", "Linz", 48.306, 14.286), ("IT", "Milan", 45.464, 9.190),
    ("IT", "Turin", 45.070, 7.687), ("IT", "Venice", 45.441, 12.316),
    ("IT", "Verona", 45.438, 10.992), ("IT", "Bologna", 44.494, 11.343),
    ("IT", "Genoa", 44.405, 8.946), ("SI", "Ljubljana", 46.056, 14.506),
)  # fmt: skip

# Far from the grid: where account takeovers are run from.
FOREIGN: Final[tuple[tuple[str, str, float, float], ...]] = (
    ("US", "New York", 40.713, -74.006), ("BR", "Sao Paulo", -23.551, -46.633),
    ("NG", "Lagos", 6.524, 3.379), ("RU", "Moscow", 55.756, 37.617),
    ("CN", "Shanghai", 31.230, 121.474), ("ID", "Jakarta", -6.208, 106.846),
    ("VN", "Hanoi", 21.028, 105.834), ("UA", "Kyiv", 50.450, 30.523),
    ("TR", "Istanbul", 41.008, 28.978), ("IN", "Mumbai", 19.076, 72.878),
)  # fmt: skip

_CITY_LAT = np.array([c[2] for c in CITIES])
_CITY_LON = np.array([c[3] for c in CITIES])

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def to_latlon(x: Floats, y: Floats) -> tuple[Floats, Floats]:
    """Grid coordinates to (lat, lon), rounded to the microdegree the feature state keeps."""
    lat = LAT_RANGE[0] + y * (LAT_RANGE[1] - LAT_RANGE[0]) / 100.0
    lon = LON_RANGE[0] + x * (LON_RANGE[1] - LON_RANGE[0]) / 100.0
    return np.round(lat, 6), np.round(lon, 6)


def nearest_city(lat: Floats, lon: Floats) -> Ints:
    """Index into ``CITIES`` of the nearest seed (equirectangular distance: fine at 1,300 km)."""
    scale = np.cos(np.radians(49.0))
    d2 = (lat[:, None] - _CITY_LAT) ** 2 + ((lon[:, None] - _CITY_LON) * scale) ** 2
    nearest: Ints = np.argmin(d2, axis=1).astype(np.int64)
    return nearest
