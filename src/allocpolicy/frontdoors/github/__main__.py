import sys

from allocpolicy.frontdoors.github import main

sys.exit(main(sys.argv[1:]))
