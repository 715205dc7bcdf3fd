import sys

from sigma_sn.cli import main

sys.exit(main())
