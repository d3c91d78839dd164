from lecnn.cli import main

raise SystemExit(main())
