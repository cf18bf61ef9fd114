"""Settings of bench/load.py's server: the product's, with the bare baseline's URLs."""

from loyaltysite.settings import *  # noqa: F403
from loyaltysite.settings import VAR_DIR

ROOT_URLCONF = "load_urls"
# The pages need collected static files with DEBUG off; these are the benchmark's own.
STATIC_ROOT = VAR_DIR / "bench-static"
