"""Where a webhook comes in: POST /webhook, its token and signature checks."""
