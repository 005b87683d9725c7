from pim_console.cli import main

raise SystemExit(main())
