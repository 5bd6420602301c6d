"""What keeps one client from taking a classroom server down: body limits, security headers,
per-address rates, the heavy-call pool and work estimates."""
