"""Started in every Python process a test starts: it follows the suite's AVIS_TEST_NOW clock."""

import os
import sys

if os.environ.get("AVIS_TEST_NOW"):
    _checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, _checkout)
    try:
        from tests.clock import start_travel
    finally:
        sys.path.remove(_checkout)
    start_travel()
