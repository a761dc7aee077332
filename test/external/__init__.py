"""pytest plugins that run other projects' test suites against hyper (not collected here)."""
