"""hyper's HTTP/2 implementation: the sans-IO engine and its front-ends."""
