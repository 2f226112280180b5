import sys

from tuirnn.cli import main

sys.exit(main())
