from pim_operator.cli import main

raise SystemExit(main())
