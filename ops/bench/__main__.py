import sys

from ops.bench.harness import main

sys.exit(main())
