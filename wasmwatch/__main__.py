import sys

from wasmwatch.cli import main

sys.exit(main())
