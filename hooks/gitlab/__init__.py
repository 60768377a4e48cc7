"""Where GitLab is called: the rate-limited gateway, the API operations, `install-webhook`."""
