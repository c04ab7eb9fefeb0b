"""``python -m atc_desktop`` starts the app."""
import sys

from atc_desktop.app import main

sys.exit(main())
