"""The operator's files: the discovery manifest and the gateway config, validated once at start."""
