"""Entry point of a detect worker process (see seawall.detect.parallel.Workers)."""

import sys

from seawall.detect.parallel import serve

if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
