"""What hyper's HTTP/1.1 and HTTP/2 sides share."""
