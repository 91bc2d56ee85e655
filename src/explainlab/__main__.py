from explainlab.cli import main

raise SystemExit(main())
