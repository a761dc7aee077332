"""What the tests share (no tests here); test/README.rst lists the modules."""
