import sys

from queuecast.cli import main

sys.exit(main())
