from pim_engine.cli import main

raise SystemExit(main())
