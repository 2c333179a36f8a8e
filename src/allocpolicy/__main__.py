from allocpolicy.cli import main

raise SystemExit(main())
