from lecnn.entry import main

raise SystemExit(main())
